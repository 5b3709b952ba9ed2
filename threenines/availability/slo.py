"""Prometheus SLO rules per service, from the configuration: recording and alerting rules.

The SLI is availability's own: the raw counters ``threenines_service_bad_seconds_total`` and
``threenines_service_counted_seconds_total`` (``threenines.availability.metrics``) count time as
the accounting rules do, and the objective is the service's target (``target_for``). The rules
follow the Google SRE workbook's multi-window, multi-burn-rate alerts over a 30-day SLO period
(``ALERTS``): each alert needs both its long and its short window to burn faster than its
factor, so it fires quickly on a real outage and stops soon after it ends.

``prometheus_rules(cfg)`` is pure and returns the rule file as a dict; ``threenines rules
prometheus`` prints it as YAML. Sloth (``sloth_spec``) or Pyrra can use the same counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from threenines.availability.metrics import BAD, COUNTED, WINDOW, objective
from threenines.core.durations import format_duration

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

PERIOD = "30d"  # the SLO period the burn-rate factors are for (the 30-day gauges' window)
WINDOWS = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 6 * 3600, "3d": 3 * 86400}
ERROR_RATIO = "threenines:slo_error_ratio:rate{}"  # format with a window
BURN_RATE = "threenines:slo_burn_rate:rate{}"
OBJECTIVE = "threenines:slo_objective:ratio"
ALERT = "ThreeninesErrorBudgetBurn"
ABSENT_ALERT = "ThreeninesSloDataAbsent"
ABSENT_FOR = "15m"
LABELS = ("service", "site")


@dataclass(frozen=True, slots=True)
class BurnAlert:
    severity: str
    long: str
    short: str
    factor: float

    @property
    def budget_share(self) -> float:
        """Share of the period's error budget spent when the long window burns at ``factor``."""
        return self.factor * WINDOWS[self.long] / WINDOW


# The SRE workbook's table (chapter "Alerting on SLOs", 30-day period).
ALERTS = (
    BurnAlert("page", "1h", "5m", 14.4),
    BurnAlert("page", "6h", "30m", 6.0),
    BurnAlert("ticket", "3d", "6h", 1.0),
)


def alert_rules_text() -> list[str]:
    """One line per alert, for the README and ``rules --help``."""
    return [
        f"{a.severity}: burn rate over {a.long} and over {a.short} both above {a.factor:g}x "
        f"({a.budget_share:.0%} of the {PERIOD} budget spent in {a.long})"
        for a in ALERTS
    ]


def _selector(service: str) -> str:
    escaped = service.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{service="{escaped}"}}'


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def service_rules(cfg: Config, service: str, site: str) -> dict[str, Any]:
    """The rule group of one service."""
    sel = _selector(service)
    target = objective(cfg, service)
    budget = Decimal(1) - target
    by = ", ".join(LABELS)
    own = {"service": service, "site": site}  # static labels: every rule is the service's own
    rules: list[dict[str, Any]] = [
        {"record": OBJECTIVE, "expr": f"vector({_number(target)})", "labels": own},
    ]
    for w in WINDOWS:
        rules.append({
            "record": ERROR_RATIO.format(w),
            "expr": f"sum by ({by}) (rate({BAD}{sel}[{w}])) / "
                    f"(sum by ({by}) (rate({COUNTED}{sel}[{w}])) > 0)",
            "labels": own,
        })  # fmt: skip
    for w in WINDOWS:
        expr = (
            f"{ERROR_RATIO.format(w)}{sel} / {_number(budget)}"
            if budget > 0
            else f"{ERROR_RATIO.format(w)}{sel} * +Inf"  # a 100 % target: any error is too fast
        )
        rules.append({"record": BURN_RATE.format(w), "expr": expr, "labels": own})
    for a in ALERTS:
        long, short = BURN_RATE.format(a.long) + sel, BURN_RATE.format(a.short) + sel
        rules.append({
            "alert": ALERT,
            "expr": f"{long} > {a.factor:g} and {short} > {a.factor:g}",
            "labels": {**own, "severity": a.severity, "long_window": a.long,
                       "short_window": a.short},
            "annotations": {
                "summary": f"{{{{ $labels.service }}}} is spending its error budget "
                           f"{a.factor:g}x too fast",
                "description": (
                    f"Over {a.long} and {a.short} {{{{ $labels.service }}}} "
                    f"({{{{ $labels.site }}}}) burned its {PERIOD} error budget "
                    f"(target {_number(target * 100)} %) above {a.factor:g}x: at this rate "
                    f"{a.budget_share:.0%} of it goes every {a.long}. "
                    f"Burn rate over {a.long}: {{{{ $value | printf \"%.1f\" }}}}."
                ),
            },
        })  # fmt: skip
    rules.append({
        "alert": ABSENT_ALERT,
        "expr": f"absent({COUNTED}{sel})",
        "for": ABSENT_FOR,
        "labels": {**own, "severity": "ticket"},
        "annotations": {
            "summary": f"No SLO data for {service}",
            "description": f"Prometheus has had no {COUNTED} for {service} for {ABSENT_FOR}: "
                           "its burn-rate alerts cannot fire.",
        },
    })  # fmt: skip
    return {"name": f"threenines-slo-{service}", "rules": rules}


def prometheus_rules(cfg: Config) -> dict[str, Any]:
    """The whole rule file: one group per configured service."""
    return {"groups": [service_rules(cfg, s.name, s.site) for s in cfg.services]}


def sloth_spec(cfg: Config) -> dict[str, Any]:
    """The same SLOs as a Sloth (prometheus/v1) spec, for teams that generate rules with Sloth."""
    slos = []
    for s in cfg.services:
        sel = _selector(s.name)
        slos.append({
            "name": f"{s.name}-availability",
            "objective": float(objective(cfg, s.name) * 100),
            "description": f"Time-weighted availability of {s.name} as threenines counts it",
            "labels": {"site": s.site},
            "sli": {"events": {
                "error_query": f"sum(rate({BAD}{sel}[{{{{.window}}}}]))",
                "total_query": f"sum(rate({COUNTED}{sel}[{{{{.window}}}}]))",
            }},
            "alerting": {"name": f"{ALERT}Sloth", "labels": {"service": s.name},
                         "page_alert": {"labels": {"severity": "page"}},
                         "ticket_alert": {"labels": {"severity": "ticket"}}},
        })  # fmt: skip
    return {"version": "prometheus/v1", "service": "threenines", "slos": slos}


def describe() -> str:
    """What the generated rules do, in a paragraph (for ``--help`` and the README)."""
    lines = "; ".join(alert_rules_text())
    return (
        f"Per service: error ratio and burn rate over {', '.join(WINDOWS)} from "
        f"{BAD} / {COUNTED}; alerts {ALERT} ({lines}); {ABSENT_ALERT} after {ABSENT_FOR} "
        f"without data. SLO period {format_duration(WINDOW)}."
    )
