"""Availability benchmark: N services (default 500) x 12 months of history on SQLite.

Generates a council estate (2 data centres, 20 WAN-linked sites, N services, one check each
seen from 2 vantage points) with a year of state intervals (outages, degraded spells, monitor
gaps, per-vantage noise) and raw results at a 60 s interval for every service (``--raw-days``,
default 30: 86,400 rows per service; ``--raw-services`` limits them to the first K services).
The results are bulk-loaded with their indexes dropped and rebuilt afterwards, so generation
stays linear. Then times:

- the monthly Digital Board report: load + compute, then HTML, CSV and PDF rendering apart,
- a single-service availability query for random windows (load + compute),
- the 30-day Prometheus gauge refresh and one day of daily summaries,

and reports database bytes per service-year, the peak RSS and ``/proc/loadavg`` before and
after. Goals: report compute + HTML < 5 s and PDF < 30 s at 5,000 services, single query
< 20 ms. Bounded: a fixed seed, fixed sizes, one pass each (queries: 50 windows).
``python -m bench.availability [--services N] [--raw-services K] [--raw-days D] [--keep DIR
[--reuse]] [--profile FILE] [--no-pdf]``
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import resource
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


def generate(
    path: Path, cfg: Config, raw_services: int, raw_days: float, per_month: float
) -> dict[str, int]:
    from threenines.app.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    rng = random.Random(99)
    end = local_midnight(NOW_DAY, cfg.tz)
    start = end - 365 * DAY
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")  # 256 MiB
    # Bulk load: the results' indexes are rebuilt once at the end (one sort each) instead of
    # being updated row by row, which makes 100 M rows a linear job.
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='results' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in indexes:
        db.execute(f'DROP INDEX "{name}"')
    counts = {"intervals": 0, "results": 0}
    insert = (
        'INSERT INTO state_intervals (check_id, vantage, state, start, "end", last_seen, error, '
        "reason) VALUES (?,?,?,?,?,?,?,?)"
    )
    raw_sql = (
        "INSERT INTO results (check_id, vantage, ts, status, error, reason, duration, attempts, "
        "phases, details) VALUES (?,?,?,?,?,?,?,1,'{}','{}')"
    )
    every: list[tuple] = []
    for n, svc in enumerate(cfg.services):
        shared = _events(rng, start, end, per_month)
        for vantage in VANTAGES:
            noise = _events(rng, start, end, per_month / 4)
            rows = _intervals(shared + noise, start, end, (f"{svc.name}/web", vantage))
            every += rows
            if n < raw_services:
                counts["results"] += _raw(db, raw_sql, rows, end, raw_days)
        if n % 50 == 49:
            db.commit()
    # Stored in the order the write path stores them (an interval is inserted when it opens),
    # not service by service: the table's physical order is what a time-range read walks.
    every.sort(key=lambda r: (r[3], r[0], r[1]))
    db.executemany(insert, every)
    counts["intervals"] = len(every)
    del every
    db.commit()
    for _name, sql in indexes:
        db.execute(sql)
    db.commit()
    db.close()
    return counts


def _raw(db: sqlite3.Connection, sql: str, rows, end: float, days: float) -> int:
    starts = [r[3] for r in rows]
    batch = []
    t = end - days * DAY
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


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def reset_peak_rss() -> bool:
    """Start the peak RSS afresh (Linux: VmHWM), so generation does not count; False if not."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(args: argparse.Namespace) -> None:
    from threenines.availability.load import load_estate, summarise_days
    from threenines.core.db import make_engine
    from threenines.reports.deliver import board_report, render

    folder = Path(args.keep or tempfile.mkdtemp(prefix="avail-bench-"))
    path = folder / "bench.db"
    raw_services = args.services if args.raw_services is None else args.raw_services
    raw_services = min(raw_services, args.services)
    cfg = make_config(args.services, f"sqlite:///{path}")
    sizes_file = folder / "bench.json"  # what the kept database was generated with
    if args.reuse and path.exists():
        counts, t_gen = _counted(path), 0.0
        if sizes_file.exists():
            made = json.loads(sizes_file.read_text())
            if made["services"] != args.services:
                raise SystemExit(f"{path} has {made['services']} services, not {args.services}")
            raw_services, args.raw_days = made["raw_services"], made["raw_days"]
        print(f"reusing {path}: ", end="")
    else:
        path.unlink(missing_ok=True)
        counts, t_gen = _timed(
            lambda: generate(path, cfg, raw_services, args.raw_days, args.events)
        )
        made = {"services": args.services, "raw_services": raw_services, "raw_days": args.raw_days}
        sizes_file.write_text(json.dumps(made))
        print("generated ", end="")
    print(f"{counts['intervals']:,} intervals, {counts['results']:,} raw results", end="")
    print(f" in {t_gen:.1f}s")
    load_before = loadavg()
    rss_scope = "timed part" if reset_peak_rss() else "whole process, generation included"
    engine = make_engine(f"sqlite:///{path}")
    now = local_midnight(NOW_DAY, cfg.tz)
    period = parse_period("2026-10", cfg.tz)
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    report, t_report = _timed(lambda: board_report(cfg, engine, period, now))
    _, t_html = _timed(lambda: render(report, "html"))
    if args.profile:
        prof.disable()
        prof.dump_stats(args.profile)
    _, t_csv = _timed(lambda: render(report, "csv"))
    pdf, t_pdf = (b"", None) if args.no_pdf else _timed(lambda: render(report, "pdf"))
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
    load_after = loadavg()
    sizes = table_sizes(path)
    total = os.path.getsize(path)
    n = len(cfg.services)
    interval_bytes = sum(v for k, v in sizes.items() if "state_intervals" in k)
    raw_bytes = sum(v for k, v in sizes.items() if k == "results" or k.startswith("ix_results"))
    raw_per_service_month = raw_bytes / max(1, raw_services) * 30 / args.raw_days
    print()
    print(f"{'figure':58} {'value':>14}  goal")
    med = statistics.median(times) * 1000 if times else 0.0
    p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)] * 1000 if times else 0.0
    raw_mib = raw_per_service_month / 1024 / 1024
    year_mib = raw_mib * 3 + interval_bytes / n / 2**20
    pdf_time = "skipped" if t_pdf is None else f"{t_pdf:.2f} s"
    rows = [
        (f"monthly board report, load + compute ({n} svc)", f"{t_report:.2f} s", ""),
        ("  + render HTML", f"{t_html:.2f} s", ""),
        ("  = compute + HTML", f"{t_report + t_html:.2f} s", "< 5 s"),
        ("  + render CSV", f"{t_csv:.3f} s", ""),
        (f"  + render PDF ({len(pdf) // 1024} KiB, WeasyPrint)", pdf_time, "< 30 s"),
        ("single-service query, random window: median", f"{med:.1f} ms", "< 20 ms"),
        ("single-service query, random window: p95", f"{p95:.1f} ms", ""),
        ("30-day gauge refresh (all services)", f"{t_metrics:.2f} s", ""),
        ("one day of daily summaries (all services + checks)", f"{t_daily:.2f} s", ""),
        (f"peak RSS ({rss_scope})", f"{peak_rss_mib():,.0f} MiB", ""),
        ("state intervals per service-year (rows)", f"{counts['intervals'] / n:,.0f}", ""),
        ("state intervals + indexes per service-year", f"{interval_bytes / n / 1024:,.1f} KiB", ""),
        (f"raw results ({raw_services} svc x {args.raw_days:g} d): rows", f"{counts['results']:,}",
         ""),
        ("raw results + indexes per service-month (60 s, 2 vantages)", f"{raw_mib:,.2f} MiB", ""),
        ("  -> per service-year, 90 days raw + intervals", f"{year_mib:,.1f} MiB", ""),
        ("database file total", f"{total / 1024 / 1024:,.1f} MiB", ""),
    ]  # fmt: skip
    for name, value, goal in rows:
        print(f"{name:58} {value:>14}  {goal}")
    print(f"/proc/loadavg before the timed part: {load_before}, after: {load_after}")
    print(f"(database: {path}{'' if args.keep else ', removed'})")
    if not args.keep:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def _counted(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {
            "intervals": db.execute("SELECT COUNT(*) FROM state_intervals").fetchone()[0],
            "results": db.execute("SELECT COUNT(*) FROM results").fetchone()[0],
        }
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument(
        "--raw-services", type=int, default=None, help="services with raw results (default: all)"
    )
    parser.add_argument("--raw-days", type=float, default=30.0, help="days of raw results")
    parser.add_argument("--events", type=float, default=8.0, help="incidents per service-month")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--keep", help="folder to keep the database in")
    parser.add_argument("--reuse", action="store_true", help="reuse the database in --keep")
    parser.add_argument("--profile", help="write a cProfile of report + HTML to this file")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF rendering")
    args = parser.parse_args(argv)
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep")
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
