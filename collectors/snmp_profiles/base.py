"""The profile contract: what a profile declares and what its pure ``interpret`` returns.

A profile names its scalars (fetched with one GET) and its table columns (walked together with
GETBULK; columns of tables that share an index, such as ifTable and ifXTable, form one row),
lists the metrics it produces, and has a pure ``interpret(fetched, ctx, state)`` that returns
an ``Outcome``: readings ``(metric, subject, value)``, events, availability results and its
new state. No I/O and no clock in here: ``ctx.ts`` is the time of the poll.

Adding a profile is one definition and one line in ``PROFILES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from threenines.collectors.store import EventRecord
from threenines.core.results import ProbeResult


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A reading kind: exported as Prometheus gauge ``threenines_snmp_<name>`` (in base
    units: ``threenines.collectors.snmp_metrics.export_name``) with ``label`` if any."""

    name: str
    help: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one poll fetched for one profile: scalars by name, table rows by index."""

    ts: float
    scalars: Mapping[str, Any] = field(default_factory=dict)
    rows: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Context:
    device: str
    site: str
    ts: float
    restarted: bool = False  # the agent restarted since the last poll: counters start over
    interval: float = 60.0
    uplinks: tuple[str, ...] = ()
    include: tuple[str, ...] | None = None  # interface globs to export (None: all)

    def event(self, kind: str, severity: str, subject: str | None, message: str, **kw: Any):
        return EventRecord(
            ts=self.ts,
            source="snmp_poll",
            kind=kind,
            severity=severity,
            site=self.site,
            device=self.device,
            subject=subject,
            message=message,
            **kw,
        )

    @property
    def check_id(self) -> str:
        return f"device:{self.device}"


@dataclass(slots=True)
class Outcome:
    readings: list[tuple[str, str, float]] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    results: list[tuple[str, ProbeResult]] = field(default_factory=list)  # (check_id, result)
    state: Any = None


Interpret = Callable[[Fetched, Context, Any], Outcome]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    scalars: Mapping[str, str]  # name -> OID with instance (".0")
    columns: Mapping[str, str]  # name -> column OID
    metrics: tuple[MetricSpec, ...]
    interpret: Interpret


def num(value: Any) -> float | None:
    """A reading value from an SNMP value: ints as they are, numeric strings parsed."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None
