"""What a drill report needs beyond the drill row and its marks, read from the store once.

``gather`` returns ``DrillFacts``: the plan's objectives and description, the drill's runs (kind,
trigger, check mode, state) with the tasks each changed or, in check mode, would change, who
took part (the drill's actor, the runs' approvers and owners), the drill period excluded from
SLA figures (if any) with its records (the period is append-only: ``availability.history``),
the sign-offs, and the previous drill of the same plan for comparison. Blocking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from threenines.availability.history import DRILLS, WindowRecord, effective, window_records
from threenines.availability.store import drill_periods
from threenines.failover.config import Plan
from threenines.failover.store import (
    drill_signoffs,
    drills,
    failover_approvals,
    failover_run_events,
    failover_runs,
)

MAX_TASKS = 200  # changed tasks listed per run
SIGN_ROLES = ("DR lead", "Service owner", "Witness")  # who signs a drill report


@dataclass(frozen=True, slots=True)
class SignOff:
    role: str
    name: str
    signed_at: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class RunFacts:
    id: int
    kind: str  # failover | failback | fault
    trigger: str
    check_mode: bool
    state: str
    started: float
    finished: float | None
    changed_tasks: tuple[str, ...]  # "task (host)"


@dataclass(frozen=True, slots=True)
class DrillFacts:
    plan: Plan | None
    runs: tuple[RunFacts, ...] = ()
    participants: tuple[str, ...] = ()
    excluded: tuple[float, float] | None = None  # the drill period in effect, if recorded
    period_records: tuple[WindowRecord, ...] = ()  # its records, oldest first
    signoffs: tuple[SignOff, ...] = ()
    previous: Mapping[str, Any] | None = None  # the plan's drill before this one
    extra: Mapping[str, Any] = field(default_factory=dict)


def _runs(conn: sa.Connection, drill_id: int) -> list[RunFacts]:
    r, e = failover_runs.c, failover_run_events.c
    out = []
    for run in conn.execute(sa.select(failover_runs).where(r.drill_id == drill_id).order_by(r.id)):
        q = (sa.select(e.task, e.host).where(e.run_id == run.id, e.changed.is_(True))
             .order_by(e.id).limit(MAX_TASKS))  # fmt: skip
        tasks = tuple(dict.fromkeys(f"{t} ({h})" if h else str(t) for t, h in conn.execute(q)))
        end = None if run.finished is None else float(run.finished)
        out.append(RunFacts(int(run.id), str(run.kind), str(run.trigger), bool(run.check_mode),
                            str(run.state), float(run.started), end, tasks))  # fmt: skip
    return out


def gather(engine: sa.Engine, plans: list[Plan], drill: Mapping[str, Any]) -> DrillFacts:
    plan = next((p for p in plans if p.name == drill["plan"]), None)
    with engine.connect() as conn:
        runs = _runs(conn, int(drill["id"]))
        people = [str(drill["actor"])]
        a = failover_approvals.c
        ids = [r.id for r in runs]
        if ids:  # whoever approved one of the drill's runs took part
            q = sa.select(a.by).where(a.used_by_run.in_(ids))
            people += [str(x) for x in conn.execute(q).scalars()]
        s = drill_signoffs.c
        signed = [SignOff(str(r.role), str(r.name), float(r.signed_at), str(r.note or ""))
                  for r in conn.execute(sa.select(drill_signoffs).where(s.drill_id == drill["id"])
                                        .order_by(s.id))]  # fmt: skip
        d = drills.c
        prev = conn.execute(sa.select(drills).where(d.plan == drill["plan"], d.id < drill["id"])
                            .order_by(d.id.desc()).limit(1)).first()  # fmt: skip
    period_id = (drill.get("summary") or {}).get("period_id")
    history: list[WindowRecord] = []
    excluded = None
    if period_id is not None:
        history = window_records(engine, drill_periods, int(period_id))
        live = effective(history, DRILLS).get(int(period_id))
        excluded = None if live is None else (live.window.start, live.window.end)
    return DrillFacts(
        plan=plan,
        runs=tuple(runs),
        participants=tuple(dict.fromkeys(people)),
        excluded=excluded,
        period_records=tuple(history),
        signoffs=tuple(signed),
        previous=None if prev is None else dict(prev._mapping),
    )
