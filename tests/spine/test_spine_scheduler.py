"""Scheduler: pure slot and jitter maths, then real runs against loopback TCP servers."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time

import sqlalchemy as sa
from spine_support import BannerServer, tcp_config

from threenines.app.db import make_engine, migrate
from threenines.core.config.schema import Storage
from threenines.core.scheduler import Job, Scheduler, jitter_offset, jobs_for, next_slot, slot_time
from threenines.core.store import ResultRecord, ResultStore
from threenines.core.tables import results, state_intervals
from threenines.core.writer import BatchWriter

# -- pure parts -------------------------------------------------------------------------------


def test_jitter_is_deterministic_spread_and_bounded() -> None:
    offsets = [jitter_offset(f"svc/check-{i}@central", 60.0, 0.1) for i in range(2000)]
    assert offsets == [jitter_offset(f"svc/check-{i}@central", 60.0, 0.1) for i in range(2000)]
    assert all(0 <= o < 6.0 for o in offsets)
    buckets = [0] * 10
    for o in offsets:
        buckets[int(o / 0.6)] += 1
    assert min(buckets) > 120  # ~200 each: spread evenly, not clumped
    assert jitter_offset("x", 60.0, 0.0) == 0.0
    # long intervals still get their first run within MAX_SPREAD of start-up
    assert max(jitter_offset(f"tls-{i}", 3600.0, 1.0) for i in range(500)) < 60.0


def test_no_drift_over_a_week_of_slots() -> None:
    anchor, interval, slot = 1234.5, 30.0, 0
    for _ in range(20_160):  # one week at 30 s; each run completes 0.7 s after its slot
        now = slot_time(anchor, interval, slot) + 0.7
        slot = next_slot(anchor, interval, slot, now)
    assert slot == 20_160
    assert slot_time(anchor, interval, slot) == anchor + 20_160 * interval


def test_missed_slots_are_skipped_not_burst() -> None:
    # the run of slot 3 (due at 30) finished at 71.5: slots 4..7 are past, 8 (at 80) is next
    assert next_slot(0.0, 10.0, 3, 71.5) == 8
    assert next_slot(0.0, 10.0, 3, 40.0) == 4  # exactly on time is not missed
    assert next_slot(0.0, 10.0, 3, 40.001) == 5


# -- real runs --------------------------------------------------------------------------------


async def _run_until(sched: Scheduler, done: int, limit: float = 10.0) -> None:
    task = asyncio.create_task(sched.run())
    deadline = time.monotonic() + limit
    while sched.completed < done and time.monotonic() < deadline:  # noqa: ASYNC110 (bounded poll)
        await asyncio.sleep(0.02)
    await sched.stop(grace=5)
    await task


def _scheduler(cfg, records: list[tuple[ResultRecord, Job]]) -> Scheduler:
    sched = Scheduler(
        jobs_for(cfg, "central"),
        cfg.scheduler,
        vantage="central",
        on_result=[lambda r, j: records.append((r, j))],
    )
    return sched


def _banner_checks(port: int, n: int, host: str = "127.0.0.1", prefix: str = "c") -> list[dict]:
    return [
        {"name": f"{prefix}{i}", "host": host, "port": port, "expect": "OK", "interval": "1h"}
        for i in range(n)
    ]


async def test_per_target_limit() -> None:
    async with BannerServer(delay=0.25) as srv:
        cfg = tcp_config(_banner_checks(srv.port, 12), scheduler={"jitter": 0, "per_target": 3})
        records: list = []
        await _run_until(_scheduler(cfg, records), 12)
    assert len(records) == 12 and all(r.result.ok for r, _ in records)
    assert srv.peak == 3


async def test_global_and_per_target_limits_across_targets() -> None:
    async with BannerServer(delay=0.25) as a, BannerServer(host="127.0.0.2", delay=0.25) as b:
        checks = _banner_checks(a.port, 8, prefix="a") + _banner_checks(
            b.port, 8, host="127.0.0.2", prefix="b"
        )
        cfg = tcp_config(checks, scheduler={"jitter": 0, "per_target": 4, "max_concurrency": 5})
        records: list = []
        sched = _scheduler(cfg, records)
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, a.current + b.current)
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        await _run_until(sched, 16)
        watcher.cancel()
    assert len(records) == 16
    assert a.peak <= 4 and b.peak <= 4
    assert peak == 5
    assert len(sched.recent_lags) == 16 and max(sched.recent_lags) >= 0.25  # waited for slots


async def test_retry_that_succeeds_is_one_up_result(tmp_path) -> None:
    # the first connection gets a wrong banner, later ones the right one
    async with BannerServer(banner=lambda n: b"NO\n" if n == 1 else b"OK\n") as srv:
        cfg = tcp_config(
            [
                {
                    "name": "flaky",
                    "host": "127.0.0.1",
                    "port": srv.port,
                    "expect": "OK",
                    "retries": 2,
                    "retry_interval": "50ms",
                }
            ],
            scheduler={"jitter": 0},
        )
        engine = make_engine(f"sqlite:///{tmp_path}/r.db")
        migrate(engine)
        writer = BatchWriter(ResultStore(engine), Storage())
        records: list = []
        sched = _scheduler(cfg, records)
        sched.on_result.append(lambda r, _j: writer.submit(r))
        before = time.time()
        await _run_until(sched, 1)
        assert await writer.flush()
    ((record, _),) = records
    assert (record.result.status, record.attempts, srv.connections) == ("up", 2, 2)
    assert before <= record.ts < before + 0.05  # the start of the first attempt
    with engine.connect() as conn:
        rows = conn.execute(sa.select(results.c.status, results.c.attempts)).all()
        states = conn.execute(sa.select(state_intervals.c.state)).scalars().all()
    assert [tuple(r) for r in rows] == [("up", 2)]
    assert states == ["up"]  # the failed first attempt is not downtime
    engine.dispose()


async def test_failure_confirmed_after_retries() -> None:
    async with BannerServer(banner=lambda n: b"NO\n") as srv:
        cfg = tcp_config(
            [{"name": "bad", "host": "127.0.0.1", "port": srv.port, "expect": "OK",
              "retries": 2, "retry_interval": "10ms"}],
            scheduler={"jitter": 0},
        )  # fmt: skip
        records: list = []
        await _run_until(_scheduler(cfg, records), 1)
    ((record, _),) = records
    assert (record.result.status, record.result.error, record.attempts) == (
        "down",
        "expect_mismatch",
        3,
    )


async def test_runs_repeat_on_the_grid_and_stop_drains_in_flight() -> None:
    async with BannerServer(delay=0.3) as srv:
        cfg = tcp_config(
            [{"name": "slow", "host": "127.0.0.1", "port": srv.port, "expect": "OK",
              "interval": "200ms", "timeout": "2s"}],
            scheduler={"jitter": 0},
        )  # fmt: skip
        records: list = []
        sched = _scheduler(cfg, records)
        task = asyncio.create_task(sched.run())
        await asyncio.sleep(1.0)
        assert sched.in_flight == 1  # 300 ms runs on a 200 ms grid: every other slot skipped
        abandoned = await sched.stop(grace=5)
        await task
    assert abandoned == 0
    assert len(records) == srv.connections  # the in-flight run finished and was reported
    assert 2 <= len(records) <= 4
    starts = [r.ts for r, _ in records]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # >= 2 intervals apart: the missed slot is skipped, never made up in a burst; on the grid
    assert all(g > 0.35 and abs(g / 0.2 - round(g / 0.2)) < 0.25 for g in gaps), gaps


async def test_only_checks_for_this_vantage() -> None:
    cfg = tcp_config(
        [
            {"name": "here", "host": "127.0.0.1", "port": 1},
            {"name": "there", "host": "127.0.0.1", "port": 1, "vantage": ["branch"]},
            {"name": "both", "host": "127.0.0.1", "port": 1, "vantage": ["central", "branch"]},
        ],
        vantage_points=[{"name": "branch", "site": "dc1"}],
    )
    assert [j.check_id for j in jobs_for(cfg, "central")] == ["web/here", "web/both"]
    assert [j.check_id for j in jobs_for(cfg, "branch")] == ["web/there", "web/both"]


async def test_a_probe_that_hangs_or_raises_becomes_a_result() -> None:
    """The scheduler's own deadline backs up the probe's; a probe bug is a result, not a crash."""

    async def hangs(cfg, *, timeout):  # ignores its timeout: the scheduler must not wait forever
        await asyncio.sleep(3600)

    async def raises(cfg, *, timeout):
        raise RuntimeError("bug")

    cfg = tcp_config(
        [{"name": n, "host": "127.0.0.1", "port": 1, "timeout": "200ms", "retries": 0}
         for n in ("hang", "boom")],
        scheduler={"jitter": 0},
    )  # fmt: skip
    jobs = [
        dataclasses.replace(job, probe=fn)
        for job, fn in zip(jobs_for(cfg, "central"), (hangs, raises), strict=True)
    ]
    records: list = []
    sched = Scheduler(
        jobs, cfg.scheduler, vantage="central", on_result=[lambda r, j: records.append(r)]
    )
    await _run_until(sched, 2)
    got = {r.check_id: (r.result.status, r.result.error) for r in records}
    assert got == {"web/hang": ("down", "timeout"), "web/boom": ("down", "internal")}
