"""What a drill report needs beyond the drill row and its marks, read from the store once.

``gather`` returns ``DrillFacts``: the plan's objectives and description, the drill's runs (kind,
trigger, check mode, state) with the tasks each changed or, in check mode, would change, who
took part (the drill's actor, the runs' approvers and owners), the drill period excluded from
SLA figures (if any), and the previous drill of the same plan for comparison. Blocking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from threenines.availability.store import drill_periods
from threenines.failover.config import Plan
from threenines.failover.store import drills, failover_approvals, failover_run_events, failover_runs

MAX_TASKS = 200  # changed tasks listed per run


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
    excluded: tuple[float, float] | None = None  # the drill period, if one was recorded
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
        period_id = (drill.get("summary") or {}).get("period_id")
        excluded = None
        if period_id is not None:
            row = conn.execute(sa.select(drill_periods.c.start, drill_periods.c.end)
                               .where(drill_periods.c.id == period_id)).first()  # fmt: skip
            excluded = None if row is None else (float(row.start), float(row.end))
        d = drills.c
        prev = conn.execute(sa.select(drills).where(d.plan == drill["plan"], d.id < drill["id"])
                            .order_by(d.id.desc()).limit(1)).first()  # fmt: skip
    return DrillFacts(
        plan=plan,
        runs=tuple(runs),
        participants=tuple(dict.fromkeys(people)),
        excluded=excluded,
        previous=None if prev is None else dict(prev._mapping),
    )
