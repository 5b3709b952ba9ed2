"""Availability's Prometheus side: figures absent until known, the raw SLO counters."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from threenines.app.config import parse_config
from threenines.availability.engine import Estate, Inputs
from threenines.availability.metrics import (
    BAD,
    COUNTED,
    GOOD,
    TARGET,
    objective,
    publish,
    register_availability_metrics,
    register_slo_counters,
)
from threenines.availability.timeline import IntervalRow

CONFIG = """
target: 99.9
sites: [{name: dc1}]
services:
  - {name: web, site: dc1, checks: [{name: a, type: tcp, host: 127.0.0.1, port: 1}]}
  - name: pay
    site: dc1
    availability_target: 99.95
    degraded_is_up: false
    checks: [{name: a, type: tcp, host: 127.0.0.1, port: 2}]
"""
H = 3600.0


def _rows(*spans: tuple[float, float, str]) -> list[IntervalRow]:
    return [IntervalRow(st, a, b, b - 1, None, st) for a, b, st in spans]


def _names(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_a_fresh_install_has_no_ratio_no_budget_and_no_burn_rate() -> None:
    cfg = parse_config(CONFIG)
    registry = CollectorRegistry()
    gauges = register_availability_metrics(registry)
    publish(gauges, Estate(cfg, Inputs(rows={}), 0, 30 * 86400, 30 * 86400))
    text = _names(registry)
    assert "NaN" not in text
    for absent in ("availability_ratio{", "budget_remaining_seconds{", "burn_rate{"):
        assert absent not in text, absent
    # what is known is there: the target, and that the whole window had no data
    assert registry.get_sample_value(TARGET, {"service": "pay", "site": "dc1"}) == 0.9995
    nodata = registry.get_sample_value(
        "threenines_service_nodata_seconds", {"service": "web", "site": "dc1", "window": "30d"}
    )
    assert nodata == 30 * 86400


def test_figures_appear_once_known_and_disappear_when_not() -> None:
    cfg = parse_config(CONFIG)
    registry = CollectorRegistry()
    gauges = register_availability_metrics(registry)
    rows = {("web/a", "central"): _rows((0, 2 * H, "up"))}
    publish(gauges, Estate(cfg, Inputs(rows=rows), 0, 2 * H, 2 * H))
    labels = {"service": "web", "site": "dc1", "window": "30d"}
    assert registry.get_sample_value("threenines_service_availability_ratio", labels) == 1.0
    left = registry.get_sample_value("threenines_service_error_budget_remaining_seconds", labels)
    assert left == pytest.approx(2 * H * 0.001)
    # a later estate with nothing counted for web (pay never had data): the series go away
    publish(gauges, Estate(cfg, Inputs(rows={}), 0, 2 * H, 2 * H))
    assert registry.get_sample_value("threenines_service_availability_ratio", labels) is None
    assert "NaN" not in _names(registry)


def test_slo_counters_add_each_stretch_as_the_accounting_counts_it() -> None:
    cfg = parse_config(CONFIG)
    registry = CollectorRegistry()
    counters = register_slo_counters(registry)
    counters.declare(cfg)
    web, pay = {"service": "web", "site": "dc1"}, {"service": "pay", "site": "dc1"}
    assert registry.get_sample_value(COUNTED, web) == 0  # declared: rate() sees the first add
    rows = {
        ("web/a", "central"): _rows((0, 600, "up"), (600, 660, "down"), (660, 1200, "degraded")),
        ("pay/a", "central"): _rows((0, 600, "up"), (600, 1200, "degraded")),
    }
    est = Estate(cfg, Inputs(rows=rows), 0, 1200, 1200)
    counters.add(est, 0, 600)
    counters.add(est, 600, 1200)
    get = registry.get_sample_value
    assert (get(GOOD, web), get(BAD, web), get(COUNTED, web)) == (1140, 60, 1200)
    # pay does not count degraded as up: the service's own rule, from the accounting
    assert (get(GOOD, pay), get(BAD, pay)) == (600, 600)
    assert float(objective(cfg, "pay")) == 0.9995 and float(objective(cfg, "web")) == 0.999
