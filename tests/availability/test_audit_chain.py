"""The audit log is hash-chained: ``threenines audit verify`` finds an edited or a deleted row,
on SQLite and on PostgreSQL; a deleted last row is found against an anchor."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.app.db import make_engine, migrate
from threenines.core.audit import append, audit_log, head, verify


def _fill(engine, n: int = 5) -> None:
    for i in range(n):
        with engine.begin() as conn:
            detail = {"reason": "patch", "i": i, "é": 1.5}
            append(conn, ts=1_790_000_000.25 + i, actor="alice", action="maintenance_added",
                   subject=f"maintenance:{i}", detail=detail)  # fmt: skip


def test_an_edited_or_deleted_row_is_found(db_url, tmp_path) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    _fill(engine)
    assert verify(engine).ok and verify(engine).rows == 5
    with engine.connect() as conn:
        anchor = (*head(conn), "report 2026-10")
    path = tmp_path / "c.yaml"
    path.write_text(f'storage: {{url: "{db_url}"}}\n')
    ok = CliRunner().invoke(app, ["audit", "verify", "-c", str(path)])
    assert ok.exit_code == 0 and "intact: 5 rows" in ok.stdout, ok.output

    c = audit_log.c
    with engine.begin() as conn:  # someone softens a reason in place
        conn.execute(audit_log.update().where(c.seq == 2).values(detail='{"reason":"other"}'))
    check = verify(engine)
    assert check.problems == ("row 2 (maintenance_added maintenance:1): content changed",)
    bad = CliRunner().invoke(app, ["audit", "verify", "-c", str(path)])
    assert bad.exit_code == 1 and "row 2" in bad.stderr

    with engine.begin() as conn:  # ... and deletes the row instead
        conn.execute(audit_log.delete().where(c.seq == 2))
        conn.execute(audit_log.delete().where(c.seq == 5))  # and the newest
    check = verify(engine, [anchor])
    assert "rows 2..2 are missing (deleted)" in check.problems
    assert "row 5, recorded by report 2026-10, is missing or changed" in check.problems
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 3
    engine.dispose()


def test_concurrent_appends_keep_one_chain(db_url) -> None:
    import threading

    engine = make_engine(db_url)
    migrate(engine)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                with engine.begin() as conn:
                    append(conn, ts=1.0 + i, actor=name, action="x", subject=f"{name}:{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    check = verify(engine)
    assert check.ok and check.rows == 45, check.problems
    engine.dispose()
