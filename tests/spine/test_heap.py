"""The long-lived heap is collected once, then left out of the cyclic collector's passes
(``threenines.core.heap``); a reload's unfreeze reclaims what the replaced objects held."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from threenines.core import heap


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()  # a service run earlier in this process froze its heap
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_what_survives_a_settle_is_left_out_of_later_passes() -> None:
    node = _Node()
    alive = weakref.ref(node)
    heap.settle()
    assert gc.get_freeze_count() > 0
    del node
    gc.collect()
    assert alive() is not None  # frozen: a full pass does not walk it


def test_a_settle_after_a_reload_reclaims_the_replaced_objects() -> None:
    node = _Node()
    alive = weakref.ref(node)
    heap.settle()
    del node  # the old config's objects, dropped by a reload
    heap.settle(again=True)
    assert alive() is None


def test_garbage_made_before_the_settle_is_collected_not_frozen() -> None:
    node = _Node()
    dead = weakref.ref(node)
    del node
    heap.settle()
    assert dead() is None


async def test_the_first_round_settle_waits_for_the_longest_interval() -> None:
    stopping = asyncio.Event()
    stopping.set()  # stopping before the first round: no settle, no wait
    await asyncio.wait_for(heap.settle_after_first_round(60.0, stopping), 1.0)
    assert gc.get_freeze_count() == 0
