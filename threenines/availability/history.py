"""Exclusion history: maintenance windows as append-only records, retroactive ones approved.

Rules (one place; the CLI, the API and the reports call these):
- A record is never updated or deleted. Adding a window is an ``add`` record; changing it is a
  ``change`` record and removing it a ``remove`` record, each naming the window's first record
  (``revision_of``), with who, when and why. Every record is also a row of the audit log.
- A record is *retroactive* when it excludes time already past when it was made (more than
  ``grace`` before): an ``add`` starting in the past, a ``change`` that excludes past time the
  window's version in effect did not. A retroactive record needs a reason, and with
  ``retroactive: second_admin`` (the default) it takes effect only once a second person, an
  admin and not its author, approves it; until then the version before it stays in effect.
  A ``remove`` only gives excluded time back to the counted side, so it takes effect at once.
- Drill periods follow the same rule: the failover runner adds one as a drill starts and
  ends it with a ``change`` record when the drill finishes (``end_drill_period``); they need
  no approval (``DRILLS``).
- The windows in effect *as of* a time use the records and approvals made by then: an issued
  report's figures can be recomputed as they were, and a restatement names what came after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import IntegrityError

from threenines.availability.config import ExclusionsConfig, exclusions_config
from threenines.availability.intervals import subtract, total
from threenines.availability.schedule import Exclusion
from threenines.availability.store import drill_periods, maintenance_approvals, maintenance_windows
from threenines.core import audit

ADMIN = "admin"
DRILLS = ExclusionsConfig(retroactive="none")  # drill periods: written by the runner, no approval
__all__ = ["ExclusionsConfig", "exclusions_config"]


class HistoryError(ValueError):
    """A refused record or approval, in words for the user."""


@dataclass(frozen=True, slots=True)
class Approval:
    by: str
    at: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """One stored record. ``window_id``: the window's first record (its identity)."""

    id: int
    window_id: int
    action: str  # add | change | remove
    window: Exclusion
    created_at: float
    created_by: str
    retroactive: bool
    approval: Approval | None = None

    def in_effect(self, policy: ExclusionsConfig, as_of: float | None = None) -> bool:
        if as_of is not None and self.created_at > as_of:
            return False
        if not self.retroactive or self.action == "remove" or policy.retroactive == "none":
            return True
        return self.approval is not None and (as_of is None or self.approval.at <= as_of)

    def label(self) -> str:
        """How every output marks the record: retroactive, approved or pending."""
        if not self.retroactive:
            return ""
        if self.approval is None:
            return "retroactive, pending approval"
        return f"retroactive, approved by {self.approval.by}"


def _record(row: sa.Row, approvals: Mapping[int, Approval]) -> WindowRecord:
    win = Exclusion(row.start, row.end, row.name, row.reason, tuple(row.services or ()),
                    tuple(row.sites or ()))  # fmt: skip
    return WindowRecord(
        id=int(row.id),
        window_id=int(row.revision_of or row.id),
        action=str(row.action or "add"),
        window=win,
        created_at=float(row.created_at),
        created_by=str(row.created_by),
        retroactive=bool(row.retroactive),
        approval=approvals.get(int(row.id)),
    )


def records(engine: Engine, table: Table = maintenance_windows) -> list[WindowRecord]:
    """Every record, oldest first, with its approval."""
    with engine.connect() as conn:
        return _records(conn, table)


def _records(conn: Connection, table: Table) -> list[WindowRecord]:
    approvals: dict[int, Approval] = {}
    if table is maintenance_windows:
        for r in conn.execute(sa.select(maintenance_approvals)):
            approvals[int(r.record_id)] = Approval(r.approved_by, r.approved_at, r.note)
    rows = conn.execute(sa.select(table).order_by(table.c.id))
    return [_record(r, approvals) for r in rows]


