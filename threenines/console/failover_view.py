"""The failover page: each plan's decision now, trigger and pre-flight, which side serves, its
runs; all from the failover area (``failover.api.plan_status``, what ``threenines failover
status`` and ``GET /api/v1/failover`` show; the ledger's runs and stages; the decision's own
rule for "failed over")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from threenines.failover.api import plan_status
from threenines.failover.config import failover_config
from threenines.failover.decide import failed_over
from threenines.failover.orchestrator import Orchestrator

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config


@dataclass(frozen=True, slots=True)
class PlanView:
    name: str
    description: str
    primary: str
    mirror: str
    mode: str
    serving: str  # the site serving now: primary or mirror
    on_mirror: bool
    trigger: str  # the trigger in words
    trigger_state: str | None
    down_vantages: tuple[str, ...]
    action: str
    reason: str
    message: str
    preflight: tuple[str, ...]  # what is checked before a failover, in words
    approval_ttl: float
    runs: tuple[dict[str, Any], ...]


def orchestrator(engine: Engine, cfg: Config, actor: str | None = None) -> Orchestrator:
    return Orchestrator(cfg, engine, actor=actor)


def plans(engine: Engine, cfg: Config) -> list[PlanView]:
    orch = orchestrator(engine, cfg)
    out = []
    for st in plan_status(orch):
        plan = orch.plan(st["plan"])
        subjects = orch.subjects(plan)
        t, p = plan.trigger, plan.preflight
        on_mirror = failed_over(orch.ledger.runs(plan.name, 0.0))
        checks = [
            f"mirror services up: {', '.join(subjects.mirror) or '-'} "
            f"(from at least {p.min_vantage_points} vantage points)"
        ]
        if p.rpo is not None:
            checks.append(f"replication lag within {p.rpo:g} s")
        if p.capacity is not None:
            checks.append("mirror capacity measured")
        runs = tuple(dict(r._mapping) for r in orch.ledger.run_rows(plan.name, limit=20))
        d = st["decision"]
        out.append(
            PlanView(
                name=plan.name,
                description=plan.description,
                primary=plan.primary,
                mirror=plan.mirror,
                mode=plan.guards.mode,
                serving=plan.mirror if on_mirror else plan.primary,
                on_mirror=on_mirror,
                trigger=f"{t.require} of {', '.join(subjects.trigger) or '-'} down by the state "
                f"rule, from at least {t.quorum} vantage points, for {t.confirm_for:g} s",
                trigger_state=st["trigger"],
                down_vantages=tuple(st["down_vantages"]),
                action=d["action"],
                reason=d["reason"],
                message=d["message"],
                preflight=tuple(checks),
                approval_ttl=plan.guards.approval_ttl,
                runs=runs,
            )
        )
    return out


def known(cfg: Config, name: str) -> bool:
    return failover_config(cfg).plan(name) is not None


def approve(engine: Engine, cfg: Config, name: str, by: str, note: str) -> int:
    """The failover area's approve (``threenines failover approve``, its API route)."""
    return orchestrator(engine, cfg, by).approve(name, by, note)


def run_detail(engine: Engine, cfg: Config, run_id: int) -> dict[str, Any] | None:
    ledger = orchestrator(engine, cfg).ledger
    row = ledger.run(run_id)
    if row is None:
        return None
    stages = [dict(s._mapping) for s in ledger.audit_rows(None, run_id)]
    events = [dict(e._mapping) for e in ledger.events_after(run_id, 0)]
    return {**row._mapping, "stages": stages, "events": events}


def drills(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """Past drills, newest first, with the roles that signed each off: ``drill list``'s rows
    (the failover area's ``drill_rows``), each with its RTO for the table."""
    from threenines.failover.store import drill_rows

    rows = drill_rows(engine, limit)
    for r in rows:
        r["rto"] = (r.get("summary") or {}).get("rto")
    return rows


def drill_report(engine: Engine, cfg: Config, drill_id: int, fmt: str) -> bytes | None:
    """A drill's report as ``threenines drill report`` renders it (HTML or PDF)."""
    import sqlalchemy as sa

    from threenines.failover.drill_report import render_drill, render_pdf
    from threenines.failover.store import drills as table

    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == drill_id)).first()
    if row is None:
        return None
    html = render_drill(engine, cfg, dict(row._mapping))
    return render_pdf(html) if fmt == "pdf" else html.encode()
