"""Failover tables: runs, their Ansible task events, approvals, leases, the audit log, drills
and their sign-offs.

All on the shared ``metadata``; migration branch ``failover`` (failover_0001, failover_0002).
Times are UTC epoch seconds. The lease table is the single-flight guard between threenines
instances: see ``failover.lease``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, Column, Engine, Float, Index, Integer, String, Table, Text

from threenines.core.tables import Id, metadata

failover_runs = Table(
    "failover_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("plan", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # failover | failback | fault
    # running -> succeeded | failed | timeout | canceled | interrupted; a failover that succeeded
    # then becomes verified | unverified ("failed over but not verified")
    Column("state", String(16), nullable=False),
    Column("check_mode", Boolean, nullable=False, default=False),
    Column("trigger", String(16), nullable=False),  # auto | approved | manual | drill
    Column("owner", String(128), nullable=False),  # instance that ran it
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("playbook_started", Float),
    Column("playbook_finished", Float),
    Column("verified_at", Float),
    Column("rc", Integer),
    Column("error", Text),
    Column("cancel_requested", Float),  # set by `failover cancel` from any instance
    Column("drill_id", Integer),
    Column("decision", JSON, nullable=False, default=dict),
    Index(None, "plan", "started"),
    Index(None, "state"),
)

failover_run_events = Table(
    "failover_run_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),  # ansible-runner counter
    Column("ts", Float, nullable=False),
    Column("event", String(64), nullable=False),  # runner_on_ok, playbook_on_task_start, ...
    Column("play", String(200)),
    Column("task", String(200)),
    Column("host", String(200)),
    Column("changed", Boolean, nullable=False, default=False),
    Column("failed", Boolean, nullable=False, default=False),
    Column("stdout", Text, nullable=False, default=""),
    Index(None, "run_id", "id"),
)

failover_approvals = Table(
    "failover_approvals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("plan", String(64), nullable=False),
    Column("granted_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("by", String(128), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("used_by_run", Integer),
    Index(None, "plan", "expires_at"),
)

failover_leases = Table(
    "failover_leases",
    metadata,
    Column("name", String(128), primary_key=True),  # "plan:<name>"
    Column("owner", String(128), nullable=False),
    Column("run_id", Integer),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

failover_audit = Table(
    "failover_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("plan", String(64), nullable=False),
    Column("run_id", Integer),
    Column("actor", String(128), nullable=False),  # "threenines@host:pid" or an operator
    Column("action", String(32), nullable=False),  # decided, approved, started, play, ...
    Column("message", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False, default=dict),
    Index(None, "plan", "ts"),
)

# A drill: its period (tagged so availability can exclude it) and its timeline marks.
drills = Table(
    "drills",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("plan", String(64), nullable=False),
    Column("scenario", String(32), nullable=False),  # dc-cut | service-stop | tabletop
    Column("state", String(16), nullable=False),  # running | done | failed | interrupted
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("actor", String(128), nullable=False),
    Column("summary", JSON, nullable=False, default=dict),  # objectives, figures, problems
    Index(None, "started"),
)

drill_marks = Table(
    "drill_marks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("drill_id", Integer, nullable=False),
    Column("ts", Float, nullable=False),
    Column("kind", String(48), nullable=False),  # fault_injected, first_failed_probe, ...
    Column("message", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False, default=dict),
    Index(None, "drill_id", "ts"),
)

# A finished drill's sign-off, one name per role (failover_0002); never updated.
drill_signoffs = Table(
    "drill_signoffs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("drill_id", Integer, nullable=False),
    Column("role", String(32), nullable=False),  # drill_facts.SIGN_ROLES
    Column("name", String(128), nullable=False),
    Column("signed_at", Float, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Index(None, "drill_id", "role", unique=True),
)


DRILLS_SHOWN = 50  # ``drill list`` and ``GET /api/v1/failover/drills``: the newest this many


def drill_rows(engine: Engine, limit: int = DRILLS_SHOWN) -> list[dict[str, Any]]:
    """Past drills, newest first, each with ``signed_off``: the roles that signed it off, in
    order (``threenines drill list``, locally and through the API)."""
    with engine.connect() as conn:
        newest = sa.select(drills).order_by(drills.c.id.desc()).limit(limit)
        rows = [dict(r._mapping) for r in conn.execute(newest)]
        s = drill_signoffs.c
        signed: dict[int, list[str]] = {}
        q = sa.select(s.drill_id, s.role).where(s.drill_id.in_([r["id"] for r in rows]))
        for drill_id, role in conn.execute(q.order_by(s.id)):
            signed.setdefault(int(drill_id), []).append(str(role))
    return [{**r, "signed_off": signed.get(int(r["id"]), [])} for r in rows]
