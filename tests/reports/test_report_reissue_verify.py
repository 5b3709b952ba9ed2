"""An issued period issued again after its exclusions changed carries the restatement against
its own earlier issue; ``report verify`` of an edited copy says in one line which file, which
issue it claims to be and what changed, for HTML, PDF, CSV and JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "availability"))
from avail_data import CONFIG, populate

from threenines.agents.tokens import TokenStore
from threenines.app.cli import app

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    r = runner.invoke(app, list(args), env={"COLUMNS": "250", **(env or {})})
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def store(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/r.db"
    _cfg, engine = populate(url)
    (tmp_path / "c.yaml").write_text(CONFIG.replace("URL", url))
    yield str(tmp_path / "c.yaml"), engine
    engine.dispose()


def test_a_second_issue_of_a_period_restates_the_first(store, tmp_path: Path) -> None:
    cfg, engine = store
    code, first, _ = invoke("report", "-p", "2026-10", "-f", "json", "--issue", "--by", "alice",
                            "-c", cfg)  # fmt: skip
    assert code == 0 and json.loads(first)["restatements"] == []
    code, _, _ = invoke("maintenance", "add", "late-entry", "--start", "2026-10-20 13:30",
                        "--duration", "2h", "--service", "payments", "--by", "bob",
                        "--reason", "upgrade not entered in time", "-c", cfg)  # fmt: skip
    assert code == 0
    carol = TokenStore(engine).create("admin", now=time.time(), name="carol")[1]
    assert invoke("maintenance", "approve", "1", "-c", cfg, env={"THREENINES_TOKEN": carol})[0] == 0

    out_file = tmp_path / "oct2.csv"
    code, _, err = invoke("report", "-p", "2026-10", "-f", "csv", "--issue", "--by", "alice",
                          "-o", str(out_file), "-c", cfg)  # fmt: skip
    assert code == 0 and "issued report 2026-10 estate #2 (csv)" in err
    assert "restated" in err, err
    rows = [x for x in out_file.read_text().splitlines() if x.startswith("restatement,")]
    payments = next(x for x in rows if ": payments " in x)
    assert "2026-10 estate #1: payments 99.88" in payments and "(down 3000s -> 1200s)" in payments
    assert "maintenance record 1 (add 'late-entry') by bob" in payments
    assert "approved by carol" in payments
    # the stored snapshot of #2 is that file, restatement included
    code, out, _ = invoke("report", "verify", str(out_file), "-c", cfg)
    assert code == 0 and "issued report 2026-10 estate #2 (csv)" in out
    # issued a third time with nothing changed: #3 restates nothing against #2
    code, third, _ = invoke("report", "-p", "2026-10", "-f", "json", "--issue", "--by", "alice",
                            "-c", cfg)  # fmt: skip
    assert code == 0 and json.loads(third)["restatements"] == []


EDITS = {
    "html": lambda b: b.replace(b"missed", b"met", 1),
    "csv": lambda b: b.replace(b"missed", b"met", 1),
    "json": lambda b: b.replace(b'"met": false', b'"met": true', 1),
    "pdf": lambda b: b + b"\n1 0 obj\n<</Type /Catalog>>\nendobj\n%%EOF\n",  # an editor's save
}


@pytest.mark.parametrize("fmt", ["html", "pdf", "csv", "json"])
def test_verify_of_an_edited_copy_names_the_file_the_issue_and_the_change(
    store, tmp_path: Path, fmt: str
) -> None:
    cfg, _engine = store
    issued = tmp_path / f"issued.{fmt}"
    code, _, err = invoke("report", "-p", "2026-10", "-f", fmt, "--issue", "--by", "alice",
                          "-o", str(issued), "-c", cfg)  # fmt: skip
    assert code == 0, err
    data = issued.read_bytes()
    edited = tmp_path / f"board-copy.{fmt}"
    edited.write_bytes(EDITS[fmt](data))
    assert edited.read_bytes() != data
    code, out, err = invoke("report", "verify", str(edited), "-c", cfg)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line: the verdict
    line = lines[0]
    assert line.startswith(f"{edited}: FAILED: changed after it was issued"), line
    assert f"it says it is issued report 2026-10 estate #1 ({fmt})" in line
    if fmt == "pdf":
        assert "bytes were appended after the issued file's end" in line
    else:
        assert "first change at line " in line and "met" in line.split("first change", 1)[1]
    code, out, _ = invoke("report", "verify", str(issued), "-c", cfg)
    assert code == 0 and out.startswith(f"{issued}: OK: issued report 2026-10 estate #1 ({fmt})")


def test_audit_verify_holds_the_log_to_the_heads_issued_reports_saw(store) -> None:
    """The newest rows and the head record deleted together: the issued report's anchor (the
    head it saw, kept with its snapshot) still shows the rows are gone."""
    cfg, engine = store
    code, _, _ = invoke("maintenance", "add", "patching", "--start", "2026-12-20 13:30",
                        "--duration", "2h", "--service", "payments", "--by", "bob",
                        "--reason", "planned", "-c", cfg)  # fmt: skip
    assert code == 0
    assert invoke("report", "-p", "2026-10", "-f", "csv", "--issue", "--by", "alice",
                  "-c", cfg)[0] == 0  # fmt: skip
    assert invoke("audit", "verify", "-c", cfg)[0] == 0
    from threenines.core.audit import audit_head, audit_log

    with engine.begin() as conn:  # every row and the head record
        conn.execute(audit_log.delete())
        conn.execute(audit_head.delete())
    code, _, err = invoke("audit", "verify", "-c", cfg)
    assert code == 1
    assert ("audit log: 1 row(s) after row 0 are missing: issued report 2026-10 estate #1 saw "
            "the log at row 1 (deleted from the end)") in err  # fmt: skip
