"""Time-weighted availability and error budgets over a window.

Accounting rules (stated in every report, see ``RULES``):
- The window is split into excluded time (maintenance, then drills, then outside service
  hours: each second is excluded once, by the first that covers it) and counted time.
- Counted time with no data, and time whose checks lack a quorum of fresh vantage points
  ("quorum not reached"), are reported apart and excluded from both sides.
- Availability = good / (good + bad), where bad is down time (plus degraded time when the
  service does not count degraded as up).
- Error budget = (1 - target) x (good + bad); met when bad <= budget. Decimal arithmetic on
  the target, so 99.9 % of 30 days is exactly 2592 s (43m12s).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from threenines.availability.display import DATA_PLACES, PLACES, percent
from threenines.availability.intervals import Spans, intersect, subtract, total, union
from threenines.availability.state import LABELS
from threenines.availability.timeline import (
    DEGRADED,
    DOWN,
    NO_QUORUM,
    UP,
    Timeline,
    intervals,
)
from threenines.collectors.config import POLL_GAP_RULE
from threenines.core.config.devices import IF, PREFIX
from threenines.core.durations import format_duration
from threenines.core.scheduler import MAX_GAP_RULE

EPSILON = 0.0005  # half a millisecond: float noise never flips met/missed

NO_QUORUM_LABEL = LABELS[NO_QUORUM]
_MONTH_BUDGET = float(Decimal(30 * 86400) * (Decimal(100) - Decimal("99.9")) / Decimal(100))

# (title, text): the board report prints the texts, the README's "How it counts" is
# ``rules_markdown()`` (a test holds the two equal). Figures quoted come from the code.
RULE_ITEMS = (
    (
        "Time-weighted",
        "Availability is time-weighted from state intervals, not counted from samples.",
    ),
    (
        "Quorum",
        "A check is down when at least K of its vantage points with fresh data see it down "
        "(degraded likewise with degraded or down); K is the service's `quorum`, by default a "
        "majority of the check's vantage points. A silent vantage point does not vote, and K "
        "is never lowered to the number that do: when fewer than K vantage points have fresh "
        f'data the state is "{NO_QUORUM_LABEL}". A site losing its own WAN link therefore '
        "does not mark central services down.",
    ),
    (
        "Silence is not downtime",
        "A vantage point's result is fresh until its check's gap allowance has passed: "
        f"{MAX_GAP_RULE} for a probe, {POLL_GAP_RULE} for an SNMP device; a longer silence "
        'ends the interval. Time that nobody measured is "no data", and time with too few '
        f'vantage points is "{NO_QUORUM_LABEL}": each is reported in its own column and '
        "excluded from both sides, never counted as up or down. An agent's queued results "
        "fill in the history when it comes back.",
    ),
    (
        "Services",
        "A service combines its checks: `all` (down if any check is down), `any` (up if any "
        "is up) or `weighted` (up while checks carrying `weighted_threshold` of the weight "
        "are up). A check without quorum or data never makes a service up or down by itself.",
    ),
    (
        "Dependencies",
        f"A site's or service's `devices` (SNMP reachability `{PREFIX}<name>` and uplinks "
        f"`{PREFIX}<name>{IF}<ifName>`) are required: the service is down while one of them "
        "is down, with the device named as the cause. "
        "Downtime during an outage of a `depends_on` dependency (such as a site's WAN link) "
        "still counts for the service but is attributed to the dependency: one incident, "
        "one cause.",
    ),
    (
        "Exclusions",
        "Maintenance windows, drill periods and time outside service hours are excluded from "
        "the denominator; a second covered by several is excluded once. Stored windows are "
        "never changed or deleted: a change or removal is a new record with who, when and why. "
        "A window made after its start is retroactive: it needs a reason and, unless "
        "`exclusions.retroactive` is `none`, counts only once a second person with the admin "
        "role approves it. A tabletop drill injects no fault, so none of its time is excluded.",
    ),
    (
        "Degraded",
        "Degraded time counts as available unless a service says otherwise; it is reported apart.",
    ),
    (
        "Error budget",
        "Error budget = (100 % - target) x counted time; the target is met when the downtime "
        "does not exceed the budget.",
    ),
    (
        "Shown rounded down",
        f"Percentages are shown rounded down to {PLACES} decimals ({DATA_PLACES} in the CSV), "
        "never rounded up, so a missed target never shows as the target: at 99.9 % a 30-day "
        f"month allows {format_duration(_MONTH_BUDGET)} of downtime, and "
        f"{format_duration(_MONTH_BUDGET + 1)} is shown as "
        f"{percent(100 - (_MONTH_BUDGET + 1) / 25920, unit=' %')}, missed.",
    ),
)
RULES = tuple(text for _title, text in RULE_ITEMS)


def rules_markdown(width: int = 100) -> str:
    """The rules as the README's "How it counts" section body shows them (print them with
    ``python -m threenines.availability.accounting``)."""
    items = (f"- **{title}.** {text}" for title, text in RULE_ITEMS)
    return "\n".join(textwrap.fill(i, width, subsequent_indent="  ") for i in items) + "\n"


def allowed_downtime(counted: float, target: float) -> float:
    """Seconds of downtime a ``target`` percent allows over ``counted`` seconds."""
    exact = Decimal(repr(counted)) * (Decimal(100) - Decimal(repr(target))) / Decimal(100)
    return float(exact)


@dataclass(frozen=True, slots=True)
class Figures:
    """Seconds by category over ``[start, end)`` and what follows from them."""

    start: float
    end: float
    target: float
    degraded_is_up: bool = True
    up: float = 0.0
    degraded: float = 0.0
    down: float = 0.0
    nodata: float = 0.0
    no_quorum: float = 0.0  # counted time with too few fresh vantage points: like no data
    maintenance: float = 0.0
    drill: float = 0.0
    outside_hours: float = 0.0
    down_excluded: float = 0.0  # downtime inside exclusions: shown, never counted
    bad_spans: tuple[tuple[float, float], ...] = field(default=(), compare=False, repr=False)
    good_spans: tuple[tuple[float, float], ...] = field(default=(), compare=False, repr=False)

    @property
    def good(self) -> float:
        return self.up + (self.degraded if self.degraded_is_up else 0.0)

    @property
    def bad(self) -> float:
        return self.down + (0.0 if self.degraded_is_up else self.degraded)

    @property
    def counted(self) -> float:
        return self.good + self.bad

    @property
    def availability(self) -> float | None:
        return self.good / self.counted if self.counted > 0 else None

    @property
    def allowed(self) -> float:
        return allowed_downtime(self.counted, self.target)

    @property
    def remaining(self) -> float:
        return self.allowed - self.bad

    @property
    def met(self) -> bool | None:
        return None if self.counted <= 0 else self.bad <= self.allowed + EPSILON

    @property
    def burn_rate(self) -> float | None:
        """Budget consumption relative to the sustainable rate (1.0 = exactly on budget)."""
        if self.counted <= 0:
            return None
        ratio = 1 - self.target / 100
        return (self.bad / self.counted) / ratio if ratio > 0 else None


def account(
    tl: Timeline,
    start: float,
    end: float,
    target: float,
    *,
    maintenance: Spans = (),
    drills: Spans = (),
    outside_hours: Spans = (),
    degraded_is_up: bool = True,
) -> Figures:
    """Figures for one timeline over ``[start, end)`` given its exclusions."""
    window = [(start, end)] if end > start else []
    maint = intersect(maintenance, window)
    drill = subtract(intersect(drills, window), maint)
    excluded = union(maint, drill)
    hours = subtract(intersect(outside_hours, window), excluded)
    excluded = union(excluded, hours)
    counted = subtract(window, excluded)
    by_state = {s: intervals(tl, s) for s in (UP, DEGRADED, DOWN)}
    parts = {s: intersect(iv, counted) for s, iv in by_state.items()}
    bad_states = (DOWN,) if degraded_is_up else (DOWN, DEGRADED)
    bad = union(*(parts[s] for s in bad_states))
    good = union(*(parts[s] for s in (UP, DEGRADED) if s not in bad_states))
    known = sum(total(p) for p in parts.values())
    unquorate = total(intersect(intervals(tl, NO_QUORUM), counted))
    return Figures(
        start=start,
        end=end,
        target=target,
        degraded_is_up=degraded_is_up,
        up=total(parts[UP]),
        degraded=total(parts[DEGRADED]),
        down=total(parts[DOWN]),
        nodata=max(0.0, total(counted) - known - unquorate),
        no_quorum=unquorate,
        maintenance=total(maint),
        drill=total(drill),
        outside_hours=total(hours),
        down_excluded=total(intersect(by_state[DOWN], excluded)),
        bad_spans=tuple(bad),
        good_spans=tuple(good),
    )


_SUMMED = (
    "up",
    "degraded",
    "down",
    "nodata",
    "no_quorum",
    "maintenance",
    "drill",
    "outside_hours",
)


def pool(items: Iterable[Figures], start: float, end: float, target: float) -> Figures:
    """Service-time pooled figures (a site's or the estate's): seconds are summed.

    Degraded time of services that do not count it as up is moved to ``down`` so the pooled
    good/bad split stays the sum of the parts.
    """
    sums: dict[str, Any] = dict.fromkeys((*_SUMMED, "down_excluded"), 0.0)
    for f in items:
        for name in sums:
            sums[name] += getattr(f, name)
        if not f.degraded_is_up:
            sums["degraded"] -= f.degraded
            sums["down"] += f.degraded
    return replace(Figures(start=start, end=end, target=target), **sums)


def add(a: Figures, b: Figures) -> Figures:
    """Figures of two adjacent windows taken together (same subject)."""
    sums: dict[str, Any] = {n: getattr(a, n) + getattr(b, n) for n in (*_SUMMED, "down_excluded")}
    bad = tuple(union(a.bad_spans, b.bad_spans))
    good = tuple(union(a.good_spans, b.good_spans))
    return replace(
        a,
        start=min(a.start, b.start),
        end=max(a.end, b.end),
        bad_spans=bad,
        good_spans=good,
        **sums,
    )


if __name__ == "__main__":  # the README's "How it counts" body, generated
    print(rules_markdown(), end="")
