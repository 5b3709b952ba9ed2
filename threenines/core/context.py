"""The service context: what one running ``threenines run`` holds, passed explicitly to plug-ins.

Areas plug into the service through an *extension*: the ``setup(ctx)`` hook of their ``Area``
(``threenines.core.area``), run in the composition root's order. In ``setup`` an area may
- subscribe to state changes: ``ctx.subscribe_flips(on_flips)`` (see ``threenines.core.writer``;
  ``singleton=True``: only while this node is active);
- listen to every counted result: ``ctx.on_result.append(fn)`` (``fn(record, job)``, non-blocking);
- add a long-running background task: ``ctx.add_task("snmp-poll", factory)`` where ``factory()``
  returns a coroutine; it starts once the writer runs, is restarted with backoff if it raises,
  and is cancelled at shutdown after the probes have drained and the writer has flushed. With
  ``singleton=True`` it runs only on the active node of a high-availability group
  (``threenines.core.ha``): started when this node becomes active, cancelled when it stops
  being so. Its state is in ``ctx.health`` (and ``/healthz``);
- add metrics on ``ctx.metrics.registry`` and read ``ctx.config``, ``ctx.engine``, ``ctx.store``;
- add to ``ctx.max_gaps`` the silence after which results it writes from here are "no data";
- take a reloaded config: ``ctx.on_reload(fn)``; ``fn(cfg)`` (may return an awaitable) is
  called after a reload applied ``cfg`` (``threenines.core.reload``), for what the area built
  from the config at start-up. What it cannot take in place it declares in ``Area.held``.
API routes are not added here but by the area's ``Area.api`` hook (see ``threenines.core.api``).
Nothing here is global: tests build as many contexts as they like.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from threenines.core.config import Config
from threenines.core.ha import Leadership
from threenines.core.jobs import Jobs
from threenines.core.metrics import Metrics
from threenines.core.scheduler import ResultListener, Scheduler
from threenines.core.store import ResultStore, StateChange
from threenines.core.writer import BatchWriter, FlipSubscriber

if TYPE_CHECKING:
    from threenines.core.reload import Reloader

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class TaskHealth:
    """One task of the running service, as ``/healthz`` shows it."""

    vital: bool = False  # the service cannot go on without it (writer, scheduler, http, ha)
    singleton: bool = False  # runs on the active node only
    state: str = "starting"  # starting | running | restarting | failed | standby | stopped
    restarts: int = 0
    error: str | None = None  # the last failure: the exception's type and first line
    since: float = field(default_factory=time.time)

    def set(self, state: str, error: str | None = None) -> None:
        self.state, self.since = state, time.time()
        if error is not None:
            self.error = error

    @property
    def healthy(self) -> bool:
        return self.state in ("starting", "running", "standby", "stopped")


@dataclass
class ServiceContext:
    config: Config
    engine: Engine
    store: ResultStore
    metrics: Metrics
    writer: BatchWriter
    scheduler: Scheduler
    on_result: list[ResultListener] = field(default_factory=list)
    tasks: list[tuple[str, TaskFactory]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: silences (s) after which results written from here are "no data", beyond the probes'
    max_gaps: list[float] = field(default_factory=list)
    #: this node's claim on the singleton work (None: a context outside ``run``, always active)
    leadership: Leadership | None = None
    singleton_tasks: list[tuple[str, TaskFactory]] = field(default_factory=list)
    health: dict[str, TaskHealth] = field(default_factory=dict)
    exit_code: int = 0  # set when a vital task dies, or the node's name is taken
    #: called with the new config after a reload applied it (see ``on_reload``)
    reload_hooks: list[Callable[[Config], object]] = field(default_factory=list)
    #: the running service's reloads (``threenines.core.reload``; None outside ``run``)
    reloader: Reloader | None = None
    #: long operations asked for through the API (``threenines.core.jobs``)
    jobs: Jobs = field(default_factory=Jobs)

    @property
    def active(self) -> bool:
        """Whether this node does the singleton work now."""
        return self.leadership is None or self.leadership.is_active

    def subscribe_flips(self, subscriber: FlipSubscriber, *, singleton: bool = False) -> None:
        if not singleton:
            self.writer.subscribers.append(subscriber)
            return

        def when_active(flips: list[StateChange]) -> Awaitable[None] | None:
            # a standby's flips reach the active node by its own refresh from the store
            return subscriber(flips) if self.active else None

        self.writer.subscribers.append(when_active)

    def on_reload(self, hook: Callable[[Config], object]) -> None:
        self.reload_hooks.append(hook)

    def add_task(self, name: str, factory: TaskFactory, *, singleton: bool = False) -> None:
        if singleton:
            self.singleton_tasks.append((name, factory))
        else:
            self.tasks.append((name, factory))
