"""Every consumer of the state rule, reading results written through the real write path.

``write`` stores results with ``ResultStore.write_batch`` (the flips it returns are kept for the
alert composer); ``consumers`` then asks availability (``load_estate``), status
(``service_states`` over ``latest_intervals``), the alert composer (fed those flips, then
refreshed from the open intervals as ``AlertService.tick`` does) and the failover trigger
(``observe.observations`` + ``evaluate_trigger``) for each service's state at ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from threenines.alerts.compose import FlipComposer
from threenines.alerts.model import BAD
from threenines.app.config import parse_config
from threenines.availability.load import load_estate
from threenines.availability.state import grace, specs
from threenines.availability.status import latest_intervals, service_states
from threenines.availability.timeline import NO_DATA, state_at
from threenines.console.views import overview
from threenines.core.results import ProbeResult
from threenines.core.store import ResultRecord, ResultStore, StateChange
from threenines.core.tables import results, state_intervals
from threenines.failover import observe
from threenines.failover.config import Trigger
from threenines.failover.quorum import evaluate_trigger

T0 = 1_790_000_000.0
STEP = 10.0  # every check and the device run every 10 s: the grace is 21 s (20 s for the device)
VP3 = "vantage: [a, b, c], "
CHECK = "type: tcp, host: 127.0.0.1, port: 9, interval: 10s, timeout: 1s, retries: 0"
CONFIG = f"""
organisation: State rule
timezone: UTC
storage: {{url: "URL"}}
server: {{vantage: a}}
snmp:
  credentials: {{lab: {{version: v2c, community: not-public}}}}
  devices: [{{name: core-sw, address: 127.0.0.1, site: dc, auth: lab, interval: 10s}}]
sites: [{{name: dc, kind: datacentre}}, {{name: s1}}]
vantage_points: [{{name: b, site: s1}}, {{name: c, site: s1}}]
services:
  - {{name: internet, site: dc, combine: any, checks: [{{name: n1, {VP3}{CHECK}}},
                                                       {{name: n2, {VP3}{CHECK}}}]}}
  - {{name: pair, site: dc, checks: [{{name: n1, {VP3}{CHECK}}}, {{name: n2, {VP3}{CHECK}}}]}}
  - {{name: q2, site: dc, quorum: 2, checks: [{{name: web, vantage: [a, b], {CHECK}}}]}}
  - {{name: fading, site: dc, checks: [{{name: web, {VP3}{CHECK}}}]}}
  - {{name: weighted, site: dc, combine: weighted, weights: {{big: 3, small: 1}},
     checks: [{{name: big, {CHECK}}}, {{name: small, {CHECK}}}]}}
  - {{name: switched, site: dc, devices: [core-sw], checks: [{{name: web, {CHECK}}}]}}
  - {{name: db, site: dc, checks: [{{name: web, {CHECK}}}]}}
  - {{name: app, site: dc, depends_on: [db], checks: [{{name: web, {CHECK}}}]}}
  - {{name: silent, site: dc, checks: [{{name: web, {CHECK}}}]}}
"""
Plan = dict[tuple[str, str], Sequence[tuple[float, float, str]]]  # key -> (from, to, status)


def config(url: str = "sqlite://"):
    return parse_config(CONFIG.replace("URL", url))


def result(status: str) -> ProbeResult:
    if status == "up":
        return ProbeResult.up(0.01)
    if status == "degraded":
        return ProbeResult.degraded(0.5, "slow", "slow answer")
    return ProbeResult.down(1.0, "refused", "connection refused")


def records(cfg, plan: Plan) -> list[ResultRecord]:
    """One result every STEP seconds over each ``[from, to)`` (offsets from T0)."""
    out = []
    for (check_id, vantage), spans in plan.items():
        gap = grace(cfg, check_id)
        for a, b, status in spans:
            t = a
            while t < b:
                out.append(ResultRecord(check_id, vantage, T0 + t, result(status), 1, gap))
                t += STEP
    return sorted(out, key=lambda r: r.ts)


def write(engine: sa.Engine, recs: Iterable[ResultRecord], batch: int = 25) -> list[StateChange]:
    """Through the real write path, in batches as the writer sends them; returns the flips."""
    store = ResultStore(engine)
    todo, flips = list(recs), []
    for i in range(0, len(todo), batch):
        flips += store.write_batch(todo[i : i + batch])
    return flips


def clear(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(state_intervals.delete())
        conn.execute(results.delete())


@dataclass
class Seen:
    """What each consumer says about one service at ``now``."""

    availability: str
    status: str
    alerts: str
    failover: str
    console: str  # the web console's overview
    figures: dict[str, float]
    paged: bool  # the composer sent a down/degraded condition at some point
    trigger: str  # the failover trigger's status
    reason: str  # the status view's reason (who sees what)


FIGURES = ("up", "degraded", "down", "nodata", "no_quorum")


def consumers(cfg, engine: sa.Engine, flips: Sequence[StateChange], now: float) -> dict[str, Seen]:
    est = load_estate(engine, cfg, T0, now, now)
    status = service_states(cfg, latest_intervals(engine), now)
    composer = FlipComposer(cfg)
    updates = composer.on_flips(flips)
    updates += composer.refresh(_open_rows(engine), now)
    paged = {u.service for u in updates if u.status in BAD}
    all_specs = specs(cfg)
    board = {line.name: line.state for site in overview(engine, cfg, now).sites
             for line in site.services}  # fmt: skip
    out = {}
    for name, spec in all_specs.items():
        seg = state_at(est.services[name].timeline, now - 1e-3)
        f = est.service(name)
        trigger = Trigger(services=[name], quorum=1, majority=False, confirm_for=30,
                          fresh_within=600)  # fmt: skip
        obs = observe.observations(engine, [spec])
        trig = evaluate_trigger(trigger, [name], all_specs, obs, now)
        out[name] = Seen(
            availability=seg.state if seg else NO_DATA,
            status=status[name].state,
            alerts=composer.status.get(name, NO_DATA),
            failover=trig.services[0].state,
            console=board.get(name, NO_DATA),
            figures={k: round(getattr(f, k), 6) for k in FIGURES},
            paged=name in paged,
            trigger=trig.status,
            reason=status[name].reason,
        )
    return out


def _open_rows(engine: sa.Engine) -> list:
    c = state_intervals.c
    q = sa.select(c.check_id, c.vantage, c.state, c.start, c.last_seen, c.error, c.reason)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q.where(c.end.is_(None)))]