def effective(
    recs: list[WindowRecord], policy: ExclusionsConfig, as_of: float | None = None
) -> dict[int, WindowRecord]:
    """Window id -> the record in effect (its latest in-effect record, unless that removes it)."""
    latest: dict[int, WindowRecord] = {}
    for rec in recs:
        if rec.in_effect(policy, as_of):
            latest[rec.window_id] = rec
    return {wid: r for wid, r in latest.items() if r.action != "remove"}


def windows(
    engine: Engine,
    table: Table,
    policy: ExclusionsConfig,
    start: float | None = None,
    end: float | None = None,
    as_of: float | None = None,
) -> list[Exclusion]:
    """The windows in effect (as of ``as_of``) overlapping ``[start, end)``, by start."""
    live = effective(records(engine, table), policy, as_of).values()
    out = [
        replace(r.window, record=r.id, added_by=r.created_by, added_at=r.created_at,
                retroactive=r.retroactive, approved_by=r.approval.by if r.approval else "")
        for r in live
        if (end is None or r.window.start < end) and (start is None or r.window.end > start)
    ]  # fmt: skip
    return sorted(out, key=lambda w: (w.start, w.record or 0))


def pending(engine: Engine, policy: ExclusionsConfig) -> list[WindowRecord]:
    """Retroactive records waiting for approval (not in effect)."""
    return [r for r in records(engine) if not r.in_effect(policy) and r.approval is None]


def _past(win: Exclusion, now: float, grace: float) -> list[tuple[float, float]]:
    cut = now - grace
    return [(win.start, min(win.end, cut))] if win.start < cut else []


def _insert(
    conn: Connection, table: Table, win: Exclusion, *, now: float, by: str, action: str,
    revision_of: int | None, retroactive: bool,
) -> int:  # fmt: skip
    res = conn.execute(
        table.insert().values(
            name=win.name, reason=win.reason, start=win.start, end=win.end,
            services=list(win.services), sites=list(win.sites), created_at=now, created_by=by,
            revision_of=revision_of, action=action, retroactive=retroactive,
        )
    )  # fmt: skip
    rid = int(res.inserted_primary_key[0])  # type: ignore[index]
    kind = "maintenance" if table is maintenance_windows else "drill"
    detail = {"name": win.name, "reason": win.reason, "start": win.start, "end": win.end,
              "services": list(win.services), "sites": list(win.sites),
              "window": revision_of or rid, "retroactive": retroactive}  # fmt: skip
    audit.append(conn, ts=now, actor=by, action=f"{kind}_{action}", subject=f"{kind}:{rid}",
                 detail=detail)  # fmt: skip
    return rid


def add_window(
    engine: Engine,
    table: Table,
    window: Exclusion,
    *,
    now: float,
    created_by: str = "",
    policy: ExclusionsConfig | None = None,
) -> int:
    """Record a new window; returns its id. Retroactive without a reason: ``HistoryError``.

    ``policy`` None: the default rule for maintenance; drill periods (written by the failover
    runner as the drill starts) are not checked for retroactivity."""
    if window.end <= window.start:
        raise HistoryError("a window must end after it starts")
    if policy is None and table is maintenance_windows:  # never unchecked: the default rule
        policy = ExclusionsConfig()
    retro = policy is not None and bool(_past(window, now, policy.grace))
    if retro and not window.reason.strip():
        raise HistoryError("the window starts in the past: give --reason (it is recorded and "
                           "shown with the figures)")  # fmt: skip
    with engine.begin() as conn:
        return _insert(conn, table, window, now=now, by=created_by, action="add",
                       revision_of=None, retroactive=retro)  # fmt: skip


def _current(conn: Connection, window_id: int, policy: ExclusionsConfig) -> WindowRecord:
    recs = [r for r in _records(conn, maintenance_windows) if r.window_id == window_id]
    if not recs:
        raise HistoryError(f"no maintenance window {window_id}")
    if recs[0].id != window_id:
        raise HistoryError(f"record {window_id} is a revision of window {recs[0].window_id}")
    if recs[-1].action == "remove":
        raise HistoryError(f"maintenance window {window_id} was removed")
    live = effective(recs, policy).get(window_id)
    return live or recs[0]


