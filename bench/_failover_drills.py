"""The lab part of ``bench.failover``: DR drills for detection and RTO, then a false-failover soak.

Root only (lab namespaces); every address is in the lab's 198.18.0.0/16. The lab is taken
through ``lab.session()`` (exclusive, always torn down); the drills are the same code as
``threenines drill run PLAN --scenario dc-cut``, with the service's own loop deciding.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from threenines import lab

INTERVAL, CONFIRM = 5.0, 5.0
GOALS = {"detection": 15.0, "rto": 30.0}


def main(drills: int, soak: float) -> int:

    if os.geteuid() != 0 or any(shutil.which(c) is None for c in lab.REQUIRED_COMMANDS):
        print("\nlab part skipped: needs root and " + ", ".join(lab.REQUIRED_COMMANDS))
        return 0
    from bench._failover_lab import watched

    tmp = Path(tempfile.mkdtemp(prefix="tn-bench-failover-lab-"))
    try:
        with (
            lab.session(wait=900) as state,
            watched(state, tmp, interval=INTERVAL, confirm_for=CONFIRM, cooldown=0.0) as w,
        ):
            figures = [_drill(w, i) for i in range(drills)]
            false_runs, decisions, flaps = _soak(w, soak)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _print(figures, false_runs, decisions, flaps, soak)
    return 0 if false_runs == 0 and all(f.get("rto") is not None for f in figures) else 1


def _drill(w: Any, i: int) -> dict[str, float | None]:
    from bench._failover_lab import PLAN, until
    from threenines.failover.drill import DrillRunner, load_marks

    until("a healthy estate", lambda: w.all_up() and w.serving_dc() == "dc-main", limit=120)
    runner = DrillRunner(w.orch(), poll=0.5, max_wait=120)
    drill_id = asyncio.run(runner.run(PLAN, "dc-cut", by=f"bench-{i}"))
    marks = {m.kind: m.ts for m in load_marks(w.engine, drill_id)}
    t0 = marks["fault_injected"]

    def since(kind: str) -> float | None:
        return marks[kind] - t0 if kind in marks else None

    out = {
        k: since(m)
        for k, m in (
            ("first_failed", "first_failed_probe"),
            ("detection", "confirmed_down"),
            ("decision", "decision"),
            ("first_user_ok", "first_user_probe_ok"),
            ("rto", "all_journeys_green"),
        )
    }
    if "playbook_end" in marks and "playbook_start" in marks:
        out["playbook"] = marks["playbook_end"] - marks["playbook_start"]
    print(f"drill {i + 1}: " + ", ".join(f"{k} {v:.1f}s" for k, v in out.items() if v), flush=True)
    return out


def _soak(w: Any, seconds: float) -> tuple[int, int, int]:
    """Flap dc-main's portal and make one path lossy; count failover runs and decisions."""
    from bench._failover_lab import until

    until("a healthy estate", lambda: w.all_up() and w.serving_dc() == "dc-main", limit=120)
    runs, after = len(w.runs()), w.last_event_id()
    started = time.time()
    loss = lab.fault_add("loss", "lib-grays", "30%", state=w.state)
    stop, flaps = threading.Event(), [0]

    def flap() -> None:
        while not stop.wait(15.0):
            fault = lab.fault_add("service-stop", "dc-main", "portal", state=w.state)
            time.sleep(1.0)
            lab.fault_clear(fault.id, state=w.state)  # returns once the portal answers again
            flaps[0] += 1

    flapper = threading.Thread(target=flap, daemon=True)
    flapper.start()
    try:
        time.sleep(seconds)
    finally:
        stop.set()
        flapper.join(60)
        lab.fault_clear(loss.id, state=w.state)
    decided = [e.details for e in w.stages(after, "decided")]
    downs = _downs(w, started)
    print(
        f"soak: the primary was seen down {downs[0]} time(s), from {downs[1]} vantage point(s); "
        f"{sum(d['reason'] == 'confirming' for d in decided)} unconfirmed quorum(s)"
    )
    return len(w.runs()) - runs, sum(d["action"] == "fail_over" for d in decided), flaps[0]


def _downs(w: Any, since: float) -> tuple[int, int]:
    """Failed probes of dc-main's portal since ``since``, and from how many vantage points."""
    import sqlalchemy as sa

    from threenines.core.tables import results

    q = sa.select(results.c.vantage).where(
        results.c.check_id.like("portal-dc-main/%"),
        results.c.status == "down",
        results.c.ts >= since,
    )
    with w.engine.connect() as conn:
        rows = [v for (v,) in conn.execute(q)]
    return len(rows), len(set(rows))


def _median(figures: list[dict[str, float | None]], key: str) -> tuple[float | None, float | None]:
    values = [f[key] for f in figures if f.get(key) is not None]
    return (statistics.median(values), max(values)) if values else (None, None)  # type: ignore[type-var, arg-type]


def _print(
    figures: list[dict[str, Any]], false_runs: int, decisions: int, flaps: int, soak: float
) -> None:
    print(
        f"\nfailover in the lab: {INTERVAL:g} s probes from 3 site agents + central, quorum 2, "
        f"confirmed after {CONFIRM:g} s; median of {len(figures)} dc-cut drills"
    )
    print(f"{'measure (from the fault)':48} {'median':>8} {'max':>8} {'goal':>8}")
    rows = [
        ("first failed probe", "first_failed"),
        ("confirmed down by quorum (detection)", "detection"),
        ("failover decided (run started)", "decision"),
        ("playbook duration", "playbook"),
        ("first user probe OK through the mirror", "first_user_ok"),
        ("all user journeys green via the mirror (RTO)", "rto"),
    ]
    for label, key in rows:
        med, top = _median(figures, key)
        goal = f"< {GOALS[key]:g}s" if key in GOALS else ""
        text = "not reached" if med is None else f"{med:7.1f}s {top:7.1f}s"
        print(f"{label:48} {text:>17} {goal:>8}")
    print(
        f"soak {soak:.0f} s: portal flapped {flaps}x + 30 % loss on lib-grays: "
        f"{false_runs} false failover run(s), {decisions} fail_over decision(s) (goal 0)"
    )
