"""The agent's long-running tasks are supervised: one that dies is logged and restarted.

A task that raises is a bug (every server or disk problem is handled where it happens), but
an agent whose flusher or sender died would go on probing into memory and deliver nothing,
silently. ``supervised`` logs the death at ERROR in one line (the traceback at DEBUG) and
starts the task again after ``RESTART_AFTER`` seconds, doubling up to ``RESTART_MAX`` while it
keeps dying; ``deaths`` counts them for the agent's state, and ``tasks`` says what each task is
doing now (``running``, ``restarting`` after a death, ``stopped``), when it last died and why,
for the agent's own ``/healthz``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from threenines.core.logs import summary

log = logging.getLogger("threenines.agent")
RESTART_AFTER, RESTART_MAX = 1.0, 30.0


@dataclass(slots=True)
class TaskState:
    state: str = "running"  # running | restarting | stopped
    died_at: float | None = None  # monotonic time of the last death
    error: str | None = None  # why it last died


class Supervisor:
    def __init__(self, *, restart_after: float = RESTART_AFTER, restart_max: float = RESTART_MAX):
        self.restart_after, self.restart_max = restart_after, restart_max
        self.deaths: dict[str, int] = {}
        self.tasks: dict[str, TaskState] = {}

    async def run(self, name: str, work: Callable[[], Awaitable[None]],
                  stop: asyncio.Event) -> None:  # fmt: skip
        """Run ``work()`` until it returns with ``stop`` set; restart it whenever it raises."""
        delay = self.restart_after
        task = self.tasks.setdefault(name, TaskState())
        try:
            while True:
                task.state = "running"
                try:
                    await work()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.deaths[name] = self.deaths.get(name, 0) + 1
                    task.state, task.died_at = "restarting", time.monotonic()
                    task.error = summary(exc)
                    log.error("the %s task died (%s); restarting it in %.0fs (%d death(s))",
                              name, task.error, delay, self.deaths[name])  # fmt: skip
                    log.debug("the %s task's traceback", name, exc_info=True)
                    await _wait(stop, delay)
                    delay = min(self.restart_max, delay * 2)
                    if stop.is_set():
                        return
                    continue
                if stop.is_set():
                    return
                await _wait(stop, self.restart_after)  # returned early (should not): run it again
        finally:
            task.state = "stopped"


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass
