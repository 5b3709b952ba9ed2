"""Availability benchmark: 500 services x 12 months of history on SQLite.

Generates a council estate (2 data centres, 20 WAN-linked sites, 500 services, one check each
seen from 2 vantage points) with a year of state intervals (outages, degraded spells, monitor
gaps, per-vantage noise) and 30 days of raw results at a 60 s interval for a sample of services
(all 500 would be 43 M rows; the size is extrapolated). Then times:

- the monthly Digital Board report (load + compute; then HTML, CSV and PDF rendering),
- a single-service availability query for random windows (load + compute),
- the 30-day Prometheus gauge refresh and one day of daily summaries,

and reports database bytes per service-year. Goals: report < 5 s, single query < 20 ms.
Bounded: a fixed seed, fixed sizes, one pass each (queries: 50 windows).
``python -m bench.availability [--services N] [--raw-services N] [--keep PATH]``
"""

from __future__ import annotations

import argparse
import bisect
import os
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from threenines.app.config import Config
from threenines.availability.periods import local_midnight, parse_period

DAY = 86400.0
NOW_DAY = date(2026, 11, 15)  # history ends here: the report is for October 2026
VANTAGES = ("central", "agent-town")


def make_config(n_services: int, url: str) -> Config:
    sites = [
        {"name": "dc-main", "kind": "datacentre"},
        {"name": "dc-mirror", "kind": "datacentre", "mirror_of": "dc-main"},
    ]
    sites += [{"name": f"site{i:02d}", "depends_on": [f"wan-site{i:02d}"]} for i in range(20)]
    services = [
        {"name": f"wan-site{i:02d}", "site": f"site{i:02d}", "checks": [_check(i)]}
        for i in range(20)
    ]
    for k in range(n_services - len(services)):
        site = "dc-main" if k % 3 == 0 else "dc-mirror" if k % 3 == 1 else f"site{k % 20:02d}"
        services.append({"name": f"svc{k:03d}", "site": site, "checks": [_check(k)]})
    return Config.model_validate(
        {
            "organisation": "Bench Borough Council",
            "storage": {"url": url},
            "sites": sites,
            "vantage_points": [{"name": "agent-town", "site": "dc-mirror"}],
            "services": services,
            "maintenance": [
                {"name": "patch", "cron": "0 2 * * sun", "duration": "1h", "sites": ["dc-main"]}
            ],
        }
    )  # fmt: skip


def _check(k: int) -> dict[str, object]:
    return {
        "name": "web",
        "type": "tcp",
        "host": "127.0.0.1",
        "port": 1000 + k,
        "vantage": list(VANTAGES),
    }


def _events(
    rng: random.Random, start: float, end: float, per_month: float
) -> list[tuple[float, float, str]]:
    out, t = [], start
    while True:
        t += rng.expovariate(per_month / (30 * DAY))
        if t >= end:
            return out
        state = rng.choices(("down", "degraded", "gap"), (0.6, 0.3, 0.1))[0]
        out.append((t, min(end, t + max(60.0, rng.expovariate(1 / 480.0))), state))


def _intervals(events, start: float, end: float, key: tuple[str, str]):
    rows, cur = [], start
    for a, b, state in sorted(events):
        if a < cur:
            continue
        rows.append((*key, "up", cur, a, a - 30, None, "ok"))
        if state != "gap":
            err = "refused" if state == "down" else "slow"
            rows.append((*key, state, a, b, b - 30, err, state))
        cur = b
    rows.append((*key, "up", cur, None, end - 30, None, "ok"))
    return rows


def generate(path: Path, cfg: Config, raw_services: int, per_month: float) -> dict[str, int]:
    from threenines.app.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    rng = random.Random(99)
    end = local_midnight(NOW_DAY, cfg.tz)
    start = end - 365 * DAY
    db = sqlite3.connect(path)
    counts = {"intervals": 0, "results": 0}
    insert = (
        'INSERT INTO state_intervals (check_id, vantage, state, start, "end", last_seen, error, '
        "reason) VALUES (?,?,?,?,?,?,?,?)"
    )
    raw_sql = (
        "INSERT INTO results (check_id, vantage, ts, status, error, reason, duration, attempts, "
        "phases, details) VALUES (?,?,?,?,?,?,?,1,'{}','{}')"
    )
    for n, svc in enumerate(cfg.services):
        shared = _events(rng, start, end, per_month)
        for vantage in VANTAGES:
            noise = _events(rng, start, end, per_month / 4)
            rows = _intervals(shared + noise, start, end, (f"{svc.name}/web", vantage))
            db.executemany(insert, rows)
            counts["intervals"] += len(rows)
            if n < raw_services:
                counts["results"] += _raw(db, raw_sql, rows, end)
        if n % 50 == 49:
            db.commit()
    db.commit()
    db.close()
    return counts


def _raw(db: sqlite3.Connection, sql: str, rows, end: float) -> int:
    starts = [r[3] for r in rows]
    batch = []
    t = end - 30 * DAY
    while t < end:
        r = rows[max(0, bisect.bisect_right(starts, t) - 1)]
        batch.append((r[0], r[1], t, r[2], r[6], r[7], 0.012))
        t += 60
    db.executemany(sql, batch)
    return len(batch)


def table_sizes(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        rows = []
    db.close()
    return dict(rows)


def _timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def run(args: argparse.Namespace) -> None:
    from threenines.availability.load import load_estate, summarise_days
    from threenines.core.db import make_engine
    from threenines.reports.deliver import board_report, render

    folder = Path(args.keep or tempfile.mkdtemp(prefix="avail-bench-"))
    path = folder / "bench.db"
    path.unlink(missing_ok=True)
    cfg = make_config(args.services, f"sqlite:///{path}")
    counts, t_gen = _timed(lambda: generate(path, cfg, args.raw_services, args.events))
    print(f"generated {counts['intervals']:,} intervals, {counts['results']:,} raw results", end="")
    print(f" in {t_gen:.1f}s")
    engine = make_engine(f"sqlite:///{path}")
    now = local_midnight(NOW_DAY, cfg.tz)
    period = parse_period("2026-10", cfg.tz)
    report, t_report = _timed(lambda: board_report(cfg, engine, period, now))
    _, t_html = _timed(lambda: render(report, "html"))
    _, t_csv = _timed(lambda: render(report, "csv"))
    pdf, t_pdf = _timed(lambda: render(report, "pdf"))
    rng = random.Random(7)
    times = []
    for _ in range(args.queries):
        svc = rng.choice(cfg.services).name
        a = now - rng.uniform(1, 360) * DAY
        b = min(now, a + rng.uniform(1, 90) * DAY)
        _f, dt = _timed(
            lambda s=svc, a=a, b=b: load_estate(engine, cfg, a, b, now, services=[s]).service(s)
        )
        times.append(dt)
    from prometheus_client import CollectorRegistry

    from threenines.availability.metrics import (
        register_availability_metrics,
        update_availability_metrics,
    )

    gauges = register_availability_metrics(CollectorRegistry())
    _, t_metrics = _timed(lambda: update_availability_metrics(gauges, engine, cfg, now))
    day = date(2026, 11, 14)
    _, t_daily = _timed(lambda: summarise_days(engine, cfg, day, day, now))
    engine.dispose()
    sizes = table_sizes(path)
    total = os.path.getsize(path)
    n = len(cfg.services)
    interval_bytes = sum(v for k, v in sizes.items() if "state_intervals" in k)
    raw_bytes = sum(v for k, v in sizes.items() if k == "results" or k.startswith("ix_results"))
    raw_per_service_month = raw_bytes / max(1, args.raw_services)
    print()
    print(f"{'figure':58} {'value':>14}  goal")
    med, p95 = statistics.median(times) * 1000, sorted(times)[int(len(times) * 0.95) - 1] * 1000
    raw_mib = raw_per_service_month / 1024 / 1024
    year_mib = raw_mib * 3 + interval_bytes / n / 2**20
    rows = [
        (f"monthly board report, load + compute ({n} svc)", f"{t_report:.2f} s", "< 5 s"),
        ("  + render HTML", f"{t_html:.2f} s", ""),
        ("  + render CSV", f"{t_csv:.3f} s", ""),
        (f"  + render PDF ({len(pdf) // 1024} KiB, WeasyPrint)", f"{t_pdf:.2f} s", ""),
        ("single-service query, random window: median", f"{med:.1f} ms", "< 20 ms"),
        ("single-service query, random window: p95", f"{p95:.1f} ms", ""),
        ("30-day gauge refresh (all services)", f"{t_metrics:.2f} s", ""),
        ("one day of daily summaries (all services + checks)", f"{t_daily:.2f} s", ""),
        ("state intervals per service-year (rows)", f"{counts['intervals'] / n:,.0f}", ""),
        ("state intervals + indexes per service-year", f"{interval_bytes / n / 1024:,.1f} KiB", ""),
        ("raw results + indexes per service-month (60 s, 2 vantages)", f"{raw_mib:,.2f} MiB", ""),
        ("  -> per service-year, 90 days raw + intervals", f"{year_mib:,.1f} MiB", ""),
        ("database file total", f"{total / 1024 / 1024:,.1f} MiB", ""),
    ]  # fmt: skip
    for name, value, goal in rows:
        print(f"{name:58} {value:>14}  {goal}")
    print(f"(database: {path}{'' if args.keep else ', removed'})")
    if not args.keep:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--raw-services", type=int, default=25, help="services with raw results")
    parser.add_argument("--events", type=float, default=8.0, help="incidents per service-month")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--keep", help="folder to keep the database in")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
