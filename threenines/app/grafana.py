"""``threenines dashboards grafana``: one Grafana dashboard over threenines' own metrics.

Rows: estate, data centres, services (availability against target, error budget, burn rates
from the generated SLO rules), probe phases, SNMP uplinks, alerts, failover. Every panel is a
PromQL query on ``threenines_*`` series (or the ``threenines:*`` recording rules of ``threenines
rules prometheus``); the dashboard's variables are the Prometheus data source, ``$site`` and
``$service``. ``PANELS`` is the one list: the dashboard and its test are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from threenines.availability.metrics import COUNTED, GOOD, TARGET
from threenines.availability.slo import BURN_RATE, WINDOWS

UID = "threenines-estate"
SVC = 'service=~"$service"'
SITE = 'site=~"$site"'


@dataclass(frozen=True)
class Panel:
    title: str
    exprs: tuple[tuple[str, str], ...]  # (PromQL, legend)
    kind: str = "timeseries"  # timeseries | stat | table | bargauge
    unit: str = "none"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _burn_targets() -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"{BURN_RATE.format(w)}{{{SVC}}}", f"{{{{service}}}} {w}") for w in ("5m", "1h", "6h")
        if w in WINDOWS
    )  # fmt: skip


ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    ("Estate", (
        Panel("Lowest service availability (30 d)",
              (('min(threenines_service_availability_ratio{window="30d"})', "lowest"),),
              "stat", "percentunit"),
        Panel("Services below target (30 d)",
              (('count(threenines_service_availability_ratio{window="30d"} < on (service, site) '
                f"{TARGET}) or vector(0)", "services"),), "stat"),
        Panel("Checks by state", (("sum by (state) (threenines_check_state)", "{{state}}"),),
              "bargauge"),
        Panel("Database writes", (("threenines_database_up", "database up"),
                                  ("threenines_results_buffered", "results buffered")), "stat"),
    )),
    ("Data centres", (
        Panel("Site availability (30 d, service time pooled)",
              ((f'threenines_site_availability_ratio{{{SITE},window="30d"}}', "{{site}}"),),
              "bargauge", "percentunit"),
        Panel("Checks down by site",
              ((f'sum by (site) (threenines_check_state{{{SITE},state="down"}})', "{{site}}"),)),
    )),
    ("Services", (
        Panel("Availability against target (30 d)",
              ((f'threenines_service_availability_ratio{{{SVC},window="30d"}}', "{{service}}"),
               (f"{TARGET}{{{SVC}}}", "{{service}} target")), "timeseries", "percentunit"),
        Panel("Error budget left (30 d)",
              ((f'threenines_service_error_budget_remaining_ratio{{{SVC},window="30d"}}',
                "{{service}}"),), "bargauge", "percentunit"),
        Panel("Good time, live", (
            (f"sum by (service) (rate({GOOD}{{{SVC}}}[$__rate_interval])) / "
             f"(sum by (service) (rate({COUNTED}{{{SVC}}}[$__rate_interval])) > 0)",
             "{{service}}"),), "timeseries", "percentunit",
            "Good / counted time from the raw counters (exclusions and no data left out)"),
        Panel("Error budget burn rate (SLO rules)", _burn_targets(), "timeseries", "none",
              "From `threenines rules prometheus`: 14.4x over 1h and 5m pages"),
    )),
    ("Probe phases", (
        Panel("Probe phases (last counted result)",
              ((f'avg by (service, check, phase) (threenines_check_duration_seconds{{{SVC},'
                'phase!="total"})', "{{service}}/{{check}} {{phase}}"),), "timeseries", "s"),
        Panel("Probe duration, total",
              ((f'threenines_check_duration_seconds{{{SVC},phase="total"}}',
                "{{service}}/{{check}} @{{vantage}}"),), "timeseries", "s"),
        Panel("Attempts of the last counted result",
              ((f"threenines_check_attempts{{{SVC}}}", "{{service}}/{{check}}"),)),
        Panel("Scheduler lag p99",
              (("histogram_quantile(0.99, sum by (le, vantage) "
                "(rate(threenines_scheduler_lag_seconds_bucket[$__rate_interval])))",
                "{{vantage}}"),), "timeseries", "s"),
    )),
    ("SNMP uplinks", (
        Panel("Devices answering", ((f"threenines_snmp_up{{{SITE}}}", "{{device}}"),), "stat"),
        Panel("Interfaces up", ((f"threenines_snmp_if_oper_up{{{SITE}}}",
                                 "{{device}} {{interface}}"),), "stat"),
        Panel("Interface traffic", (
            (f"threenines_snmp_if_in_bytes_per_second{{{SITE}}}", "{{device}} {{interface}} in"),
            (f"threenines_snmp_if_out_bytes_per_second{{{SITE}}}", "{{device}} {{interface}} out"),
        ), "timeseries", "Bps"),
        Panel("Interface errors", (
            (f"threenines_snmp_if_in_errors_per_second{{{SITE}}}", "{{device}} {{interface}} in"),
            (f"threenines_snmp_if_out_errors_per_second{{{SITE}}}",
             "{{device}} {{interface}} out"),
        ), "timeseries", "none"),
    )),
    ("Alerts", (
        Panel("Open alerts by severity", (("threenines_alerts_open", "{{severity}}"),),
              "bargauge"),
        Panel("Notifications", (("sum by (outcome) (rate(threenines_alert_notifications_total"
                                 "[$__rate_interval]))", "{{outcome}}"),)),
        Panel("Outbox depth", (("threenines_alert_outbox_depth", "outbox"),), "stat"),
        Panel("SLO alerts firing",
              (('count by (alertname, severity) (ALERTS{alertname=~"Threenines.*",'
                'alertstate="firing"}) or vector(0)', "{{alertname}} {{severity}}"),), "stat"),
    )),
    ("Failover", (
        Panel("Plans", (("threenines_failover_plan_info", "{{plan}}: {{primary}} -> {{mirror}} "
                         "({{mode}})"),), "table"),
        Panel("Runs by state", (("sum by (plan, kind, state) (threenines_failover_runs)",
                                 "{{plan}} {{kind}} {{state}}"),), "bargauge"),
        Panel("Since the last run", (("time() - threenines_failover_last_run_timestamp_seconds",
                                      "{{plan}} {{kind}}"),), "stat", "s"),
    )),
)  # fmt: skip


def queries() -> list[tuple[str, str]]:
    """Every (panel title, PromQL) of the dashboard, in order."""
    return [(p.title, expr) for _row, panels in ROWS for p in panels for expr, _ in p.exprs]


def _panel(p: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": pid,
        "type": p.kind,
        "title": p.title,
        "description": p.description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 6, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            }
            for i, (expr, legend) in enumerate(p.exprs)
        ],
        **p.extra,
    }


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
    }


def dashboard(title: str = "threenines") -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (import it, or provision it from a file)."""
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    for row, row_panels in ROWS:
        panels.append({"id": pid, "type": "row", "title": row, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})  # fmt: skip
        pid, y = pid + 1, y + 1
        for i, p in enumerate(row_panels):
            panels.append(_panel(p, pid, (i % 4) * 6, y + (i // 4) * 8))
            pid += 1
        y += 8 * ((len(row_panels) + 3) // 4)
    return {
        "uid": UID,
        "title": title,
        "tags": ["threenines", "availability", "slo"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                },
                _variable("site", "label_values(threenines_check_up, site)"),
                _variable("service", 'label_values(threenines_check_up{site=~"$site"}, service)'),
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }
