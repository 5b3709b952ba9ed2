"""`threenines failover ...` and `threenines drill ...` against a real HAProxy on loopback, and
the drill timeline figures (pure)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from failover_helpers import FrontDoor, config_yaml, primary_down, start_front_door
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.app.db import make_engine, migrate
from threenines.availability.store import drill_periods
from threenines.core.tables import events
from threenines.failover.config import Plan
from threenines.failover.drill_report import render_html, timeline_svg
from threenines.failover.timeline import Mark, summarise

cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})
    return res.exit_code, res.output


@pytest.fixture
def setup(front_door: FrontDoor, tmp_path: Path):
    url = f"sqlite:///{tmp_path}/t.db"
    path = tmp_path / "cfg.yaml"
    path.write_text(config_yaml(tmp_path, front_door, db_url=url, mode="approve"))
    engine = make_engine(url)
    migrate(engine)
    return str(path), engine, front_door


@pytest.mark.parametrize(
    "cmd", ["status", "plan", "run", "approve", "cancel", "failback", "history", "watch", "auto"]
)
def test_failover_help(cmd: str):
    code, text = invoke("failover", cmd, "--help")
    assert code == 0 and "Usage" in text


@pytest.mark.parametrize("cmd", ["run", "report", "list"])
def test_drill_help(cmd: str):
    code, text = invoke("drill", cmd, "--help")
    assert code == 0 and "Usage" in text


def test_operator_commands(setup):
    cfg, engine, fd = setup
    code, text = invoke("failover", "plan", "main-to-mirror", "-c", cfg)
    assert code == 0 and "dc-main -> dc-mirror" in text and "wait: no_data" in text
    code, text = invoke("failover", "run", "nope", "-c", cfg)
    assert code == 2 and "no failover plan 'nope'" in text

    code, text = invoke("failover", "run", "main-to-mirror", "--dry-run", "-c", cfg)
    assert code == 0 and "succeeded (2 change(s)" in text
    assert fd.served_by() == "dc-main"

    primary_down(engine, time.time())
    code, text = invoke("failover", "auto", "--once", "-c", cfg)
    assert "refuse: needs_approval" in text and fd.served_by() == "dc-main"
    code, text = invoke("failover", "approve", "main-to-mirror", "--by", "alice", "-c", cfg)
    assert code == 0 and "valid for 300s" in text
    code, text = invoke("failover", "auto", "--once", "-c", cfg)
    assert "verified" in text and fd.served_by() == "dc-mirror"

    code, text = invoke("failover", "watch", "-c", cfg)
    assert code == 0 and "PLAY Switch the front door to the mirror" in text
    assert "changed" in text and "verified" in text
    code, text = invoke("failover", "status", "-c", cfg)
    assert code == 0 and "failed_over" in text
    code, text = invoke("failover", "failback", "main-to-mirror", "--by", "alice", "-c", cfg)
    assert code == 0 and fd.served_by() == "dc-main"
    code, text = invoke("failover", "history", "-c", cfg)
    assert code == 0 and "failback" in text and "failover (check)" in text
    code, text = invoke("failover", "cancel", "-c", cfg)
    assert code == 0 and "nothing runs" in text


def test_tabletop_drill_and_report(setup, tmp_path: Path):
    cfg, engine, fd = setup
    code, text = invoke("drill", "run", "main-to-mirror", "--scenario", "tabletop", "-c", cfg)
    assert code == 0, text
    assert "drill 1: done" in text and fd.served_by() == "dc-main"
    with engine.connect() as conn:
        tags = [r.details["tags"] for r in conn.execute(sa.select(events))]
        period = conn.execute(sa.select(drill_periods)).one()
    assert tags and all("drill" in t for t in tags)  # every event of the drill is tagged
    assert period.name == "drill-1" and period.sites == ["dc-main", "dc-mirror"]

    html_file, pdf_file = tmp_path / "d.html", tmp_path / "d.pdf"
    assert invoke("drill", "report", "1", "-o", str(html_file), "-c", cfg)[0] == 0
    html = html_file.read_text()
    assert "<svg" in html and "Playbook started" in html and "Failback done" in html
    assert "excluded" in html and "not reached" in html
    code, _ = invoke("drill", "report", "1", "-o", str(pdf_file), "-c", cfg)
    assert code == 0 and pdf_file.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf_file), "-"], capture_output=True, text=True)
    if text.returncode == 0:
        assert "DR drill 1" in text.stdout
    assert "tabletop" in invoke("drill", "list", "-c", cfg)[1]


PLAN = Plan.model_validate(
    {
        "name": "p",
        "primary": "a",
        "mirror": "b",
        "trigger": {"services": ["x"]},
        "playbook": {"path": "f.yml"},
        "failback": {"path": "b.yml"},
        "preflight": {"rpo": "5m", "replication_lag": {"command": ["lag"]}},
        "objectives": {"rto": "30s"},
    }
)


def test_summary_figures_and_objectives():
    marks = [
        Mark(100, "fault_injected"),
        Mark(103, "first_failed_probe"),
        Mark(112, "confirmed_down"),
        Mark(112.5, "preflight", details={"replication_lag": 4.0, "capacity": 0.6}),
        Mark(113, "decision"),
        Mark(113.1, "playbook_start"),
        Mark(118, "playbook_end"),
        Mark(119, "first_user_probe_ok"),
        Mark(121.5, "all_journeys_green"),
    ]
    s = summarise(PLAN, marks)
    assert (s.rto, s.detection, s.rpo, s.capacity) == (21.5, 12, 4.0, 0.6)
    assert [o.met for o in s.objectives] == [True, True, True]
    assert s.problems == ()
    slow = summarise(PLAN, [*marks[:-1], Mark(140, "all_journeys_green")])
    assert slow.objectives[0].met is False and slow.rto == 40
    missing = summarise(PLAN, marks[:3])
    assert missing.rto is None and missing.objectives[0].met is None
    assert "never reached: All user journeys green (RTO)" in missing.problems


def test_timeline_chart_has_one_point_per_mark():
    marks = [Mark(0, "fault_injected"), Mark(5, "confirmed_down"), Mark(20, "all_journeys_green")]
    svg = timeline_svg(marks)
    assert svg.count("<circle") == 3 and "+20.0s" in svg
    html = render_html(
        {
            "id": 3,
            "plan": "p",
            "scenario": "dc-cut",
            "state": "done",
            "started": 0,
            "finished": 30,
            "actor": "me",
            "summary": {"problems": ["x<y"]},
        },
        marks,
    )
    assert "x&lt;y" in html  # escaped


@pytest.fixture
def front_door(tmp_path: Path) -> Iterator[FrontDoor]:
    yield from start_front_door(tmp_path)
