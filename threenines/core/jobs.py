"""Long operations asked for through the API: started at once, polled until they end.

A failover run, a failback, a DR drill or a security scan takes seconds to minutes: longer than
an HTTP request should be held open (proxies and clients time out, and a retried POST must not
run a playbook twice). So an area's route starts the operation here and answers ``202`` with a
job id at once; ``GET /api/v1/jobs/{id}`` gives its state (``running``, ``done``, ``failed``)
and, once it ended, the area's own result document (the same fields its CLI prints from).

The registry lives in the server process: it holds the last ``KEEP`` jobs (running ones are
never dropped) and is empty after a restart. What a job did is recorded where its area records
it (failover runs, drills, findings), so a job lost with a restart is still in those records;
the job is only the handle to follow it. At most ``MAX_RUNNING`` run at once; one more is
refused (``JobsBusy``, the API's 429), and an area may refuse a second job of the same key
(``JobExists``, 409: one failover of a plan at a time).

A job's failure is its state and a one-line reason, never a traceback (logged on the server).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger("threenines.jobs")

KEEP = 200  # finished jobs remembered, newest first
MAX_RUNNING = 8  # jobs at once in one server

State = Literal["running", "done", "failed"]


class JobsBusy(Exception):
    """As many jobs run as the server allows."""


class JobExists(Exception):
    """A job with this key still runs."""

    def __init__(self, job: Job):
        super().__init__(f"{job.kind} {job.key} is already running as job {job.id}")
        self.job = job


@dataclass
class Job:
    id: int
    kind: str  # e.g. "failover.run"
    key: str  # what it acts on, e.g. the plan's name
    by: str
    started: float
    state: State = "running"
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "by": self.by,
            "state": self.state,
            "started": self.started,
            "finished": self.finished,
            "result": self.result,
            "error": self.error,
        }


class Jobs:
    """The server's jobs. Call from the event loop."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._ids = itertools.count(1)
        self._jobs: OrderedDict[int, Job] = OrderedDict()

    def running(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.state == "running"]

    def start(
        self, kind: str, key: str, by: str, work: Callable[[], Awaitable[dict[str, Any]]]
    ) -> Job:
        """Start ``work`` (its result is the job's document); raises ``JobsBusy`` or
        ``JobExists`` instead of starting a second one of the same ``kind`` and ``key``."""
        running = self.running()
        for other in running:
            if other.kind == kind and other.key == key:
                raise JobExists(other)
        if len(running) >= MAX_RUNNING:
            raise JobsBusy(f"{len(running)} jobs are running (at most {MAX_RUNNING})")
        job = Job(next(self._ids), kind, key, by, self._clock())
        self._jobs[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job, work))
        self._forget()
        return job

    async def _run(self, job: Job, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        try:
            job.result = await work()
            job.state = "done"
        except asyncio.CancelledError:
            job.state, job.error = "failed", "the server stopped before the job ended"
            raise
        except Exception as exc:
            log.exception("job %s (%s %s) failed", job.id, job.kind, job.key)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        finally:
            job.finished = self._clock()

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def newest(self, limit: int = 50) -> list[Job]:
        return list(reversed(self._jobs.values()))[:limit]

    def _forget(self) -> None:
        done = [j for j in self._jobs.values() if j.state != "running"]
        for job in done[: max(0, len(done) - KEEP)]:
            del self._jobs[job.id]

    async def stop(self, grace: float = 5.0) -> None:
        """Cancel what still runs (the server stops), after ``grace`` seconds."""
        tasks = [j.task for j in self.running() if j.task is not None]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
