"""Tamper-evident exclusions (the "whitewash" case): a maintenance window made after its start
needs a reason, is marked retroactive, counts only once a second admin approves it, and a
removal keeps the history; every step is in the hash-chained audit log."""

from __future__ import annotations

import json
import time

from avail_data import CONFIG, OCT, populate
from typer.testing import CliRunner

from threenines.agents.tokens import TokenStore
from threenines.app.cli import app
from threenines.core.audit import rows, verify
from threenines.reports.deliver import board_report, render

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    r = runner.invoke(app, list(args), env={"COLUMNS": "250", **(env or {})})
    return r.exit_code, r.stdout, r.stderr


def test_a_retroactive_window_waits_for_a_second_admin(db_url, tmp_path) -> None:
    cfg_obj, engine = populate(db_url)
    cfg = str(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text(CONFIG.replace("URL", db_url))
    tokens = TokenStore(engine)
    now = time.time()
    alice = tokens.create("admin", now=now, name="alice")[1]
    bob = tokens.create("operator", now=now, name="bob")[1]
    carol = tokens.create("admin", now=now, name="carol")[1]

    def downtime() -> float:
        code, out, _ = invoke("availability", "-c", cfg, "-p", "2026-10", "-s", "payments",
                              "--json")  # fmt: skip
        assert code == 0
        return float(json.loads(out)["rows"][0]["downtime_s"])

    assert downtime() == 3000
    add = ("maintenance", "add", "whitewash", "--start", "2026-10-20 13:30", "--duration", "2h",
           "--service", "payments", "--by", "alice", "-c", cfg)  # fmt: skip
    code, _, err = invoke(*add)
    assert code == 2 and "starts in the past: give --reason" in err
    code, out, _ = invoke(*add, "--reason", "database upgrade, window not entered in time")
    assert code == 0 and "retroactive: pending a second admin's approval" in out
    assert downtime() == 3000  # not counted yet
    code, out, _ = invoke("maintenance", "list", "--all", "-c", cfg)
    assert "not in effect, retroactive, pending approval" in out and "by alice" in out
    code, out, _ = invoke("maintenance", "list", "-c", cfg)  # past, but waiting: listed
    assert "window 1\trecord 1" in out and "pending approval" in out
    html = render(board_report(cfg_obj, engine, OCT, time.time()), "html").decode()
    assert "pending approval: NOT counted" in html and "record 1, by alice" in html

    approve = ("maintenance", "approve", "1", "-c", cfg)
    code, _, err = invoke(*approve, env={"THREENINES_TOKEN": alice})
    assert code == 2 and "alice made record 1: a second person must approve it" in err
    code, _, err = invoke(*approve, env={"THREENINES_TOKEN": bob})
    assert code == 2 and "needs the admin role (this token is operator)" in err
    code, _, err = invoke(*approve, env={"THREENINES_TOKEN": "not-a-token"})
    assert code == 2 and "not valid" in err
    code, out, _ = invoke(*approve, "--note", "checked the change ticket",
                          env={"THREENINES_TOKEN": carol})  # fmt: skip
    assert code == 0 and "approved" in out
    assert downtime() == 1200  # 30 min covered
    html = render(board_report(cfg_obj, engine, OCT, time.time()), "html").decode()
    assert "counted as maintenance, retroactive, approved by carol" in html

    code, _, err = invoke("maintenance", "remove", "1", "--by", "dave", "-c", cfg)
    assert code == 2 and "--reason" in err
    code, out, _ = invoke("maintenance", "remove", "1", "--by", "dave", "--reason", "no ticket",
                          "-c", cfg)  # fmt: skip
    assert code == 0 and "history kept" in out
    assert downtime() == 3000
    code, out, _ = invoke("maintenance", "list", "--all", "-c", cfg)
    lines = [x for x in out.splitlines() if x.startswith("window 1")]
    assert len(lines) == 2 and "\tadd\t" in lines[0] and "\tremove\t" in lines[1]
    assert "reason: no ticket" in lines[1] and "by dave" in lines[1]

    actions = [r["action"] for r in reversed(rows(engine, "maintenance:"))]
    assert actions == ["maintenance_add", "maintenance_approved", "maintenance_remove"]
    assert verify(engine).ok
    engine.dispose()


def test_the_api_lists_records_with_retroactive_and_approval(tmp_path) -> None:
    import sys
    from pathlib import Path

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from api_support import served

    from threenines.availability.history import add_window, exclusions_config
    from threenines.availability.schedule import Exclusion
    from threenines.availability.store import maintenance_windows

    with served(f"sqlite:///{tmp_path}/api.db", tmp_path) as api:
        now = time.time()
        policy = exclusions_config(api.ctx.config)
        win = Exclusion(now - 7200, now - 3600, "late", "not entered in time", ("web",))
        rid = add_window(api.ctx.engine, maintenance_windows, win, now=now, created_by="alice",
                         policy=policy)  # fmt: skip
        ahead = Exclusion(now + 3600, now + 7200, "planned", "patching")
        add_window(api.ctx.engine, maintenance_windows, ahead, now=now, created_by="alice",
                   policy=policy)  # fmt: skip
        url = f"{api.url}/api/v1/maintenance"
        got = httpx.get(url, headers=api.auth("viewer"), timeout=30).json()["records"]
        assert [(r["name"], r["retroactive"], r["in_effect"], r["status"]) for r in got] == [
            ("late", True, False, "retroactive, pending approval"),
            ("planned", False, True, None),
        ]
        post = f"{url}/{rid}/approve"
        body = {"note": "change ticket 42"}
        assert httpx.post(post, json=body, headers=api.auth("operator"), timeout=30
                          ).status_code == 403  # fmt: skip
        ok = httpx.post(post, json=body, headers=api.auth("admin"), timeout=30)
        assert ok.status_code == 200 and ok.json()["status"].startswith("retroactive, approved")
        again = httpx.post(post, json=body, headers=api.auth("admin"), timeout=30)
        assert again.status_code == 409 and "was approved by" in again.json()["detail"]
        gone = httpx.post(f"{url}/999/approve", headers=api.auth("admin"), timeout=30)
        assert gone.status_code == 404
        got = httpx.get(url, headers=api.auth("viewer"), timeout=30).json()["records"]
        assert got[0]["in_effect"] and got[0]["approved_by"] == ok.json()["approved_by"]
        assert got[0]["created_by"] == "alice" and got[0]["reason"] == "not entered in time"
        assert httpx.get(url, timeout=30).status_code == 401
