"""Pure matching: silences, maintenance windows and routes (with time-of-day) against incidents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from threenines.alerts.config import WEEKDAYS, AlertsConfig, Route, RouteMatch, TimeInterval
from threenines.alerts.model import Incident, Silence, Window

SILENCE_LABELS = frozenset({"key", "kind", "severity", "category", "site", "service", "tags"})


def silence_matches(silence: Silence, incident: Incident) -> bool:
    """Every matcher (label -> glob) must match; ``tags`` matches if any tag does."""
    labels = incident.labels()
    for label, pattern in silence.matchers.items():
        value = labels.get(label)
        if label == "tags":
            if not any(fnmatchcase(t, pattern) for t in value or ()):
                return False
        elif not fnmatchcase(str(value or ""), pattern):
            return False
    return bool(silence.matchers)


def silenced_by(silences: Iterable[Silence], incident: Incident, now: float) -> str | None:
    for s in silences:
        if s.active(now) and silence_matches(s, incident):
            return s.id
    return None


def in_scope(incident: Incident, scope: str) -> bool:
    """``*``/``all``, ``kind:name`` (site: also covers everything at the site), or a bare name."""
    if scope in ("*", "all", ""):
        return True
    kind, sep, name = scope.partition(":")
    names = {incident.site, incident.service, incident.key.partition(":")[2]}
    if not sep:
        return scope in names
    if kind in ("site", "datacentre"):
        return incident.site == name or incident.key == f"{kind}:{name}"
    if kind == "service":
        return incident.service == name or incident.key == scope
    return incident.key == scope or (kind == "device" and name in names)


def in_maintenance(windows: Sequence[Window], incident: Incident, now: float) -> bool:
    return any(w.start <= now < w.end and in_scope(incident, w.scope) for w in windows)


def _glob_any(patterns: list[str], value: str | None) -> bool:
    return not patterns or any(fnmatchcase(value or "", p) for p in patterns)


def route_matches(match: RouteMatch, incident: Incident) -> bool:
    return (
        (not match.severity or incident.severity in match.severity)
        and (not match.category or incident.category in match.category)
        and (not match.kind or incident.kind in match.kind)
        and _glob_any(match.site, incident.site)
        and _glob_any(match.service, incident.service)
        and (not match.tags or bool(set(match.tags) & set(incident.tags)))
    )


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def interval_contains(interval: TimeInterval, local: datetime) -> bool:
    if WEEKDAYS[local.weekday()] not in interval.weekdays:
        return False
    minute = local.hour * 60 + local.minute
    return any(_minutes(t.start) <= minute < _minutes(t.end) for t in interval.times)


def route_active(route: Route, cfg: AlertsConfig, now: float, tz: ZoneInfo) -> bool:
    if not route.active_during:
        return True
    local = datetime.fromtimestamp(now, tz)
    wanted = set(route.active_during)
    return any(interval_contains(t, local) for t in cfg.time_intervals if t.name in wanted)


def routes_for(incident: Incident, cfg: AlertsConfig, now: float, tz: ZoneInfo) -> tuple[str, ...]:
    """Routes in order; the first match wins unless it says ``continue``."""
    out: list[str] = []
    for route in cfg.routes:
        if route_matches(route.match, incident) and route_active(route, cfg, now, tz):
            out.append(route.name)
            if not route.continue_:
                break
    return tuple(out)
