"""``threenines run``: scheduler, writer, HTTP server and plug-in tasks in one asyncio loop.

Start-up: open the database engine (migration and ``close_stale`` run before the first write,
retried while the database is unavailable), build the scheduler for this vantage point, let each
extension plug in, bind the HTTP socket, start everything. Shutdown (SIGTERM/SIGINT): stop
scheduling, let in-flight probes finish (``scheduler.shutdown_grace``), flush the writer (what
cannot be written stays in the spool on disk), then stop the HTTP server and the plug-in tasks.
SIGHUP reloads the config file in place (``threenines.core.reload``), with no gap in probing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path

import uvicorn
from sqlalchemy.engine import make_url

from threenines.core import heap
from threenines.core.api import create_app
from threenines.core.area import Composition
from threenines.core.config import Config
from threenines.core.context import ServiceContext, TaskFactory, TaskHealth
from threenines.core.db import make_engine
from threenines.core.ha import Leadership, NodeConflict
from threenines.core.ha_promote import Promotion
from threenines.core.hangup import defer_hangups, notify
from threenines.core.metrics import Metrics
from threenines.core.queue import QueueError
from threenines.core.reload import Reloader
from threenines.core.scheduler import Job, Scheduler, jobs_for
from threenines.core.store import ResultRecord, ResultStore
from threenines.core.writer import BatchWriter, retention_loop

log = logging.getLogger("threenines.service")

Extension = Callable[[ServiceContext], object]
WRITER_GRACE = 10.0
CLAIM_WAIT = 30.0
SINGLETON_STOP = 10.0  # seconds a cancelled singleton task may take to end


def build_context(
    cfg: Config, composition: Composition, *, live: bool = False, config_path: Path | None = None
) -> ServiceContext:
    """Everything ``run`` needs, wired but not started. Raises on an unusable storage URL.
    ``config_path``: the file ``cfg`` came from, read again on a reload (SIGHUP)."""
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
    ctx.reloader = Reloader(ctx, composition, config_path)
    ha = cfg.server.ha
    promote = ha.promote
    promotion = None if promote is None else Promotion(
        tuple(promote.command), promote.after, promote.timeout)  # fmt: skip
    release = None if ha.release is None else Promotion(
        tuple(ha.release.command), ha.release.after, ha.release.timeout)  # fmt: skip
    ctx.leadership = Leadership(engine, cfg.server.vantage, lease=ha.lease,
                                heartbeat=ha.heartbeat, listen=cfg.server.listen,
                                registry=metrics.registry, promotion=promotion,
                                release=release)  # fmt: skip
    ctx.on_result.append(lambda rec, _job: writer.submit(rec))
    if live:
        ctx.on_result.append(print_result)
    for job in jobs:
        metrics.declare(job.labels)
    ctx.add_task(
        "retention", lambda: retention_loop(engine, cfg.storage, ready=writer.ready), singleton=True
    )
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


async def _supervise(name: str, factory: TaskFactory, health: TaskHealth) -> None:
    """Run a plug-in task; if it raises, log it and restart it with backoff (never fatal)."""
    backoff = 1.0
    while True:
        started = time.monotonic()
        health.set("running")
        try:
            await factory()
            log.info("task %s finished", name)
            health.set("stopped")
            return
        except Exception as exc:
            log.exception("task %s failed; restarting in %.0fs", name, backoff)
            health.restarts += 1
            health.set("restarting", _short(exc))
        backoff = 1.0 if time.monotonic() - started > 300 else min(backoff * 2, 300.0)
        await asyncio.sleep(backoff)


async def _vital(ctx: ServiceContext, name: str, work: Awaitable[object]) -> None:
    """A task the service cannot do without: if it ends by an error, say so loudly and stop
    the service with exit code 1 (a dead writer never hides behind
    ``threenines_database_up 1``)."""
    health = ctx.health[name]
    health.set("running")
    try:
        await work
    except asyncio.CancelledError:
        health.set("stopped")
        raise
    except NodeConflict as exc:
        health.set("failed", str(exc))
        log.error("%s", exc)
        ctx.exit_code = ctx.exit_code or 2
        ctx.stopping.set()
    except Exception as exc:
        health.set("failed", _short(exc))
        log.exception("task %s died: stopping the service", name)
        ctx.exit_code = ctx.exit_code or 1
        ctx.stopping.set()
    else:
        health.set("stopped")
        if not ctx.stopping.is_set():
            log.error("task %s ended on its own: stopping the service", name)
            ctx.exit_code = ctx.exit_code or 1
            ctx.stopping.set()


async def _singletons(ctx: ServiceContext) -> None:
    """Run the singleton tasks while this node is active (``threenines.core.ha``); cancel them
    the moment it is not (before the lease it held can pass to another node)."""
    lead = ctx.leadership
    health = {n: ctx.health[n] for n, _ in ctx.singleton_tasks}
    for h in health.values():
        h.set("standby")
    await ctx.writer.ready.wait()
    while not ctx.stopping.is_set():
        if not ctx.active:
            assert lead is not None
            lead.changed.clear()
            await _first(lead.changed.wait(), ctx.stopping.wait())
            continue
        running = [
            asyncio.create_task(_supervise(n, f, health[n]), name=n) for n, f in ctx.singleton_tasks
        ]
        while ctx.active and not ctx.stopping.is_set():
            if lead is None:
                await ctx.stopping.wait()
                break
            lead.changed.clear()
            left = max(0.05, min(1.0, lead.valid_until - lead.monotonic()))
            await _first(lead.changed.wait(), ctx.stopping.wait(), timeout=left)
        for task in running:
            task.cancel()
        _, stuck = await asyncio.wait(running, timeout=SINGLETON_STOP) if running else ((), ())
        for task in stuck:  # never blocks the next term; the task is reported, not awaited
            log.error("singleton task %s did not stop within %.0fs of being cancelled",
                      task.get_name(), SINGLETON_STOP)  # fmt: skip
        for h in health.values():
            h.set("stopped" if ctx.stopping.is_set() else "standby")


async def _first(*aws: Awaitable[object], timeout: float | None = None) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def serve(
    ctx: ServiceContext,
    sock: socket.socket,
    composition: Composition,
    extensions: list[Extension] | None = None,
) -> int:
    """Run until ``ctx.stopping`` is set (by SIGTERM/SIGINT, a caller, or a vital task that
    died), then drain. Returns the exit code (``ctx.exit_code``).

    ``extensions``: the areas' hooks into ``run`` (default: every area's, from the composition).
    """
    for ext in composition.setups() if extensions is None else extensions:
        ext(ctx)
    heap.settle()  # what start-up built lives as long as the process (``threenines.core.heap``)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    for sig in signals[:2]:
        loop.add_signal_handler(sig, ctx.stopping.set)
    if ctx.reloader is None:
        ctx.reloader = Reloader(ctx, composition, None)
    reloads: set[asyncio.Task[object]] = set()

    def hangup() -> None:  # the config again, in place (``threenines.core.reload``)
        if ctx.reloader is not None and not ctx.stopping.is_set():
            task = asyncio.create_task(ctx.reloader.reload("SIGHUP"), name="reload")
            reloads.add(task)
            task.add_done_callback(reloads.discard)
            task.add_done_callback(lambda _: heap.settle(again=True))  # the old config's objects

    loop.add_signal_handler(signal.SIGHUP, hangup)
    if ctx.reloader.pending:  # a SIGHUP came while starting: the file may be newer
        hangup()
    config = uvicorn.Config(
        create_app(ctx, composition.install_api),
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="none",
    )
    server = _Server(config)
    for name in ("writer", "scheduler", "http", *(["ha"] if ctx.leadership else [])):
        ctx.health[name] = TaskHealth(vital=True)
    for name, _ in ctx.tasks:
        ctx.health[name] = TaskHealth()
    for name, _ in ctx.singleton_tasks:
        ctx.health[name] = TaskHealth(singleton=True)
    writer_task = asyncio.create_task(_vital(ctx, "writer", ctx.writer.run()), name="writer")
    scheduler_task = asyncio.create_task(_vital(ctx, "scheduler", _probe(ctx)), name="scheduler")
    server_task = asyncio.create_task(
        _vital(ctx, "http", server.serve(sockets=[sock])), name="http"
    )
    ha_stop = asyncio.Event()  # after the singleton tasks: the lease is released last
    ha_task = (
        asyncio.create_task(_vital(ctx, "ha", _lead(ctx, ha_stop)), name="ha")
        if ctx.leadership is not None
        else None
    )

    async def plain(name: str, factory: TaskFactory) -> None:
        await ctx.writer.ready.wait()
        await _supervise(name, factory, ctx.health[name])

    extra = [asyncio.create_task(plain(n, f), name=n) for n, f in ctx.tasks]
    singletons = asyncio.create_task(_singletons(ctx), name="singletons")
    longest = max((j.check.interval for j in ctx.scheduler.jobs), default=0.0)
    settled = asyncio.create_task(heap.settle_after_first_round(longest, ctx.stopping))
    log.info(
        "running %d check(s) from vantage %r; http://%s/metrics",
        len(ctx.scheduler.jobs), ctx.config.server.vantage, ctx.config.server.listen,
    )  # fmt: skip
    notify("READY=1", f"STATUS=running {len(ctx.scheduler.jobs)} check(s)")
    try:
        await ctx.stopping.wait()
    finally:
        notify("STOPPING=1")
        for sig in signals:
            loop.remove_signal_handler(sig)
        if reloads:  # a reload half-applied would leave the scheduler and the config apart
            await asyncio.gather(*reloads, return_exceptions=True)
        await ctx.jobs.stop()  # a playbook under way gets a few seconds, then is cancelled
        log.info("stopping: draining in-flight probes, then flushing results")
        abandoned = await ctx.scheduler.stop(ctx.config.scheduler.shutdown_grace)
        await scheduler_task
        spooled = await ctx.writer.close(WRITER_GRACE)
        await writer_task
        server.should_exit = True
        for task in extra:
            task.cancel()
        settled.cancel()
        await asyncio.gather(server_task, singletons, settled, *extra, return_exceptions=True)
        ha_stop.set()
        if ha_task is not None:
            await asyncio.gather(ha_task, return_exceptions=True)
        await asyncio.to_thread(ctx.engine.dispose)
        log.info(
            "stopped: %d result(s) written, %d spooled, %d dropped, %d run(s) abandoned",
            ctx.writer.written, spooled, ctx.writer.dropped, abandoned,
        )  # fmt: skip
    return ctx.exit_code


async def _probe(ctx: ServiceContext) -> None:
    """The scheduler, once this node's name is known to be its own (two nodes of one name
    would store every check twice). A database still away after ``CLAIM_WAIT`` cannot tell:
    probe anyway (results are buffered), and the claim is made when it is back."""
    lead = ctx.leadership
    if lead is not None:
        try:
            await asyncio.wait_for(ctx.writer.ready.wait(), CLAIM_WAIT)
        except TimeoutError:
            log.warning("database unavailable: probing before this node's name is checked")
        else:
            await _first(lead.registered.wait(), ctx.stopping.wait())
    if not ctx.stopping.is_set():
        await ctx.scheduler.run()


async def _lead(ctx: ServiceContext, stop: asyncio.Event) -> None:
    assert ctx.leadership is not None
    await ctx.writer.ready.wait()  # the schema (ha_nodes, ha_lease) first
    await ctx.leadership.run(stop)


def run(
    cfg: Config,
    composition: Composition,
    *,
    live: bool = False,
    config_path: Path | None = None,
    pid_file: Path | None = None,
    hangups: list[int] | None = None,
) -> int:
    """The ``threenines run`` entry point; returns the process exit code. ``config_path``: the
    file to read again on a reload; ``pid_file``: where to write this process's id (for
    ``threenines reload --pid-file``; removed at exit); ``hangups``: from ``defer_hangups``
    (else it is called here)."""
    hangups = defer_hangups() if hangups is None else hangups
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("alembic", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        ctx = build_context(cfg, composition, live=live, config_path=config_path)
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
    if ctx.reloader is not None and hangups:
        ctx.reloader.pending = True
    if pid_file is not None:
        try:
            pid_file.write_text(f"{os.getpid()}\n")
        except OSError as exc:
            print(f"--pid-file: cannot write {pid_file}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        return asyncio.run(serve(ctx, sock, composition))
    finally:
        if pid_file is not None:
            with contextlib.suppress(OSError):
                pid_file.unlink()
