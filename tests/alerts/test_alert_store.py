"""Alert store and outbox on SQLite and PostgreSQL: atomic apply, restart state, claims."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alerts_support import T0, Sim, acfg, down
from sqlalchemy import Engine

from threenines.alerts.model import Silence
from threenines.alerts.outbox_store import OutboxStore
from threenines.alerts.render import render
from threenines.alerts.store import AlertStore
from threenines.app.db import make_engine, migrate


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


def _decision(receivers: list[str]) -> tuple[Sim, object]:
    routes = [{"name": "ops", "receivers": receivers, "group_wait": "0s"}]
    sim = Sim(acfg(routes=routes))
    from threenines.alerts.policy import decide

    d = decide(sim.state, [down("service:a", T0, cause="refused")], T0, sim.ctx)
    return sim, d


def test_apply_writes_incidents_notifications_and_one_outbox_row_per_receiver(
    engine: Engine,
) -> None:
    _sim, d = _decision(["ops", "oncall"])
    store = AlertStore(engine)
    rendered = {n.uid: render(n) for n in d.notifications}  # type: ignore[attr-defined]
    ids = store.apply(d, rendered, T0)  # type: ignore[arg-type]
    assert len(ids) == 2
    [inc] = store.incidents()
    assert (inc["key"], inc["status"], inc["severity"], inc["cause"]) == (
        "service:a",
        "open",
        "major",
        "refused",
    )
    assert store.incident("service:a")["id"] == inc["id"]  # type: ignore[index]
    assert store.incident(str(inc["id"]))["uid"] == inc["uid"]  # type: ignore[index]
    outbox = OutboxStore(engine)
    assert outbox.counts() == {"pending": 2, "retried": 0}
    assert outbox.open_by_severity() == {"major": 1}
    # restart: the policy state comes back from the database
    state, kv = store.load_state(T0 + 1, 3600)
    assert state.incidents["service:a"].uid == inc["uid"]
    assert state.incidents["service:a"].notified is True
    assert "policy" in kv


def test_claim_is_exclusive_and_leases_expire(engine: Engine) -> None:
    _sim, d = _decision(["ops"])
    store = AlertStore(engine)
    [did] = store.apply(d, {n.uid: render(n) for n in d.notifications}, T0)  # type: ignore[attr-defined,arg-type]
    a, b = OutboxStore(engine), OutboxStore(engine)
    assert a.due(T0) == [did]
    got = a.claim(did, "one", T0, lease=60)
    assert got is not None and got.attempts == 1 and got.title.startswith("[FIRING]")
    assert b.claim(did, "two", T0 + 1, lease=60) is None  # held by "one"
    assert a.due(T0 + 30) == []
    # "one" died: after the lease, "two" takes it; "one" finishing late changes nothing
    again = b.claim(did, "two", T0 + 61, lease=60)
    assert again is not None and again.attempts == 2
    a.finish(got, "one", T0, T0 + 62, None, None)
    assert a.counts()["sending"] == 1
    assert b.finish(again, "two", T0 + 61, T0 + 62, None, None) == "sent"
    assert b.claim(did, "three", T0 + 999, lease=60) is None  # confirmed: never again
    assert b.counts() == {"sent": 1, "retried": 1}


def test_failures_retry_then_fail_for_good(engine: Engine) -> None:
    _sim, d = _decision(["ops"])
    store = AlertStore(engine)
    [did] = store.apply(d, {n.uid: render(n) for n in d.notifications}, T0)  # type: ignore[attr-defined,arg-type]
    o = OutboxStore(engine)
    c = o.claim(did, "x", T0, 60)
    assert c is not None
    assert o.finish(c, "x", T0, T0 + 1, "receiver 'ops': HTTP 500", T0 + 10) == "pending"
    assert o.due(T0 + 5) == [] and o.due(T0 + 10) == [did]
    c = o.claim(did, "x", T0 + 10, 60)
    assert c is not None
    assert o.finish(c, "x", T0 + 10, T0 + 11, "receiver 'ops': HTTP 500", None) == "failed"
    assert o.due(T0 + 10**6) == []
    assert o.counts() == {"failed": 1, "retried": 1}


def test_held_notifications_are_recorded_without_outbox_rows(engine: Engine) -> None:
    routes = [{"name": "ops", "receivers": ["ops"], "group_wait": "0s"}]
    sim = Sim(acfg(routes=routes))
    from threenines.alerts.model import AddSilence
    from threenines.alerts.policy import decide

    silence = Silence.make("s1", {"site": "lib"}, T0, T0 + 60, "alice", "swap")
    d = decide(sim.state, [AddSilence(silence), down("service:a", T0)], T0, sim.ctx)
    store = AlertStore(engine)
    store.add_silence(silence, T0)
    assert store.apply(d, {n.uid: render(n) for n in d.notifications}, T0) == []
    [inc] = store.incidents()
    assert inc["held"] == "silence:s1"
    [note] = store.notifications_for(inc["uid"])
    assert note["held"] == "silence:s1"
    assert [s["uid"] for s in store.silences(T0 + 1)] == ["s1"]
    assert store.silences(T0 + 61) == []
    state, _ = store.load_state(T0 + 1, 3600)
    assert list(state.silences) == ["s1"]
    assert store.remove_silence("s1", "bob", T0 + 2) and not store.remove_silence("s1", "b", T0)


def test_commands_queue(engine: Engine) -> None:
    store = AlertStore(engine)
    cid = store.add_command("ack", {"incident": "service:a", "who": "carol"}, T0)
    assert store.pending_commands() == [(cid, "ack", {"incident": "service:a", "who": "carol"})]
    assert store.command_result(cid) is None
    store.finish_command(cid, "ok", T0 + 1)
    assert store.pending_commands() == [] and store.command_result(cid) == "ok"
