"""The demos tell the truth.

The loopback demo (``make demo`` as a user, or ``DEMO_MODE=loopback``) is run end to end in a
scratch directory, piped (no terminal, COLUMNS unset), bounded by DEMO_SECONDS: an outage that
starts, is alerted to the demo's own receiver (firing and resolved) and recovers; blips hidden
by retries, counted, never downtime; a degraded page; a certificate about to expire; then the
status, availability and board report, in tables not folded to 80 columns. Everything stays
on 127.0.0.1. The lab demo needs root and the lab; its words come from ``summarise``, tested
here on status documents.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from threenines.demo import targets
from threenines.demo.lab import summarise

DEMO_SECONDS = 45
PORTS = (targets.HTTP_PORT, targets.HTTPS_PORT, targets.TCP_PORT, targets.RECEIVER_PORT, 9339)


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    taken = [p for p in PORTS if not _free(p)]
    require(not taken, f"the demo's ports {taken} are taken on 127.0.0.1 (a demo running?)")
    cwd = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(DEMO_MODE="loopback", DEMO_SECONDS=str(DEMO_SECONDS), TERM="dumb")
    run = subprocess.run(
        [sys.executable, "-m", "threenines.demo"],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=DEMO_SECONDS + 60,
    )  # fmt: skip
    state = cwd / "data" / "demo"
    received = [json.loads(x) for x in (state / "alerts.jsonl").read_text().splitlines() if x]
    with sqlite3.connect(cwd / "data" / "demo.db") as db:
        rows = db.execute("select check_id, status, attempts from results").fetchall()
    return {"run": run, "out": run.stdout, "cwd": cwd, "received": received, "rows": rows}


@pytest.mark.slow
@pytest.mark.timeout(DEMO_SECONDS + 90)
def test_loopback_demo_story(demo: dict[str, Any]) -> None:
    run, out, rows = demo["run"], demo["out"], demo["rows"]
    assert run.returncode == 0, run.stderr[-3000:]
    # the outage starts, is alerted and recovers
    assert re.search(r"down +housing/api @central", out)
    assert re.search(r"^housing/api: down at \S+ \(\d+ down result\(s\)\), up again at ", out, re.M)
    housing = [m for m in demo["received"] if "service housing " in m["title"]]
    kinds = [(m["type"], m["title"]) for m in housing]
    assert kinds[0] == ("failure", "[FIRING] service housing is down"), kinds
    assert kinds[-1][0] == "success" and "[RESOLVED]" in kinds[-1][1], kinds
    assert ">>> ALERT to on-call [failure] [FIRING] service housing is down" in out
    assert ">>> ALERT to on-call [success] [RESOLVED] service housing" in out
    assert re.search(r"for housing: firing at \S+, resolved at \S+", out)
    # retries hide the blips, are counted, and never leak as downtime
    payments = [(status, attempts) for check, status, attempts in rows if check == "payments/api"]
    retried = [a for s, a in payments if a > 1 and s == "up"]
    assert retried and all(s == "up" for s, _a in payments), payments
    assert re.search(r" up +payments/api @central http \d+ms x2 ", out)
    assert f"retries hid {len(retried)} blip(s)" in out and "0 counted down" in out
    assert re.search(r"│ payments +│ service +│ +100\.000% │", out)
    assert re.search(r"│ housing +│ service +│ +\d+\.\d+% │ +99\.9% │", out)
    assert not re.search(r"│ housing +│ service +│ +100\.000%", out)
    # a degraded page and a certificate about to expire
    assert re.search(r"degraded +planning/search @central http \d+ms \[slow\]", out)
    assert re.search(r"degraded +portal/certificate @central tls .*\[expiring\]", out)
    assert re.search(r"│ +│ certificate +│ central +│ degraded +│", out)
    # the end: status, availability over the run, the board report and the console
    assert "$ threenines status -c" in out
    assert re.search(r"\$ threenines availability --window \d+s -c", out)
    report = re.search(r"^The board report: (\S+)$", out, re.M)
    assert report and Path(report.group(1)).stat().st_size > 1000
    assert "http://127.0.0.1:9339/ (user demo, password in data/demo/console-password)" in out
    assert re.search(r"^Add a user: \S*threenines user add NAME --role ", out, re.M)
    # piped, the tables keep their width: a row's long reason is one line, not folded at 80
    table_rows = [line for line in out.splitlines() if line.startswith(("│", "┃"))]
    assert max(len(line) for line in table_rows) > 120
    assert any("certificate valid for 10 more days" in r and "under warn_days 14" in r
               for r in table_rows)  # fmt: skip


def test_outage_timeline_and_blips() -> None:
    """The outage the demo promises: up first, down from OUTAGE_START to OUTAGE_END, again each
    cycle; and a blip is never two failures in a row (one retry always hides it)."""
    t = targets
    assert not t.outage_now(0) and not t.outage_now(t.OUTAGE_START - 0.1)
    assert t.outage_now(t.OUTAGE_START) and t.outage_now(t.OUTAGE_END - 0.1)
    assert not t.outage_now(t.OUTAGE_END) and t.outage_now(t.OUTAGE_CYCLE + t.OUTAGE_START)
    assert t.OUTAGE_END <= 40  # seen, alerted and recovered inside a 60 s run
    fails = [n % t.FLAKY_EVERY == 0 for n in range(1, 100)]
    assert any(fails) and not any(a and b for a, b in itertools.pairwise(fails))


def _doc(
    checks: Sequence[tuple[str, str, str]], agents: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    services = sorted({c[0] for c in checks})
    states = {s: "up" if all(st == "up" for sv, _v, st in checks if sv == s) else "unknown"
              for s in services}  # fmt: skip
    return {
        "generated": 1000.0,
        "services": [{"service": s, "state": states[s]} for s in services],
        "checks": [
            {"service": s, "check": "home", "vantage": v, "state": st, "reason": "r"}
            for s, v, st in checks
        ],
        "agents": [{"vantage": v, "state": st, "last_heard": 990.0} for v, st in agents],
    }


def test_lab_summary_green_only_when_every_row_is_up() -> None:
    green = _doc([("portal", "central", "up"), ("portal", "lib-grays", "up")])
    assert summarise(green)[0].startswith("All green: 1 service(s), 2 check row(s) up")
    waiting = _doc([("portal", "central", "up"), ("portal", "lib-grays", "unknown")])
    words = summarise(waiting)
    assert not any("green" in w and "Not" not in w for w in words), words
    assert words[0] == "Not all green: of 2 check row(s), 1 unknown, 1 up"
    assert "  portal/home @lib-grays: unknown (r)" in words
    assert summarise(_doc([]))[0] == "No check rows yet: nothing to call green"


def test_lab_summary_silent_only_when_the_row_says_silent() -> None:
    checks = [("portal", "central", "up")]
    ok = summarise(_doc(checks, [("lib-grays", "ok")]), "lib-grays")
    assert ok[-1] == "agent lib-grays: ok (last heard 10s ago), not silent"
    assert not any(" is silent" in w for w in ok)
    silent = summarise(_doc(checks, [("lib-grays", "silent"), ("depot", "ok")]), "lib-grays")
    assert silent[-1].startswith("agent lib-grays is silent (last heard 10s ago)")
    assert not any("depot" in w for w in silent)
