"""Render a notification to text with Jinja2: a title, a body, a short (<= 160 char) SMS form,
and a bounded summary for receivers that cannot take the whole body.

Template variables: ``n`` (the notification: ``kind``, ``route``, ``group``, ``items``), ``items``
(each: ``kind``, ``i`` the incident, ``children``, ``runbook``, ``ack``), ``org``, and the
filters ``when`` (epoch -> local time) and ``ago`` (seconds -> ``1h5m``). Operators can override
each template in ``alerts.templates``; overrides are compiled when the config loads.

The summary (``summarise``) is what a receiver gets when the body is longer than it accepts
(``deliver.fit``): the title, the counts by kind, by site and by cause (the ``SUMMARY_TOP``
largest of each), the first ``SUMMARY_NAMES`` names, and the console's incidents list when
``alerts.templates.console_url`` is set. 3,000 checks failing behind one WAN link are then a
message of about a kilobyte, not 190 KB.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined, Template

from threenines.alerts.config import Templates
from threenines.alerts.model import Incident, Item, Notification
from threenines.core.durations import format_duration

SMS_LIMIT = 160
SUMMARY_NAMES = 10  # a summary names this many incidents, then counts the rest
SUMMARY_TOP = 5  # and lists this many sites and causes, largest first

TITLE = (
    "{% set first = items[0] %}"
    "[{{ first.label }}] "
    "{% if items|length == 1 %}{{ first.i.title }} {{ first.verb }}"
    "{% if first.children %} ({{ first.children|length }} affected behind it){% endif %}"
    "{% else %}{{ items|length }} alerts at {{ n.group }}{% endif %}"
)

BODY = """\
{% for it in items %}
{{ it.label }} {{ it.i.severity }} {{ it.i.category }}: {{ it.i.title }} {{ it.verb }}
  since: {{ it.i.since|when }} ({{ (now - it.i.since)|ago }} ago)
{% if it.kind == 'resolved' %}  resolved: {{ it.i.resolved_at|when }} by {{ it.i.resolved_by }}
{% endif %}
{% if it.i.cause %}  cause: {{ it.i.cause }}
{% endif %}
{% if it.i.vantages %}  seen from: {{ it.i.vantages|join(', ') }}
{% endif %}
{% if it.i.site or it.i.service %}  where: {{ it.where }}
{% endif %}
{% if it.i.affected %}  affects: {{ it.i.affected|join(', ') }}
{% endif %}
{% if it.i.count > 1 %}  occurrences: {{ it.i.count }}
{% endif %}
{% if it.i.acked_by %}  acknowledged by {{ it.ack_by }}
{% endif %}
{% if it.children %}  suppressed behind it ({{ it.children|length }}):
{% for c in it.children %}    - {{ c.title }} ({{ c.status ~ (': ' ~ c.cause if c.cause else '') }})
{% endfor %}
{% endif %}
{% if it.runbook %}  runbook: {{ it.runbook }}
{% endif %}
{% if it.kind != 'resolved' %}  acknowledge: {{ it.ack }}
{% endif %}
{% endfor %}"""

SHORT = (
    "{% set first = items[0] %}{{ first.label }} {{ first.i.title }} {{ first.verb }}"
    "{% if first.children %} +{{ first.children|length }} behind{% endif %}"
    "{% if items|length > 1 %} (+{{ items|length - 1 }} more){% endif %}"
    " since {{ first.i.since|when('%H:%M') }}"
    "{% if first.kind != 'resolved' %} ack {{ first.i.uid }}{% endif %}"
)

_LABEL = {
    "firing": "FIRING",
    "reopened": "REOPENED",
    "resolved": "RESOLVED",
    "flapping": "FLAPPING",
    "escalation": "ESCALATED",
    "reminder": "REMINDER",
    "test": "TEST",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str
    short: str
    notify_type: str  # Apprise: info | success | warning | failure
    summary: str = ""  # for a receiver the body is too long for (``summarise``)


@lru_cache(maxsize=8)
def environment(tz: str = "UTC") -> Environment:
    env = Environment(undefined=StrictUndefined, trim_blocks=True, keep_trailing_newline=False)
    zone = ZoneInfo(tz)
    env.filters["when"] = lambda ts, fmt="%Y-%m-%d %H:%M:%S %Z": (
        datetime.fromtimestamp(float(ts), zone).strftime(fmt) if ts is not None else "-"
    )
    env.filters["ago"] = lambda s: format_duration(max(0.0, round(float(s))))
    return env


@lru_cache(maxsize=64)
def _compile(source: str, tz: str) -> Template:
    return environment(tz).from_string(source)


def _verb(item: Item) -> str:
    cond = item.incident.condition
    if item.kind == "test":
        return "(no action needed)"
    if item.kind == "resolved":
        return "recovered"
    if item.kind == "flapping":
        return "is flapping (notifications held until it is stable)"
    if item.incident.kind == "event":
        return "occurred"
    return "is degraded" if cond == "degraded" else "is down"


def _item_vars(item: Item, t: Templates, tz: str) -> dict[str, Any]:
    inc = item.incident
    ctx = {"uid": inc.uid, "key": inc.key, "site": inc.site, "service": inc.service}
    runbook = _compile(t.runbook_url, tz).render(ctx) if t.runbook_url else None
    return {
        "kind": item.kind,
        "label": _LABEL.get(item.kind, item.kind.upper()),
        "verb": _verb(item),
        "i": inc,
        "children": item.children,
        "runbook": runbook,
        "ack_by": f"{inc.acked_by}: {inc.ack_note}" if inc.ack_note else inc.acked_by,
        "where": " ".join(
            f"{k} {v}" for k, v in (("site", inc.site), ("service", inc.service)) if v
        ),
        "ack": _compile(t.ack_hint, tz).render(ctx),
    }


def _notify_type(n: Notification) -> str:
    kinds = {i.kind for i in n.items}
    if kinds == {"resolved"}:
        return "success"
    if any(i.incident.severity in ("critical", "major") for i in n.items if i.kind != "resolved"):
        return "failure"
    return "warning" if kinds & {"firing", "flapping", "escalation", "reminder"} else "info"


def render(
    n: Notification,
    t: Templates | None = None,
    *,
    tz: str = "UTC",
    org: str = "threenines",
    now: float | None = None,
) -> Rendered:
    """Render ``n``; never raises for content (a template error is caught at config load)."""
    t = t or Templates()
    items = [_item_vars(i, t, tz) for i in n.items]
    variables = {
        "n": n,
        "items": items,
        "org": org,
        "now": now if now is not None else n.created_at,
    }
    title = _compile(t.title or TITLE, tz).render(variables).strip()
    body = _compile(t.body or BODY, tz).render(variables).strip()
    short = " ".join(_compile(t.short or SHORT, tz).render(variables).split())
    if len(short) > SMS_LIMIT:
        short = short[: SMS_LIMIT - 1] + "…"
    ack = items[0]["ack"] if len(items) == 1 and n.items[0].kind != "resolved" else ""
    summary = summarise(n, title, t.console_url, ack)
    return Rendered(title, body, short, _notify_type(n), summary)


def _top(counts: Counter[str], what: str) -> str:
    shown = " · ".join(f"{name} {n:,}" for name, n in counts.most_common(SUMMARY_TOP))
    rest = len(counts) - SUMMARY_TOP
    return f"by {what}: {shown}" + (f" (+{rest:,} more {what}s)" if rest > 0 else "")


def summarise(n: Notification, title: str, console_url: str | None = None, ack: str = "") -> str:
    """``n`` in a few lines whatever its size: counts by kind, site and cause, the first
    ``SUMMARY_NAMES`` incidents (those behind another are named after it), and where the rest
    are. Plain text, lines of their own, so ``deliver.fit`` can cut it at a line."""
    incidents: list[tuple[str, Incident, Incident | None]]
    incidents = [(it.kind, it.incident, None) for it in n.items]
    incidents += [(it.kind, c, it.incident) for it in n.items for c in it.children]
    kinds = Counter(_LABEL.get(it.kind, it.kind.upper()) for it in n.items)
    sites = Counter(i.site or "no site" for _k, i, _p in incidents)
    causes = Counter(
        (f"behind {p.title}" if p is not None else (i.cause or i.condition)).splitlines()[0][:80]
        for _k, i, p in incidents
    )
    lines = [title]
    counted = ", ".join(f"{v:,} {k}" for k, v in kinds.most_common())
    behind = len(incidents) - len(n.items)
    lines.append(f"{len(n.items):,} alert(s): {counted}"
                 + (f"; {behind:,} more affected behind them" if behind else ""))  # fmt: skip
    lines += [_top(sites, "site"), _top(causes, "cause")]
    for _kind, inc, parent in incidents[:SUMMARY_NAMES]:
        where = f" at {inc.site}" if inc.site else ""
        lines.append(f"- {inc.title}{where}" + (f" (behind {parent.title})" if parent else ""))
    rest = len(incidents) - SUMMARY_NAMES
    link = f"{console_url.rstrip('/')}/incidents" if console_url else ""
    if rest > 0:
        lines.append(f"+{rest:,} more" + (f": {link}" if link else " (threenines alerts list)"))
    elif link:
        lines.append(link)
    if ack:
        lines.insert(1, f"acknowledge: {ack}")
    return "\n".join(lines)
