"""A finding or an audit row the database refuses is quarantined; the rest of the run (or the
decision) still goes through. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from test_sec_store import port

from threenines.app.db import make_engine, migrate
from threenines.core.quarantine import quarantined
from threenines.security.findings import RunResult
from threenines.security.store import SecurityStore


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


def _status(store: SecurityStore) -> dict[str, str]:
    return {r["key"]: r["status"] for r in store.find(None)}


def test_a_refused_finding_holds_up_nothing_and_is_not_resolved(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    store.record(RunResult("exposure:srv", [port(22), port(23)]), now=100)
    refused = dataclasses.replace(port(22), subject=None)  # type: ignore[arg-type]
    odd = dataclasses.replace(port(80), message="banner \x00\udc80", evidence={"b": b"\x00"})
    changes = store.record(RunResult("exposure:srv", [refused, odd]), now=200)
    assert sorted((r["key"], c.value) for r, c in changes) == [
        ("port_opened/198.18.1.10/23", "resolved"),  # not reported: resolved
        ("port_opened/198.18.1.10/80", "opened"),
    ]
    assert _status(store) == {
        "port_opened/198.18.1.10/22": "open",  # reported but refused: left as it was
        "port_opened/198.18.1.10/23": "resolved",
        "port_opened/198.18.1.10/80": "open",
    }
    (row,) = [r for r in store.find(None) if r["key"].endswith("/80")]
    assert row["message"] == "banner \ufffd\ufffd" and row["evidence"] == {"b": "\ufffd"}
    (kept,) = quarantined(engine, "security_findings")
    assert json.loads(kept["raw"])["key"] == "port_opened/198.18.1.10/22"
    assert kept["reason"].startswith("IntegrityError")


def test_a_refused_audit_row_is_quarantined_and_the_decision_stands(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    store.record(RunResult("exposure:srv", [port(23)]), now=100)
    (finding,) = store.find()
    assert store.accept(finding["id"], by=None, reason="x\x00", until=None, now=150)  # type: ignore[arg-type]
    assert _status(store) == {"port_opened/198.18.1.10/23": "accepted"}
    assert store.audit_log() == []
    (kept,) = quarantined(engine, "security_audit")
    raw = json.loads(kept["raw"])
    assert (raw["actor"], raw["action"], raw["details"]["reason"]) == (
        None, "finding_accepted", "x\x00"
    )  # fmt: skip
    assert store.resolve(finding["id"], by="ops", reason="fixed", now=160)
    assert [a["action"] for a in store.audit_log()] == ["finding_resolved"]
