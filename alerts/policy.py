"""The alert policy: ``decide(state, inputs, now, ctx) -> Decision``. Pure: no I/O, no clock.

Contract: given the previous ``PolicyState``, a batch of inputs (condition updates, events,
acks, resolves, silences) and ``now``, return the new state, the incidents that changed (to
persist) and the notifications to deliver or, when ``held``, only to record. Calling it with
no inputs advances timers (group flushes, escalation, reminders, expiry). It never raises
for bad input: problems (acking an unknown incident) come back in ``Decision.errors``.

Rules, in the modules that implement them:
- lifecycle: open -> acknowledged -> resolved, re-open within ``reopen_window``, flapping;
- grouping: per route and site, ``group_wait`` / ``group_interval``; children of a firing
  parent are listed in the parent's notification; recoveries are never held;
- matching: silences, maintenance windows, routes with time-of-day;
- timers: escalation when a critical stays unacknowledged, reminders, event expiry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from threenines.alerts import grouping, lifecycle, timers
from threenines.alerts.model import (
    Ack,
    AddSilence,
    AlertEvent,
    ConditionUpdate,
    Decision,
    Input,
    PolicyState,
    RemoveSilence,
    Resolve,
)
from threenines.alerts.work import PolicyContext, Work

__all__ = ["PolicyContext", "decide"]


def _apply(w: Work, item: Input) -> None:
    if isinstance(item, ConditionUpdate):
        lifecycle.apply_condition(w, item)
    elif isinstance(item, AlertEvent):
        lifecycle.apply_event(w, item)
    elif isinstance(item, Ack):
        lifecycle.apply_ack(w, item)
    elif isinstance(item, Resolve):
        lifecycle.apply_resolve(w, item)
    elif isinstance(item, AddSilence):
        w.silences[item.silence.id] = item.silence
    elif isinstance(item, RemoveSilence):
        s = w.silences.get(item.id)
        if s is None:
            w.errors.append(f"no active silence {item.id!r}")
        else:
            w.silences[item.id] = replace(s, removed=True)
    else:  # pragma: no cover - the type says this cannot happen
        w.errors.append(f"unknown input {type(item).__name__}")


def decide(state: PolicyState, inputs: Iterable[Input], now: float, ctx: PolicyContext) -> Decision:
    w = Work(state, now, ctx)
    for item in inputs:
        _apply(w, item)
    timers.run(w)
    grouping.flush(w)
    return w.result()
