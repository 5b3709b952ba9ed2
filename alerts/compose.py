"""From flips (per check, per vantage point) to service conditions, by the state rule.

The composer keeps the newest interval of every (check, vantage) it has heard of, from the
store's open intervals (``seed``, ``refresh``) and from the writer's flips (``on_flips``), and
asks ``threenines.availability.state`` for each affected service's state: quorum over fresh
vantage points, ``combine`` (all / any / weighted), ``devices``. It never decides a state of
its own. A service whose state changes becomes a ``ConditionUpdate``; ``no_quorum`` ("quorum
not reached") and ``unknown`` (no data) are passed on as they are, and the policy neither
opens nor resolves an incident on them (``alerts.lifecycle.apply_condition``): an unconfirmed
state never pages. Any object with ``seed``, ``refresh`` and ``on_flips`` can replace this one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from threenines.alerts.model import BAD, ConditionUpdate
from threenines.availability.state import UP, ServiceNow, service_state_at, specs
from threenines.availability.timeline import IntervalRow, holds_until
from threenines.core.store import StateChange

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

# (check_id, vantage, state, start, last_seen, error, reason): an open state interval
OpenRow = tuple[str, str, str, float, float, str | None, str]


class FlipComposer:
    def __init__(self, cfg: Config):
        self.services = {s.name: s for s in cfg.services}
        self.specs = specs(cfg)
        self.rows: dict[tuple[str, str], IntervalRow] = {}
        self.status: dict[str, str] = {}
        self.users: dict[str, set[str]] = {}  # check id or device component -> services
        self.grace: dict[tuple[str, str], float] = {}
        self.due: dict[str, float] = {}  # service -> when a vote may go stale (no flip then)
        for name, spec in self.specs.items():
            for check_id, _vantage in spec.keys():
                self.users.setdefault(check_id, set()).add(name)
            self.grace.update(((c.check_id, v), c.grace) for c in spec.checks for v in c.vantages)
            self.grace.update(((p.component, p.vantage), p.grace) for p in spec.parts)

    def _note(self, check_id: str, vantage: str, row: IntervalRow) -> bool:
        """Keep the newest interval; the same one seen again keeps its latest ``last_seen``.
        True when the vote may have changed: a new interval (a state the composer did not
        know), or the same one confirmed later than known (a vote judged stale on what the
        flips said may be fresh after all)."""
        cur = self.rows.get((check_id, vantage))
        same = cur is not None and (row.start, row.state) == (cur.start, cur.state)
        if cur is not None and same:
            if row.last_seen <= cur.last_seen:
                return False
        elif cur is not None and row.start < cur.start:
            return False
        self.rows[(check_id, vantage)] = row
        return True

    def _merge(self, rows: Iterable[OpenRow]) -> set[str]:
        """Store rows in; returns the services whose inputs got a new interval."""
        changed: set[str] = set()
        for check_id, vantage, state, start, last_seen, error, reason in rows:
            row = IntervalRow(state, start, None, last_seen, error, reason)
            if self._note(check_id, vantage, row):
                changed |= self.users.get(check_id, set())
        return changed

    def seed(self, rows: Iterable[OpenRow]) -> None:
        """The store's open intervals at start-up: the states the composer starts from. A
        service already down or degraded is not taken as known: the first refresh reports it,
        so that an outage which began while no node did the alerting (a high-availability
        takeover, a restart) is paged; an incident already open for it is only updated."""
        self._merge(rows)
        for name, spec in self.specs.items():
            keys = spec.keys()
            seen = [self.rows[k].last_seen for k in keys if k in self.rows]
            if seen:
                state = self.state(name, max(seen)).state
                if state in BAD:
                    self.due[name] = -math.inf  # reported by the first refresh
                else:
                    self.status[name] = state

    def refresh(self, rows: Iterable[OpenRow], now: float) -> list[ConditionUpdate]:
        """Newer open intervals from the store (their ``last_seen`` moves on without flips),
        then the services at ``now`` whose inputs changed or one of whose votes may have gone
        stale since (a vantage point that fell silent stops voting); the rest cannot change."""
        changed = self._merge(rows)
        due = [n for n in self.specs if n in changed or self.due.get(n, -math.inf) <= now]
        return self._updates(dict.fromkeys(due, now))

    def on_flips(self, changes: Sequence[StateChange]) -> list[ConditionUpdate]:
        touched: dict[str, float] = {}
        for ch in changes:
            why = ": ".join(x for x in (ch.error, ch.reason) if x)
            row = IntervalRow(ch.new.value, ch.ts, None, ch.ts, None, why)
            self._note(ch.check_id, ch.vantage, row)
            for name in self.users.get(ch.check_id, ()):
                touched[name] = max(touched.get(name, ch.ts), ch.ts)
        return self._updates(touched)

    def state(self, name: str, at: float) -> ServiceNow:
        """Service ``name`` at ``at`` by the rule, from what the composer has heard."""
        spec = self.specs[name]
        rows = {k: [self.rows[k]] for k in spec.keys() if k in self.rows}
        ends = [holds_until(r[0], self.grace[k]) for k, r in rows.items()]
        self.due[name] = min((e for e in ends if e > at), default=math.inf)
        return service_state_at(spec, rows, at)

    def _updates(self, at: dict[str, float]) -> list[ConditionUpdate]:
        out: list[ConditionUpdate] = []
        for name, ts in sorted(at.items()):
            now = self.state(name, ts)
            before = self.status.get(name, UP if now.state in (*BAD, UP) else now.state)
            self.status[name] = now.state
            if now.state == before:
                continue
            svc = self.services[name]
            out.append(
                ConditionUpdate(
                    key=f"service:{name}",
                    kind="service",
                    status=now.state,
                    since=now.since if now.since is not None else ts,
                    cause=cause(now),
                    vantages=now.down_vantages,
                    site=svc.site,
                    service=name,
                    tags=tuple(svc.tags),
                    title=f"service {name}",
                )
            )
        return out


def cause(s: ServiceNow) -> str:
    """Why, for people: the devices that are down or degraded, else the checks that are, else
    the rule's own reason (quorum not reached, no data)."""
    parts = [f"{n} {v.state}: {v.reason}" for n, v in s.parts if v.state in BAD]
    checks = [f"check {c.name}: {c.reason}" for c in s.checks if c.state in BAD]
    if s.state in BAD:
        return "; ".join(parts or checks) or s.reason
    return s.reason if s.state != UP else ""
