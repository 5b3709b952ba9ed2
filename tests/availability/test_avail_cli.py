"""``threenines availability``, ``maintenance`` and ``report`` against a real SQLite store."""

from __future__ import annotations

import csv
import io
import json

import pytest
from avail_data import CONFIG, OCT, populate
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.availability.store import read_daily

runner = CliRunner()


@pytest.fixture
def setup(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    _cfg, engine = populate(url)
    path = tmp_path / "council.yaml"
    path.write_text(CONFIG.replace("URL", url))
    yield str(path), engine
    engine.dispose()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "cmd",
    [
        ["availability"],
        ["availability", "summarise"],
        ["maintenance"],
        ["maintenance", "add"],
        ["maintenance", "list"],
        ["maintenance", "remove"],
        ["report"],
    ],
)
def test_help_works_everywhere(cmd):
    code, out, _ = invoke(*cmd, "--help")
    assert code == 0 and "Usage" in out


def test_availability_json_for_a_period_and_a_service(setup):
    cfg, _ = setup
    code, out, _ = invoke("availability", "-c", cfg, "--period", "2026-10", "--json")
    assert code == 0
    rows = {r["subject"]: r for r in json.loads(out)["rows"]}
    assert rows["payments"]["downtime_s"] == 3000 and rows["payments"]["met"] is False
    assert set(rows["payments"]["burn"]) == {"1h", "6h", "1d", "3d"}
    assert rows["library"]["kind"] == "site" and rows["estate"]["kind"] == "estate"
    code, out, _ = invoke("availability", "-c", cfg, "-p", "2026-10", "-s", "email", "--json")
    kinds = [r["kind"] for r in json.loads(out)["rows"]]
    assert code == 0 and kinds == ["service", "check"]
    code, out, _ = invoke("availability", "-c", cfg, "-p", "2026-10", "--site", "library")
    assert code == 0 and "wan-library" in out and "payments" not in out


def test_availability_rejects_bad_input(setup):
    cfg, _ = setup
    code, _, err = invoke("availability", "-c", cfg, "--period", "2026-13")
    assert code == 2 and "month must be in 1..12" in err
    code, _, err = invoke("availability", "-c", cfg, "--service", "nope")
    assert code == 2 and "unknown service 'nope'" in err
    code, _, err = invoke("availability", "-c", cfg, "--window", "soon")
    assert code == 2 and "not a duration" in err


def test_maintenance_add_list_remove_changes_the_figures(setup):
    cfg, _ = setup
    # payments was down 14:00-14:30 local on 20 October: cover it with a window
    code, out, _ = invoke(
        "maintenance", "add", "db-upgrade", "--start", "2026-10-20 13:30", "--duration", "2h",
        "--service", "payments", "--reason", "database upgrade", "--by", "alice", "-c", cfg,
    )  # fmt: skip
    assert code == 0 and "maintenance window 1 added" in out and "pending" in out
    code, out, _ = invoke("maintenance", "list", "--all", "-c", cfg)
    assert code == 0 and "db-upgrade" in out and "payments" in out
    code, out, _ = invoke("availability", "-c", cfg, "-p", "2026-10", "-s", "payments", "--json")
    assert json.loads(out)["rows"][0]["downtime_s"] == 3000  # retroactive: not counted yet
    code, _, err = invoke(
        "maintenance", "add", "x", "--start", "2026-10-20 13:30", "--by", "a", "-c", cfg
    )
    assert code == 2 and "--end or --duration" in err
    code, _, err = invoke(
        "maintenance", "add", "x", "--start", "2026-10-20", "--duration", "1h", "--site", "mars",
        "--by", "a", "-c", cfg,
    )  # fmt: skip
    assert code == 2 and "mars" in err
    gone = ("maintenance", "remove", "1", "--reason", "wrong", "--by", "alice", "-c", cfg)
    assert invoke(*gone)[0] == 0
    code, _, err = invoke(*gone)
    assert code == 2 and "was removed" in err


def test_report_command_writes_each_format(setup, tmp_path):
    cfg, _ = setup
    code, out, _ = invoke("report", "--period", "2026-10", "--format", "csv", "-c", cfg)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["section"] == "period" and rows[0]["kind"] == "Europe/London"
    assert rows[1]["section"] == "estate"
    target = tmp_path / "out"
    target.mkdir()
    code, _, err = invoke("report", "-p", "2026-10", "-f", "html", "-o", str(target), "-c", cfg)
    assert code == 0 and (target / "threenines-availability-2026-10.html").exists()
    code, _, err = invoke("report", "-p", "2026-10", "-f", "docx", "-c", cfg)
    assert code == 2 and "unknown format" in err
    code, _, err = invoke("report", "-p", "2026-10", "--site", "mars", "-c", cfg)
    assert code == 2 and "unknown site" in err


def test_daily_summaries_written_for_complete_days(setup):
    cfg_path, engine = setup
    from threenines.app.config import load_config
    from threenines.availability.load import summarise_days

    cfg = load_config(cfg_path)
    n = summarise_days(engine, cfg, OCT.first, OCT.last, OCT.end + 3600)
    assert n == 31 * (5 + 5)  # per day: 5 services and 5 checks
    rows = read_daily(engine, "service", "2026-10-14", "2026-10-14", ["catalogue", "wan-library"])
    by = {r.subject: r for r in rows}
    assert by["wan-library"].down == 7200 and by["wan-library"].incidents == 1
    assert by["catalogue"].outside_hours == 16 * 3600
    autumn = read_daily(engine, "service", "2026-10-25", "2026-10-25", ["intranet"])[0]
    assert autumn.end - autumn.start == 25 * 3600
