"""Findings store, baselines, audit, report figures and metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from threenines.app.db import make_engine, migrate
from threenines.core.tables import events
from threenines.security import metrics, snmp_auth
from threenines.security.findings import Change, Finding, RunResult
from threenines.security.report import security_summary
from threenines.security.store import SecurityStore
from threenines.security.store_arp import ArpBindings
from threenines.security.store_baselines import BaselineStore


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


def port(p: int, severity: str = "major") -> Finding:
    return Finding.make(
        "port_opened",
        f"198.18.1.10/{p}",
        severity,
        "exposure:srv",
        f"198.18.1.10:{p}",
        f"port {p} open",
        {"port": p},
    )


def spoof() -> Finding:
    return Finding.make(
        "arp_spoof",
        "198.18.1.1/02:66",
        "critical",
        "arpspoof:s1",
        "198.18.1.1",
        "spoof",
        sticky=True,
    )


def sec_events(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).order_by(events.c.id)).all()
    assert all(r.source == "security" and r.category == "security" for r in rows)
    return [(r.kind, r.details["change"], r.subject) for r in rows]


def test_lifecycle_updates_not_duplicates_and_writes_events(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    changes = store.record(RunResult("exposure:srv", [port(23), port(8080)]), now=100)
    assert [c for _r, c in changes] == [Change.OPENED, Change.OPENED]
    assert store.record(RunResult("exposure:srv", [port(23), port(8080)]), now=200) == []
    rows = store.find("open")
    assert len(rows) == 2 and {r["occurrences"] for r in rows} == {2}
    assert {r["first_seen"] for r in rows} == {100} and {r["last_seen"] for r in rows} == {200}
    # an incomplete run resolves nothing; a complete one resolves what it no longer sees
    store.record(RunResult("exposure:srv", [], complete=False), now=250)
    assert len(store.find("open")) == 2
    store.record(RunResult("exposure:srv", [port(23, "critical")]), now=300)
    assert [r["key"] for r in store.find("resolved")] == ["port_opened/198.18.1.10/8080"]
    assert store.find("open")[0]["severity"] == "critical"
    store.record(RunResult("exposure:srv", [port(8080)]), now=400)
    assert sec_events(engine) == [
        ("port_opened", "opened", "port_opened/198.18.1.10/23"),
        ("port_opened", "opened", "port_opened/198.18.1.10/8080"),
        ("port_opened", "severity_changed", "port_opened/198.18.1.10/23"),
        ("port_opened_cleared", "resolved", "port_opened/198.18.1.10/8080"),
        ("port_opened_cleared", "resolved", "port_opened/198.18.1.10/23"),
        ("port_opened", "reopened", "port_opened/198.18.1.10/8080"),
    ]


def test_sticky_findings_stay_until_resolved_by_hand(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    store.record(RunResult("arpspoof:s1", [spoof()]), now=10)
    store.record(RunResult("arpspoof:s1", []), now=20)
    (row,) = store.find("open")
    assert store.resolve(row["id"], by="alice", reason="rogue unplugged", now=30)
    assert not store.resolve(row["id"], by="bob", reason="again", now=31)
    assert store.get(row["id"])["status"] == "resolved"
    assert store.audit_log()[0]["actor"] == "alice"


def test_acceptance_with_expiry(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    store.record(RunResult("exposure:srv", [port(23)]), now=10)
    fid = store.find("open")[0]["id"]
    assert store.accept(fid, by="alice", reason="legacy switch", until=100, now=20)
    assert not store.accept(fid, by="bob", reason="twice", until=None, now=21)
    store.record(RunResult("exposure:srv", [port(23)]), now=50)
    assert store.get(fid, now=50)["status"] == "accepted"
    store.record(RunResult("exposure:srv", [port(23)]), now=150)
    assert store.get(fid, now=150)["status"] == "open"
    changes = [(k, c) for k, c, _s in sec_events(engine)]
    assert changes == [
        ("port_opened", "opened"),
        ("port_opened_cleared", "accepted"),
        ("port_opened", "acceptance_expired"),
    ]
    audit = store.audit_log()
    assert (
        audit[0]["action"] == "finding_accepted"
        and audit[0]["details"]["reason"] == "legacy switch"
    )


def test_baseline_changes_are_decided_once_and_audited(engine: sa.Engine) -> None:
    store, base = SecurityStore(engine), BaselineStore(engine)
    host = "198.18.1.10"
    store.record(RunResult("exposure:srv", [port(23), port(3389)]), now=10)
    for p in (23, 3389):
        base.propose(host, "server", p, "add", f"port_opened/{host}/{p}", now=10)
        base.propose(host, "server", p, "add", f"port_opened/{host}/{p}", now=20)
    pending = base.find("pending")
    assert sorted(r["port"] for r in pending) == [23, 3389]
    by_port = {r["port"]: r["id"] for r in pending}
    assert base.decide(by_port[3389], accept=True, by="alice", reason="RDP gateway", now=30)
    assert not base.decide(by_port[3389], accept=False, by="bob", reason="late", now=31)
    assert base.decide(by_port[23], accept=False, by="bob", reason="telnet must go", now=32)
    assert base.allowed(host, {22}) == {22, 3389}
    base.propose(host, "server", 23, "add", f"port_opened/{host}/23", now=40)
    assert base.find("pending") == []  # a rejected change is not proposed again
    statuses = {r["subject"]: r["status"] for r in store.find(None)}
    assert statuses[f"{host}:3389"] == "resolved" and statuses[f"{host}:23"] == "open"
    actions = [(a["action"], a["actor"]) for a in store.audit_log()]
    assert actions == [("baseline_rejected", "bob"), ("baseline_accepted", "alice")]
    base.propose(host, "server", 22, "remove", f"port_closed/{host}/22", now=50)
    (rm,) = base.find("pending")
    base.decide(rm["id"], accept=True, by="alice", reason="ssh retired", now=60)
    assert base.allowed(host, {22}) == {3389}


def test_withdraw_stale_pending(engine: sa.Engine) -> None:
    base = BaselineStore(engine)
    base.propose("h", None, 8080, "add", "k", now=1)
    assert base.withdraw("h", keep=set(), scanned={8080}) == 1
    assert base.find(None) == []


def test_report_figures(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    store.record(RunResult("exposure:srv", [port(23, "critical"), port(80)]), now=1000)
    store.record(RunResult("exposure:srv", [port(23, "critical")]), now=1600)  # 80 resolved
    store.record(RunResult("arpspoof:s1", [spoof()]), now=5000)  # after the period
    s = security_summary(engine, 0, 2000)
    assert (s.opened, s.resolved, s.open_critical) == (2, 1, 1)
    assert s.mean_time_to_resolve == pytest.approx(600)
    assert s.opened_by_severity == {"critical": 1, "major": 1}
    assert security_summary(engine, 0, 6000).open_critical == 2


def test_metrics_by_severity_and_kind(engine: sa.Engine) -> None:
    store = SecurityStore(engine)
    store.record(RunResult("exposure:srv", [port(23, "critical"), port(80)]), now=10)
    store.record(RunResult("arpspoof:s1", [spoof()]), now=10)
    registry = CollectorRegistry()
    metrics.register(registry, engine)
    get = registry.get_sample_value
    name = "threenines_security_findings_open"
    assert get(name, {"severity": "critical", "kind": "port_opened"}) == 1
    assert get(name, {"severity": "major", "kind": "port_opened"}) == 1
    assert get(name, {"severity": "critical", "kind": "arp_spoof"}) == 1


def test_auth_failures_counted_per_source(engine: sa.Engine) -> None:
    rows = [
        {
            "ts": 100 + i,
            "source": "snmp_trap",
            "kind": "auth_failure",
            "severity": "minor",
            "category": "security",
            "device": "sw1" if i % 3 else None,
            "subject": None,
            "message": "",
            "details": {"source": "198.18.1.50"},
        }
        for i in range(9)
    ]
    with engine.begin() as conn:
        conn.execute(events.insert(), rows)
    counts = snmp_auth.count_by_source(engine, 0, 1000)
    assert counts == {"sw1": 6, "198.18.1.50": 3}
    found = snmp_auth.findings(counts, threshold=5, window=900, check="snmp_auth")
    assert [(f.kind, f.subject) for f in found] == [("snmp_auth_failures", "sw1")]


def test_arp_bindings_learn_once(engine: sa.Engine) -> None:
    b = ArpBindings(engine)
    b.learn({"198.18.1.1": "02:00:00:00:00:01"}, "s1", now=1)
    b.learn({"198.18.1.1": "02:00:00:00:00:66"}, "s1", now=2)
    assert b.learned(["198.18.1.1", "198.18.1.2"]) == {"198.18.1.1": "02:00:00:00:00:01"}
    assert b.forget("198.18.1.1", by="alice", now=3)
    assert b.learned(["198.18.1.1"]) == {}
