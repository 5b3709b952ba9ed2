"""Console benchmark: the overview's and the public status page's server time at N services.

Builds a SQLite store with N services (one TCP check each, seen from the server's vantage, all
listed on the public page) and 30 days of state intervals (random outages, a fixed seed), then
times the two views the pages render (``threenines.console.views.overview`` and
``public_status``: the store's reads and the state rule and availability engine they call),
each ``--runs`` times. Then what a request costs the server as ``threenines run`` serves it:
the views kept by the background task (``threenines.console.live``, running meanwhile, its
rebuilds every second competing for the same process), and the request's own work, the page
rendered from them (for the overview, per user); ``--requests`` of each, one every 50 ms (HTTP
framing not included). Goal (issue 13): p95 < 100 ms at 1,000 services. The time from a target
failing to the console showing it is measured by tests/console (printed by the browser test).
Bounded: fixed sizes, a fixed seed, ``--runs`` passes.
``python -m bench.console [--services N] [--runs N]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

DAYS = 30


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    from threenines.app.areas import COMPOSITION
    from threenines.app.config import parse_config
    from threenines.console import views, web
    from threenines.core.db import make_engine
    from threenines.core.tables import state_intervals

    ap = argparse.ArgumentParser(prog="bench.console")
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--requests", type=int, default=200, help="served requests per page")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="print cProfile's top functions of the 2 s rebuild of the status view",
    )
    args = ap.parse_args(argv)
    n, runs = max(1, min(args.services, 20_000)), max(1, min(args.runs, 100))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        svcs = "\n".join(
            f"  - {{name: s{i}, site: dc1, public: true, checks: [{{name: c, type: tcp, "
            f"host: 127.0.0.1, port: 9, interval: 30s}}]}}"
            for i in range(n)
        )
        cfg = parse_config(
            f'storage: {{url: "{url}"}}\nsites: [{{name: dc1, kind: datacentre}}]\n'
            f"services:\n{svcs}\n"
        )
        engine = make_engine(url)
        COMPOSITION.migrate(engine)
        rng, now, rows = random.Random(13), time.time(), []
        for i in range(n):
            t = now - DAYS * 86400
            while t < now:
                down = rng.random() < 0.1
                end = min(t + rng.uniform(3600, 3 * 86400) / (20 if down else 1), now)
                rows.append({"check_id": f"s{i}/c", "vantage": cfg.server.vantage,
                             "state": "down" if down else "up", "start": t,
                             "end": None if end >= now else end, "last_seen": end,
                             "error": None, "reason": ""})  # fmt: skip
                t = end
        with engine.begin() as conn:
            conn.execute(state_intervals.insert(), rows)
        print(f"{n} services, {len(rows)} state intervals over {DAYS} days (SQLite)")
        past = views.past_days(engine, cfg, time.time())
        ctx = SimpleNamespace(config=cfg)
        status = views.public_status(engine, cfg, None, past)

        def page() -> None:  # the HTML as /status renders it (the compact form at this size)
            total = sum(len(svcs) for _, svcs in status.groups)
            html = web.render("status.html", ctx, view=status, total=total,  # type: ignore[arg-type]
                              compact=total > web.COMPACT_AT, only=0)  # fmt: skip
            sizes.append(len(html.encode()))

        sizes: list[int] = []
        cases = (
            ("overview", lambda: views.overview(engine, cfg)),
            ("status page, every day computed", lambda: views.public_status(engine, cfg)),
            ("status page, past days reused (as the cache does)",
             lambda: views.public_status(engine, cfg, None, past)),
            ("status page, past days and today's bar reused (the 2 s rebuild)",
             lambda: views.public_status(engine, cfg, None, past, status.current)),
            ("status page HTML from its view", page),
        )  # fmt: skip
        for name, view in cases:
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                view()
                times.append(time.perf_counter() - start)
            print(f"{name}: median {statistics.median(times) * 1000:.0f} ms, "
                  f"p95 {_p95(times) * 1000:.0f} ms ({runs} runs; goal p95 < 100 ms)")  # fmt: skip
        print(f"status page size: {sizes[-1] / 1024:.0f} KiB")
        served = asyncio.run(_served(engine, cfg, max(1, min(args.requests, 2000))))
        for name, times in served.items():
            verdict = "met" if _p95(times) < 0.1 else "NOT met"
            print(f"served {name}: median {statistics.median(times) * 1000:.1f} ms, "
                  f"p95 {_p95(times) * 1000:.1f} ms ({len(times)} requests, background task "
                  f"running; goal p95 < 100 ms: {verdict})")  # fmt: skip
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(views.public_status, engine, cfg, None, past, status.current)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        engine.dispose()
    return 0


async def _served(engine: Any, cfg: Any, requests: int) -> dict[str, list[float]]:
    """Request after request (one every 50 ms) for the status page and the overview, each as
    its route does it, while the background task keeps the views."""
    from markupsafe import Markup

    from threenines.console import live, web
    from threenines.console.identity import Identity

    ctx: Any = SimpleNamespace(engine=engine, config=cfg)
    views_ = live.LiveViews()
    me = Identity("bench", "operator")

    async def status() -> None:
        view = await views_.public_view(ctx)
        total = sum(len(svcs) for _, svcs in view.groups)

        def make() -> str:
            return web.render("status.html", ctx, view=view, total=total,
                              compact=total > web.COMPACT_AT, only=0)  # fmt: skip

        await views_.rendered_public(("html", 0), view, make)

    async def overview() -> None:  # as web.overview_page: the body once per view, then the page
        view = await views_.overview_view(ctx)

        def make(slot: str) -> str:
            return web.render("_overview.html", ctx, view=view, me=me, csrf=slot)

        body = await views_.overview_body(view, True, "x", make)
        await asyncio.to_thread(web.render, "overview.html", ctx, body=Markup(body), me=me,
                                csrf="x", here="overview")  # fmt: skip

    await status()  # the first ones build the views (the task then keeps them)
    await overview()
    task = asyncio.create_task(views_.run(ctx))
    times: dict[str, list[float]] = {"status page": [], "overview": []}
    try:
        for _ in range(requests):
            for name, call in (("status page", status), ("overview", overview)):
                start = time.perf_counter()
                await call()
                times[name].append(time.perf_counter() - start)
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return times


if __name__ == "__main__":
    raise SystemExit(main())
