"""One state rule, every consumer: results written through the real write path, then read by
availability, ``threenines status``, the alert composer, the failover trigger and the web
console's overview, which must
all say the same thing about each service (issue 11).

The first three cases are the ones measured before the rule was shared: a ``combine: any``
service with one node down paged and triggered a failover while availability said up; two
single-site faults on an ``all`` service triggered a failover; ``quorum: 2`` with one vantage
point reporting was "up" to the alerts and "down" to availability.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_support import (
    CONFIG,
    STEP,
    T0,
    Plan,
    clear,
    config,
    consumers,
    records,
    result,
    write,
)
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.app.db import make_engine, migrate
from threenines.availability.load import load_estate
from threenines.availability.state import grace, service_state_at, specs
from threenines.availability.store import load_intervals
from threenines.availability.timeline import NO_DATA, state_at
from threenines.core.store import ResultRecord

END = 600.0
NOW = T0 + END


def up(a: float = 0, b: float = END) -> tuple[float, float, str]:
    return (a, b, "up")


def down(a: float = 0, b: float = END) -> tuple[float, float, str]:
    return (a, b, "down")


def every(check_id: str, *spans: tuple[float, float, str], vantages: str = "abc") -> Plan:
    return {(check_id, v): spans for v in vantages}


@dataclass(frozen=True)
class Case:
    id: str
    plan: Plan
    expect: dict[str, tuple[str, dict[str, float]]]  # service -> (state now, seconds)


CASES = [
    Case("combine any: one node down from every vantage point, the other up",
         {**every("internet/n1", down()), **every("internet/n2", up())},
         {"internet": ("up", {"up": 600, "down": 0})}),
    Case("combine all: two unrelated single-site faults, no check down by quorum",
         {("pair/n1", "a"): [down()], ("pair/n1", "b"): [up()], ("pair/n1", "c"): [up()],
          ("pair/n2", "a"): [up()], ("pair/n2", "b"): [down()], ("pair/n2", "c"): [up()]},
         {"pair": ("up", {"up": 600, "down": 0})}),
    Case("quorum 2 with only one vantage point reporting",
         {("q2/web", "a"): [down()]},
         {"q2": ("no_quorum", {"up": 0, "down": 0, "no_quorum": 600, "nodata": 0})}),
    Case("vantage points fall silent one by one: stale ones stop voting",
         {("fading/web", "a"): [up()], ("fading/web", "b"): [up(0, 450)],
          ("fading/web", "c"): [up(0, 300)]},
         # b's last result (440) holds for its grace (21 s): quorum lost at 461
         {"fading": ("no_quorum", {"up": 461, "no_quorum": 139, "down": 0})}),
    Case("weighted: the heavy check down",
         {("weighted/big", "a"): [up(0, 300), down(300)], ("weighted/small", "a"): [up()]},
         {"weighted": ("down", {"up": 300, "down": 300})}),
    Case("weighted: the light check down is degraded",
         {("weighted/big", "a"): [up()], ("weighted/small", "a"): [down()]},
         {"weighted": ("degraded", {"degraded": 600, "down": 0})}),
    Case("a required device down makes the service down whatever its checks say",
         {("switched/web", "a"): [up()], ("device:core-sw", "a"): [up(0, 300), down(300)]},
         {"switched": ("down", {"up": 300, "down": 300})}),
    Case("a dependency down attributes downtime, it never changes the dependant's state",
         {("db/web", "a"): [down()], ("app/web", "a"): [up()]},
         {"db": ("down", {"down": 600}), "app": ("up", {"up": 600, "down": 0})}),
    Case("no results at all is no data",
         {}, {"silent": ("unknown", {"nodata": 600, "up": 0, "down": 0, "no_quorum": 0})}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_consumer_agrees(case: Case, db_url: str) -> None:
    cfg = config(db_url)
    engine = make_engine(db_url)
    migrate(engine)
    try:
        flips = write(engine, records(cfg, case.plan))
        seen = consumers(cfg, engine, flips, NOW)
    finally:
        engine.dispose()
    for name, (state, seconds) in case.expect.items():
        s = seen[name]
        assert (s.availability, s.status, s.alerts, s.failover, s.console) == (state,) * 5, (
            name,
            s,
        )
        assert {k: s.figures[k] for k in seconds} == seconds, (name, s.figures)
        assert s.paged == (state in ("down", "degraded")), (name, s)
        assert (s.trigger == "confirmed") == (state == "down"), (name, s)


def test_quorum_not_reached_says_who_sees_what(db_url: str) -> None:
    cfg = config(db_url)
    engine = make_engine(db_url)
    migrate(engine)
    try:
        flips = write(engine, records(cfg, {("q2/web", "a"): [down()]}))
        seen = consumers(cfg, engine, flips, NOW)["q2"]
    finally:
        engine.dispose()
    assert seen.reason == "web: quorum not reached: 1 of 2 needed (a: down)"
    assert seen.trigger == "partial" and not seen.paged  # never a failover, never a page


# -- any sequence of results: the same state in every consumer ---------------------------------

SERVICES = ("internet", "pair", "q2", "fading", "weighted", "switched")
STATES = st.sampled_from(["up", "up", "down", "degraded"])
# per key: (pause in steps before this run of results, results in the run, their state)
RUNS = st.lists(st.tuples(st.integers(0, 4), st.integers(1, 6), STATES), max_size=4)


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, Plan, float]:
    name = draw(st.sampled_from(SERVICES))
    spec = specs(config())[name]
    plan: Plan = {}
    for key in spec.keys():
        t, spans = 0.0, []
        for pause, n, state in draw(RUNS):
            t += pause * STEP
            spans.append((t, t + n * STEP, state))
            t += n * STEP
        plan[key] = spans
    # ``now`` a quarter-second off the whole seconds where results and their graces end: the
    # timeline is read just before ``now`` (it ends there) and the instant rule at ``now``, so
    # a freshness boundary in between would compare two different instants, not two rules
    return name, plan, draw(st.integers(0, 80)) / 2 + 0.25


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory):
    url = f"sqlite:///{tmp_path_factory.mktemp('rule')}/rule.db"
    engine = make_engine(url)
    migrate(engine)
    yield url, engine
    engine.dispose()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histories())
def test_any_history_gives_one_state_everywhere(shared_db, history) -> None:
    url, engine = shared_db
    name, plan, after = history
    cfg = config(url)
    clear(engine)
    recs = records(cfg, plan)
    flips = write(engine, recs)
    now = (recs[-1].ts if recs else T0) + STEP + after
    s = consumers(cfg, engine, flips, now)[name]
    assert s.availability == s.status == s.alerts == s.failover == s.console, s
    if s.trigger == "confirmed":
        assert s.availability == "down"
    assert sum(s.figures.values()) == pytest.approx(now - T0)  # every second in one column
    # the interval and the instant are one rule: the timeline's every slice is the instant's
    spec = specs(cfg)[name]
    rows = load_intervals(engine, spec.keys(), T0, now)
    est_tl = load_estate(engine, cfg, T0, now, now).services[name].timeline
    for k in range(int((now - T0) // 5)):
        t = T0 + 5 * k + 2.5
        seg = state_at(est_tl, t)
        assert (seg.state if seg else NO_DATA) == service_state_at(spec, rows, t).state, t


def test_status_command_shows_quorum_not_reached_and_who_sees_what(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.replace("URL", url))
    cfg = config(url)
    engine = make_engine(url)
    migrate(engine)
    now = time.time()
    gap = grace(cfg, "q2/web")
    write(engine, [ResultRecord("q2/web", "a", now - 20 + 10 * i, result("down"), 1, gap)
                   for i in range(3)])  # fmt: skip
    engine.dispose()
    out = CliRunner().invoke(app, ["status", "-c", str(path), "--json"])
    assert out.exit_code == 0, out.output
    q2 = next(s for s in json.loads(out.stdout)["services"] if s["service"] == "q2")
    assert (q2["state"], q2["label"]) == ("no_quorum", "quorum not reached")
    votes = [(v["vantage"], v["state"]) for v in q2["checks"][0]["votes"]]
    assert votes == [("a", "down"), ("b", "unknown")] and q2["checks"][0]["quorum"] == 2
    assert q2["reason"] == "web: quorum not reached: 1 of 2 needed (a: down)"
    table = CliRunner().invoke(app, ["status", "-c", str(path)])
    assert table.exit_code == 0 and "quorum not" in table.output  # the service's line
