"""Issued reports: an immutable snapshot with a SHA-256 per file; ``report verify`` finds an
edited copy; a later exclusion that changes an issued period shows as a restatement (old
figure, new figure, the record that caused it) in the next report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "availability"))
from avail_data import CONFIG, populate

from threenines.agents.tokens import TokenStore
from threenines.app.cli import app
from threenines.core.audit import audit_log

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    r = runner.invoke(app, list(args), env={"COLUMNS": "250", **(env or {})})
    return r.exit_code, r.stdout, r.stderr


def test_issue_verify_and_restate(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    _cfg, engine = populate(url)
    cfg = str(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text(CONFIG.replace("URL", url))
    oct_html = tmp_path / "oct.html"

    code, _, err = invoke("report", "-p", "2026-10", "--issue", "-c", cfg)
    assert code == 2 and "--by" in err
    code, _, err = invoke("report", "-p", "2026-10", "-f", "html", "--issue", "--by", "alice",
                          "-o", str(oct_html), "-c", cfg)  # fmt: skip
    assert code == 0 and "issued report 2026-10 estate #1 (html), SHA-256" in err
    html = oct_html.read_text()
    assert "Issued report 2026-10 estate #1, issued by alice" in html

    code, out, _ = invoke("report", "verify", str(oct_html), "-c", cfg)
    assert code == 0 and "issued report 2026-10 estate #1 (html)" in out and "matches" in out

    edited = tmp_path / "edited.html"  # someone improves a figure in the sent copy
    edited.write_text(html.replace("missed", "met", 1))
    code, _, err = invoke("report", "verify", str(edited), "-c", cfg)
    assert code == 1 and "says it is issued report 2026-10 estate #1" in err
    assert "changed after it was issued" in err
    stranger = tmp_path / "other.csv"
    stranger.write_text("section,name\n")
    code, _, err = invoke("report", "verify", str(stranger), "-c", cfg)
    assert code == 1 and "not an issued file" in err

    # after the issue, payments' outage on 20 Oct is covered by an approved retroactive window
    code, _, _ = invoke("maintenance", "add", "late-entry", "--start", "2026-10-20 13:30",
                        "--duration", "2h", "--service", "payments", "--by", "bob",
                        "--reason", "upgrade not entered in time", "-c", cfg)  # fmt: skip
    assert code == 0
    carol = TokenStore(engine).create("admin", now=time.time(), name="carol")[1]
    code, _, _ = invoke("maintenance", "approve", "1", "-c", cfg, env={"THREENINES_TOKEN": carol})
    assert code == 0
    code, out, err = invoke("report", "-p", "2026-11", "-f", "csv", "--issue", "--by", "alice",
                            "-c", cfg)  # fmt: skip
    assert code == 0 and "restated" in err, err
    rows = [x for x in out.splitlines() if x.startswith("restatement,")]
    payments = next(x for x in rows if ": payments " in x)
    assert "2026-10 estate #1: payments 99.88" in payments and "(down 3000s -> 1200s)" in payments
    assert "maintenance record 1 (add 'late-entry') by bob" in payments
    assert "approved by carol" in payments
    code, out, _ = invoke("report", "-p", "2026-11", "-f", "html", "-c", cfg)
    assert '<h2 id="restatements">Restatements</h2>' in out and "Restated:" in out

    with engine.begin() as conn:  # the issue's audit row is deleted: the copy no longer checks
        c = audit_log.c
        conn.execute(audit_log.delete().where(c.subject.like("report:2026-10%")))
    code, _, err = invoke("report", "verify", str(oct_html), "-c", cfg)
    assert code == 1 and "audit-log row is missing" in err
    code, _, err = invoke("audit", "verify", "-c", cfg)
    assert code == 1 and "missing (deleted)" in err
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from report_issues")).scalar() == 2
    engine.dispose()