def change_window(
    engine: Engine, window_id: int, window: Exclusion, *, now: float, by: str,
    policy: ExclusionsConfig,
) -> int:  # fmt: skip
    """Record a new version of window ``window_id``; returns the record's id."""
    if window.end <= window.start:
        raise HistoryError("a window must end after it starts")
    if not window.reason.strip():
        raise HistoryError("a change needs --reason")
    with engine.begin() as conn:
        cur = _current(conn, window_id, policy)
        before = [(cur.window.start, cur.window.end)] if cur.in_effect(policy) else []
        retro = total(subtract(_past(window, now, policy.grace), before)) > 0
        return _insert(conn, maintenance_windows, window, now=now, by=by, action="change",
                       revision_of=window_id, retroactive=retro)  # fmt: skip


def remove_window(
    engine: Engine, window_id: int, *, now: float, by: str, reason: str, policy: ExclusionsConfig
) -> int:
    """Record the removal of window ``window_id`` (its records stay); returns the record's id."""
    if not reason.strip():
        raise HistoryError("a removal needs --reason")
    with engine.begin() as conn:
        cur = _current(conn, window_id, policy)
        win = replace(cur.window, reason=reason)
        return _insert(conn, maintenance_windows, win, now=now, by=by, action="remove",
                       revision_of=window_id, retroactive=False)  # fmt: skip


def end_drill_period(
    conn: Connection, period_id: int, *, end: float, now: float, by: str, reason: str
) -> int:
    """In ``conn``'s transaction: a ``change`` record ending drill period ``period_id`` at
    ``end`` (the period's first record stays as written); returns the record's id."""
    recs = [r for r in _records(conn, drill_periods) if r.window_id == period_id]
    live = effective(recs, DRILLS).get(period_id)
    if live is None:
        raise HistoryError(f"no drill period {period_id} in effect")
    win = replace(live.window, end=max(end, live.window.start), reason=reason)
    return _insert(conn, drill_periods, win, now=now, by=by, action="change",
                   revision_of=period_id, retroactive=False)  # fmt: skip


def window_records(engine: Engine, table: Table, window_id: int) -> list[WindowRecord]:
    """The records of one window, oldest first (its history)."""
    return [r for r in records(engine, table) if r.window_id == window_id]


def approve(
    engine: Engine, record_id: int, *, now: float, by: str, role: str, note: str = ""
) -> WindowRecord:
    """A second person's approval of a retroactive record: an admin, not its author."""
    if role != ADMIN:
        raise HistoryError(f"approving needs the admin role (this token is {role})")
    with engine.begin() as conn:
        rec = next((r for r in _records(conn, maintenance_windows) if r.id == record_id), None)
        if rec is None:
            raise HistoryError(f"no maintenance record {record_id}")
        if not rec.retroactive:
            raise HistoryError(f"record {record_id} is not retroactive: it needs no approval")
        if rec.approval is not None:
            raise HistoryError(f"record {record_id} was approved by {rec.approval.by}")
        if by == rec.created_by:
            raise HistoryError(f"{by} made record {record_id}: a second person must approve it")
        try:
            with conn.begin_nested():
                conn.execute(maintenance_approvals.insert().values(
                    record_id=record_id, approved_by=by, approved_at=now, note=note))  # fmt: skip
        except IntegrityError:  # a second approver at the same moment: the first one stands
            raise HistoryError(f"record {record_id} was approved by someone else") from None
        audit.append(conn, ts=now, actor=by, action="maintenance_approved",
                     subject=f"maintenance:{record_id}", detail={"note": note})  # fmt: skip
    return replace(rec, approval=Approval(by, now, note))
