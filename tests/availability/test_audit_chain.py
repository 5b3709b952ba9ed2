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
    assert ("1 row(s) after row 4 are missing: report 2026-10 saw the log at row 5 (deleted "
            "from the end)") in check.problems  # fmt: skip
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


def test_rows_deleted_from_the_end_are_found_by_audit_verify_alone(db_url, tmp_path) -> None:
    """Tail truncation leaves no gap in ``seq``: the head record (written with each row, in
    its transaction) still says how far the log reached."""
    engine = make_engine(db_url)
    migrate(engine)
    _fill(engine, 6)
    path = tmp_path / "c.yaml"
    path.write_text(f'storage: {{url: "{db_url}"}}\n')
    c = audit_log.c
    with engine.begin() as conn:  # the two newest rows go
        conn.execute(audit_log.delete().where(c.seq >= 5))
    bad = CliRunner().invoke(app, ["audit", "verify", "-c", str(path)])
    assert bad.exit_code == 1, bad.output
    assert ("audit log: 2 row(s) after row 4 are missing: the head record says the log "
            "reached row 6 (deleted from the end)") in bad.stderr  # fmt: skip

    from threenines.core.audit import audit_head

    with engine.begin() as conn:  # ... and the head record with them
        conn.execute(audit_head.delete())
    bad = CliRunner().invoke(app, ["audit", "verify", "-c", str(path)])
    assert bad.exit_code == 1
    assert "the head record is missing (4 rows in the log)" in bad.stderr
    engine.dispose()


def test_the_head_record_is_set_from_an_existing_log_by_the_migration(db_url) -> None:
    """A store made before audit_0002 keeps its rows; the upgrade starts the head at them."""
    from threenines.core.audit import audit_head, recorded_head

    engine = make_engine(db_url)
    migrate(engine)
    _fill(engine, 3)
    with engine.begin() as conn:
        conn.execute(audit_head.delete())
        conn.execute(sa.text("DROP TABLE audit_head"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'audit_0001' "
                             "WHERE version_num = 'audit_0002'"))  # fmt: skip
    migrate(engine)
    with engine.connect() as conn:
        assert recorded_head(conn) == (3, head(conn)[1], 3)
    assert verify(engine).ok
    engine.dispose()
