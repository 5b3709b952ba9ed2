"""Availability config: maintenance windows, service hours, quorum/combine, with exact errors."""

from __future__ import annotations

import pytest

from threenines.app.config import parse_config
from threenines.core.config import ConfigError

BASE = """
sites: [{name: dc1, kind: datacentre}]
vantage_points: [{name: agent, site: dc1}]
services:
  - name: web
    site: dc1
    checks: [{name: a, type: tcp, host: 127.0.0.1, port: 80, vantage: [central, agent]}]
"""


def problems(extra: str, services: str = "") -> list[str]:
    text = BASE.replace("    checks:", services + "    checks:") + extra
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "c.yaml")
    return [str(p) for p in exc.value.problems]


def test_valid_config_loads_with_every_field():
    cfg = parse_config(
        BASE.replace(
            "    checks:",
            "    quorum: 2\n    combine: any\n    degraded_is_up: false\n"
            "    hours: [{days: mon-fri, time: '08:00-18:00'}, {days: sat, time: '09:00-12:30'}]\n"
            "    checks:",
        )
        + "maintenance:\n"
        "  - {name: once, start: '2026-10-04 02:00', end: '2026-10-04 04:00', services: [web]}\n"
        "  - {name: weekly, cron: '0 2 * * sun', duration: 2h, timezone: UTC, sites: [dc1]}\n"
    )
    svc = cfg.services[0]
    assert svc.quorum == 2 and svc.combine == "any" and svc.degraded_is_up is False
    assert svc.hours is not None and svc.hours[1].minutes() == (540, 750)
    assert sorted(svc.hours[0].weekdays()) == [0, 1, 2, 3, 4]
    assert cfg.maintenance[1].duration == 7200


@pytest.mark.parametrize(
    ("extra", "services", "expected"),
    [
        (
            "maintenance: [{name: m, cron: '0 2 * * sunday', duration: 1h}]\n",
            "",
            "c.yaml:8 maintenance[0].cron (name=m): '0 2 * * sunday' is not a valid cron "
            "expression (e.g. '0 2 * * sun')",
        ),
        (
            "maintenance: [{name: m, cron: '0 2 * * sun'}]\n",
            "",
            "c.yaml:8 maintenance[0] (name=m): a recurring window needs both cron and duration",
        ),
        (
            "maintenance: [{name: m, start: '2026-10-04 04:00', end: '2026-10-04 02:00'}]\n",
            "",
            "c.yaml:8 maintenance[0] (name=m): a one-off window needs start and end, "
            "with end after start",
        ),
        (
            "maintenance: [{name: m, start: '2026-10-04', cron: '0 2 * * *', duration: 1h}]\n",
            "",
            "c.yaml:8 maintenance[0] (name=m): give either start and end, or cron and duration",
        ),
        (
            "maintenance: [{name: m, cron: '0 2 * * *', duration: 1h, timezone: Mars/Base}]\n",
            "",
            "c.yaml:8 maintenance[0].timezone (name=m): unknown time zone 'Mars/Base' "
            "(e.g. Europe/London)",
        ),
        (
            "maintenance: [{name: m, cron: '0 2 * * *', duration: 1h, services: [nope]}]\n",
            "",
            "c.yaml:8 maintenance[0].services[0] (name=m): unknown service 'nope'",
        ),
        (
            "",
            "    hours: [{days: mon-funday, time: '09:00-17:00'}]\n",
            "c.yaml:7 services[0].hours[0].days (name=web): 'mon-funday': days are mon..sun, "
            "e.g. 'mon-sat' or 'mon,wed'",
        ),
        (
            "",
            "    hours: [{days: mon, time: '17:00-09:00'}]\n",
            "c.yaml:7 services[0].hours[0].time (name=web): '17:00-09:00': use HH:MM-HH:MM "
            "with the start before the end",
        ),
        (
            "",
            "    quorum: 3\n",
            "c.yaml:8 services[0].checks[0].vantage (name=a): quorum 3 is more than the 2 "
            "vantage point(s) of this check",
        ),
        (
            "",
            "    weights: {a: 2, b: 1}\n",
            "c.yaml:7 services[0].weights.b (name=web): unknown check 'b'",
        ),
    ],
)
def test_invalid_availability_config(extra, services, expected):
    assert expected in problems(extra, services)
