"""``threenines run``: scheduler, writer, HTTP server and plug-in tasks in one asyncio loop.

Start-up: open the database engine (migration and ``close_stale`` run before the first write,
retried while the database is unavailable), build the scheduler for this vantage point, let each
extension plug in, bind the HTTP socket, start everything. Shutdown (SIGTERM/SIGINT): stop
scheduling, let in-flight probes finish (``scheduler.shutdown_grace``), flush the writer (what
cannot be written stays in the spool on disk), then stop the HTTP server and the plug-in tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import uvicorn
from sqlalchemy.engine import make_url

from threenines.core.api import create_app
from threenines.core.area import Composition
from threenines.core.config import Config
from threenines.core.context import ServiceContext, TaskFactory
from threenines.core.db import make_engine
from threenines.core.metrics import Metrics
from threenines.core.queue import QueueError
from threenines.core.scheduler import Job, Scheduler, jobs_for
from threenines.core.store import ResultRecord, ResultStore
from threenines.core.writer import BatchWriter, retention_loop

log = logging.getLogger("threenines.service")

Extension = Callable[[ServiceContext], object]
WRITER_GRACE = 10.0


def build_context(cfg: Config, composition: Composition, *, live: bool = False) -> ServiceContext:
    """Everything ``run`` needs, wired but not started. Raises on an unusable storage URL."""
    engine = make_engine(cfg.storage.url)
    store = ResultStore(engine)
    metrics = Metrics()
    jobs = jobs_for(cfg, cfg.server.vantage)

    def prepare() -> None:
        composition.migrate(engine)
        # Only this server's own intervals: agents' gaps are judged by their results' max_gap.
        # Areas that write results from here too (SNMP devices) add their gaps in ``setup``.
        stale_after = max([j.max_gap for j in jobs] + ctx.max_gaps, default=120.0)
        closed = store.close_stale(time.time(), stale_after, vantage=cfg.server.vantage)
        if closed:
            log.info(
                "closed %d state interval(s) left open by the last run (no data since)", closed
            )

    writer = BatchWriter(
        store, cfg.storage, metrics=metrics, prepare=prepare, spool_path=Path(cfg.storage.spool)
    )
    scheduler = Scheduler(jobs, cfg.scheduler, vantage=cfg.server.vantage, metrics=metrics)
    ctx = ServiceContext(cfg, engine, store, metrics, writer, scheduler, scheduler.on_result)
    ctx.on_result.append(lambda rec, _job: writer.submit(rec))
    if live:
        ctx.on_result.append(print_result)
    for job in jobs:
        metrics.declare(job.labels)
    ctx.add_task("retention", lambda: retention_loop(engine, cfg.storage, ready=writer.ready))
    return ctx


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(not a database URL)"


def print_result(rec: ResultRecord, job: Job) -> None:
    """One concise line per counted result (``--live``)."""
    r = rec.result
    when = datetime.fromtimestamp(rec.ts).strftime("%H:%M:%S")
    tries = f" x{rec.attempts}" if rec.attempts > 1 else ""
    error = f" [{r.error}]" if r.error else ""
    print(
        f"{when} {r.status.value:<8} {rec.check_id} @{rec.vantage} {job.labels.type} "
        f"{r.duration * 1000:.0f}ms{tries}{error} {r.reason}",
        flush=True,
    )


def bind(listen: str) -> socket.socket:
    """Bind the HTTP socket up front, so a busy port is a clear start-up error."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _supervise(name: str, factory: TaskFactory, ready: asyncio.Event) -> None:
    """Run a plug-in task once the schema exists; if it raises, log it and restart it with
    backoff (never fatal)."""
    await ready.wait()
    backoff = 1.0
    while True:
        started = time.monotonic()
        try:
            await factory()
            log.info("task %s finished", name)
            return
        except Exception:
            log.exception("task %s failed; restarting in %.0fs", name, backoff)
        backoff = 1.0 if time.monotonic() - started > 300 else min(backoff * 2, 300.0)
        await asyncio.sleep(backoff)


async def serve(
    ctx: ServiceContext,
    sock: socket.socket,
    composition: Composition,
    extensions: list[Extension] | None = None,
) -> None:
    """Run until ``ctx.stopping`` is set (by SIGTERM/SIGINT or by a caller), then drain.

    ``extensions``: the areas' hooks into ``run`` (default: every area's, from the composition).
    """
    for ext in composition.setups() if extensions is None else extensions:
        ext(ctx)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, ctx.stopping.set)
    config = uvicorn.Config(
        create_app(ctx, composition.install_api),
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="none",
    )
    server = _Server(config)
    writer_task = asyncio.create_task(ctx.writer.run(), name="writer")
    scheduler_task = asyncio.create_task(ctx.scheduler.run(), name="scheduler")
    server_task = asyncio.create_task(server.serve(sockets=[sock]), name="http")
    extra = [asyncio.create_task(_supervise(n, f, ctx.writer.ready), name=n) for n, f in ctx.tasks]
    log.info(
        "running %d check(s) from vantage %r; http://%s/metrics",
        len(ctx.scheduler.jobs), ctx.config.server.vantage, ctx.config.server.listen,
    )  # fmt: skip
    try:
        await ctx.stopping.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        log.info("stopping: draining in-flight probes, then flushing results")
        abandoned = await ctx.scheduler.stop(ctx.config.scheduler.shutdown_grace)
        await scheduler_task
        spooled = await ctx.writer.close(WRITER_GRACE)
        await writer_task
        server.should_exit = True
        for task in extra:
            task.cancel()
        await asyncio.gather(server_task, *extra, return_exceptions=True)
        await asyncio.to_thread(ctx.engine.dispose)
        log.info(
            "stopped: %d result(s) written, %d spooled, %d dropped, %d run(s) abandoned",
            ctx.writer.written, spooled, ctx.writer.dropped, abandoned,
        )  # fmt: skip


def run(cfg: Config, composition: Composition, *, live: bool = False) -> int:
    """The ``threenines run`` entry point; returns the process exit code."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("alembic", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        ctx = build_context(cfg, composition, live=live)
    except QueueError as exc:  # the spool's path cannot be used: its own one-line message
        print(f"storage.spool: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. an unknown database driver in storage.url
        # SQLAlchemy's messages may quote the URL, password included: never print them
        print(f"storage.url: cannot use {_safe_url(cfg.storage.url)}: {type(exc).__name__}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        sock = bind(cfg.server.listen)
    except OSError as exc:
        print(
            f"server.listen: cannot listen on {cfg.server.listen}: {exc.strerror}", file=sys.stderr
        )
        return 2
    asyncio.run(serve(ctx, sock, composition))
    return 0
