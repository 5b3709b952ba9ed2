"""The service context: what one running ``threenines run`` holds, passed explicitly to plug-ins.

Areas plug into the service through an *extension*: the ``setup(ctx)`` hook of their ``Area``
(``threenines.core.area``), run in the composition root's order. In ``setup`` an area may
- subscribe to state changes: ``ctx.subscribe_flips(on_flips)`` (see ``threenines.core.writer``);
- listen to every counted result: ``ctx.on_result.append(fn)`` (``fn(record, job)``, non-blocking);
- add a long-running background task: ``ctx.add_task("snmp-poll", factory)`` where ``factory()``
  returns a coroutine; it starts once the writer runs, is restarted with backoff if it raises,
  and is cancelled at shutdown after the probes have drained and the writer has flushed;
- add metrics on ``ctx.metrics.registry`` and read ``ctx.config``, ``ctx.engine``, ``ctx.store``;
- add to ``ctx.max_gaps`` the silence after which results it writes from here are "no data".
API routes are not added here but by the area's ``Area.api`` hook (see ``threenines.core.api``).
Nothing here is global: tests build as many contexts as they like.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from threenines.core.config import Config
from threenines.core.metrics import Metrics
from threenines.core.scheduler import ResultListener, Scheduler
from threenines.core.store import ResultStore
from threenines.core.writer import BatchWriter, FlipSubscriber

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


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

    def subscribe_flips(self, subscriber: FlipSubscriber) -> None:
        self.writer.subscribers.append(subscriber)

    def add_task(self, name: str, factory: TaskFactory) -> None:
        self.tasks.append((name, factory))
