"""Maintenance windows kept in the database, written for ``threenines maintenance`` and
``/api/v1/maintenance`` alike: the span and scope checked against the config, then the
history's own writes (``availability.history``: append-only, a retroactive window needs a
reason and a second admin's approval), never a rule of their own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from threenines.availability.history import (
    HistoryError,
    add_window,
    change_window,
    exclusions_config,
    records,
)
from threenines.availability.periods import local_text
from threenines.availability.query import unknown_scope, window_span
from threenines.availability.schedule import Exclusion
from threenines.availability.store import maintenance_windows

if TYPE_CHECKING:
    from threenines.core.config import Config


def add(
    engine: Engine, cfg: Config, name: str, start: str, end: str | None, duration: str | None,
    services: list[str], sites: list[str], reason: str, *, by: str, now: float,
) -> tuple[int, str]:  # fmt: skip
    """Record a new window; its id and the line that says what was recorded. A bad span or
    scope is ``QueryError``, a refusal of the history's rules ``HistoryError``."""
    a, b = window_span(cfg, start, end, duration)
    unknown_scope(cfg, services, sites)
    policy = exclusions_config(cfg)
    win = Exclusion(a, b, name, reason, tuple(services), tuple(sites))
    wid = add_window(engine, maintenance_windows, win, now=now, created_by=by, policy=policy)
    note = ""
    if a < now - policy.grace:
        note = (" (retroactive: pending a second admin's approval, not counted yet)"
                if policy.retroactive == "second_admin" else " (retroactive)")  # fmt: skip
    line = f"maintenance window {wid} added: {local_text(a, cfg.tz)} to {local_text(b, cfg.tz)}"
    return wid, line + note


def change(
    engine: Engine, cfg: Config, window_id: int, start: str, end: str | None,
    duration: str | None, reason: str, *, by: str, now: float,
) -> int:  # fmt: skip
    """Record a new version of window ``window_id`` (same name and scope); the record's id."""
    a, b = window_span(cfg, start, end, duration)
    first = next((r for r in records(engine) if r.id == window_id), None)
    if first is None:
        raise HistoryError(f"no maintenance window {window_id}")
    win = replace(first.window, start=a, end=b, reason=reason)
    return change_window(engine, window_id, win, now=now, by=by, policy=exclusions_config(cfg))
