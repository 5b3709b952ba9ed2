"""Token and heartbeat stores on SQLite and PostgreSQL; role hierarchy; the disk queue."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from threenines.agents.tokens import (
    HeartbeatStore,
    TokenError,
    TokenStore,
    fingerprint,
    role_allows,
    token_hash,
)
from threenines.app.db import make_engine, migrate
from threenines.core.queue import DiskQueue


def test_tokens_hashed_verified_revoked(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    store = TokenStore(engine)
    agent, plain = store.create("agent", now=100.0, vantage="lib-grays", name="grays box")
    assert plain.startswith("tn_") and len(plain) > 40
    op, op_plain = store.create("operator", now=101.0, name="duty")
    listed = store.list()
    assert [(t["id"], t["role"], t["vantage"]) for t in listed] == [
        (agent.id, "agent", "lib-grays"), (op.id, "operator", None)
    ]  # fmt: skip
    assert all("hash" not in t for t in listed) and plain not in repr(listed)
    with engine.connect() as conn:
        stored = [r[0] for r in conn.exec_driver_sql("select hash from api_tokens")]
    assert token_hash(plain) in stored and plain not in stored
    got, why = store.verify(plain, now=200.0)
    assert (got, why) == (agent, "ok")
    assert store.list()[0]["last_used"] == 200.0
    store.verify(plain, now=210.0)  # within TOUCH_EVERY: no write
    assert store.list()[0]["last_used"] == 200.0
    assert store.verify("tn_wrong", now=200.0) == (None, "unknown")
    assert store.revoke(agent.id, now=300.0) and not store.revoke(agent.id, now=301.0)
    assert store.verify(plain, now=302.0) == (None, f"revoked id={agent.id}")
    assert store.verify(op_plain, now=302.0)[0] == op
    assert fingerprint(plain) not in token_hash(plain)
    for bad in [("agent", None), ("viewer", "lib-grays"), ("root", None)]:
        with pytest.raises(TokenError):
            store.create(bad[0], now=1.0, vantage=bad[1])
    engine.dispose()


def test_heartbeats(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    hb = HeartbeatStore(engine)
    hb.heard("v1", now=10.0, kind="config", address="127.0.0.1")
    hb.heard("v1", now=20.0, kind="ingest", address="127.0.0.1", results=5)
    hb.heard("v1", now=30.0, kind="ingest", address="127.0.0.2", results=7)
    got = hb.all()["v1"]
    assert (got["last_heard"], got["last_config"], got["last_ingest"]) == (30.0, 10.0, 30.0)
    assert (got["results"], got["address"]) == (12, "127.0.0.2")
    engine.dispose()


@pytest.mark.parametrize(
    ("role", "wanted", "ok"),
    [
        ("admin", ("operator",), True), ("admin", ("viewer",), True),
        ("operator", ("viewer",), True), ("operator", ("operator",), True),
        ("viewer", ("operator",), False), ("viewer", ("viewer",), True),
        ("agent", ("viewer",), False), ("agent", ("agent",), True),
        ("admin", ("agent",), False), ("operator", ("admin",), False),
    ],
)  # fmt: skip
def test_role_hierarchy(role: str, wanted: tuple[str, ...], ok: bool) -> None:
    assert role_allows(role, wanted) is ok


def _r(ts: float) -> dict[str, object]:
    return {"check_id": "web/a", "ts": ts, "status": "up"}


def test_queue_in_order_bounded_by_age_and_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", max_age=100.0, max_items=1000)
    assert q.put([_r(t) for t in range(1000, 1050)], now=1050.0) == 0
    assert [s for s, _ in q.peek(3)] == [1, 2, 3]
    q.remove([1, 2])
    assert len(q) == 48 and q.peek(1)[0][0] == 3
    caplog.set_level(logging.ERROR)
    dropped = q.put([_r(1120.0)], now=1120.0)  # ts 1002..1019 are now too old
    assert dropped == 18 and q.dropped == 18 and len(q) == 31
    assert "QUEUE FULL: DROPPED the 18 oldest" in caplog.text
    q.put([_r(1120.0)] * 1000, now=1120.0)  # the row cap drops the oldest too
    assert len(q) == 1000 and q.dropped == 49
    q.close()
    again = DiskQueue(tmp_path / "q.sqlite", max_age=100.0, max_items=1000)
    assert len(again) == 1000 and again.dropped == 49  # both survive a restart
    again.set_meta("config", "{}")
    assert again.get_meta("config") == "{}"
    again.close()
