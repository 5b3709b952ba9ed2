"""SNMP devices and uplinks in availability: config, engine (hand-made timelines) and the store.

A library behind a WAN router: the router's reachability (``device:lib-rtr``) and its uplink
(``device:lib-rtr/if:ge0``) count for every service at the site; a core switch counts for one
service of the data centre. Results are stored as the SNMP poller stores them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.availability.engine import Estate, Inputs
from threenines.availability.load import interval_keys, load_estate
from threenines.availability.timeline import IntervalRow, Seg
from threenines.core.config import ConfigError
from threenines.core.results import ProbeResult, Status
from threenines.core.store import ResultRecord, ResultStore
from threenines.reports.deliver import render_report

H = 3600.0
CONFIG = """
organisation: Example Borough Council
timezone: UTC
storage: {url: "URL"}
snmp:
  credentials: {lab: {version: v2c, community: not-public}}
  devices:
    - {name: lib-rtr, address: 127.0.0.1, site: library, auth: lab, uplinks: [ge0]}
    - {name: core-sw1, address: 127.0.0.1, site: dc-main, auth: lab, interval: 30s}
sites:
  - {name: dc-main, kind: datacentre}
  - {name: library, devices: ["lib-rtr/if:ge0"]}
services:
  - name: catalogue
    site: library
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 2}]
  - name: pcs
    site: library
    checks: [{name: login, type: tcp, host: 127.0.0.1, port: 3}]
  - name: payments
    site: dc-main
    devices: [core-sw1]
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 5}]
  - name: email
    site: dc-main
    checks: [{name: owa, type: tcp, host: 127.0.0.1, port: 4}]
"""


def cfg(url: str = "sqlite://"):
    return parse_config(CONFIG.replace("URL", url))


def rows(*spans: tuple[float, float, str]) -> list[IntervalRow]:
    return [IntervalRow(st, a * H, b * H, b * H - 1, None if st == "up" else "timeout", st)
            for a, b, st in spans]  # fmt: skip


def day(**devices: list[IntervalRow]) -> dict[tuple[str, str], list[IntervalRow]]:
    """24 h of every check up, plus the device rows given (``rtr``, ``ge0``, ``sw``)."""
    data = {(k, "central"): rows((0, 24, "up")) for k in
            ("catalogue/web", "pcs/login", "payments/web", "email/owa")}  # fmt: skip
    names = {"rtr": "device:lib-rtr", "ge0": "device:lib-rtr/if:ge0", "sw": "device:core-sw1"}
    for short, value in devices.items():
        data[(names[short], "central")] = value
    return data


def test_uplink_down_counts_for_every_site_service_with_the_device_as_cause() -> None:
    up = rows((0, 24, "up"))
    ge0 = rows((0, 10, "up"), (10, 10.5, "down"), (10.5, 24, "up"))
    est = Estate(cfg(), Inputs(rows=day(rtr=up, sw=up, ge0=ge0)), 0, 24 * H, 24 * H)
    for name in ("catalogue", "pcs"):
        assert est.service(name).down == 0.5 * H
    assert est.service("email").down == 0 and est.service("payments").down == 0
    assert est.site("library").down == 2 * 0.5 * H
    assert est.site("dc-main").availability == 1.0
    (inc,) = est.incidents()
    assert inc.root == "device:lib-rtr/if:ge0"
    assert inc.cause == "device:lib-rtr/if:ge0 down: timeout: down"
    assert inc.affected == ["catalogue", "pcs"] and inc.duration == 0.5 * H
    states = {(s.start, s.state) for s in est.site_timeline("library")}
    assert (10 * H, "down") in states


def test_router_unreachable_is_the_cause_even_with_its_uplink_unknown() -> None:
    # A router that does not answer: the poller stores device:lib-rtr down and no uplink state.
    rtr = rows((0, 3, "up"), (3, 4, "down"), (4, 24, "up"))
    ge0 = rows((0, 3, "up"), (4, 24, "up"))
    est = Estate(
        cfg(), Inputs(rows=day(rtr=rtr, ge0=ge0, sw=rows((0, 24, "up")))), 0, 24 * H, 24 * H
    )
    assert est.service("catalogue").down == H and est.service("catalogue").nodata == 0
    (inc,) = est.incidents()
    assert inc.root == "device:lib-rtr" and inc.cause.startswith("device:lib-rtr down")


def test_device_without_data_leaves_measured_services_alone() -> None:
    # No SNMP rows at all (collector not running): the checks' own evidence stands.
    est = Estate(cfg(), Inputs(rows=day()), 0, 24 * H, 24 * H)
    assert est.service("payments").availability == 1.0 and est.service("payments").nodata == 0
    assert est.incidents() == []


def test_core_switch_counts_for_its_service_only_and_components_override_rows() -> None:
    sw = [Seg(2 * H, 2.25 * H, "down", "timeout: no answer")]
    up = rows((0, 24, "up"))
    est = Estate(cfg(), Inputs(rows=day(rtr=up, ge0=up), components={"device:core-sw1": sw}),
                 0, 24 * H, 24 * H)  # fmt: skip
    assert est.service("payments").down == 0.25 * H
    assert est.service("email").down == 0
    (inc,) = est.incidents()
    assert (inc.root, inc.affected) == ("device:core-sw1", ["payments"])
    assert inc.cause == "device:core-sw1 down: timeout: no answer"


def test_a_service_of_devices_only_is_no_data_without_them() -> None:
    text = CONFIG.replace("URL", "sqlite://") + (
        "  - {name: wan-library, site: dc-main, devices: [lib-rtr]}\n"
    )
    est = Estate(parse_config(text), Inputs(rows=day(rtr=rows((0, 12, "up")))), 0, 24 * H, 24 * H)
    f = est.service("wan-library")
    assert (f.up, f.nodata) == (12 * H, 12 * H)


def test_config_names_devices_that_exist() -> None:
    bad = CONFIG.replace('devices: ["lib-rtr/if:ge0"]', 'devices: ["lib-rtr/if:ge9", nope]')
    with pytest.raises(ConfigError) as info:
        parse_config(bad.replace("URL", "sqlite://"), file="c.yaml")
    assert str(info.value).splitlines() == [
        "c.yaml:12 sites[1].devices[0] (name=library): interface 'ge9' is not in the uplinks of "
        "device 'lib-rtr' (only uplinks get an availability state: add it to "
        "snmp.devices[].uplinks)",
        "c.yaml:12 sites[1].devices[1] (name=library): unknown device 'nope' "
        "(snmp.devices: lib-rtr, core-sw1)",
    ]
    # "device:" as in /metrics is accepted and normalised
    ok = parse_config(CONFIG.replace("[core-sw1]", '["device:core-sw1"]').replace("URL", "x"))
    assert ok.service("payments").devices == ["core-sw1"]
    assert ("device:lib-rtr/if:ge0", "central") in interval_keys(ok)


# -- through the store (SQLite and PostgreSQL) ---------------------------------------------


def _result(check: str, ts: float, status: Status) -> ResultRecord:
    res = ProbeResult.make(status, 0.01, None if status == Status.UP else "timeout", "no answer")
    max_gap = 60.0 if check.startswith("device:core") else 120.0
    return ResultRecord(check, "central", ts, res, max_gap=max_gap)


def _fill(url: str, t0: float) -> None:
    """One hour, a result a minute; the core switch stops answering for 10 minutes at +20m."""
    engine = make_engine(url)
    migrate(engine)
    store = ResultStore(engine)
    batch = []
    for m in range(61):
        ts = t0 + m * 60
        for check in ("catalogue/web", "pcs/login", "payments/web", "email/owa",
                      "device:lib-rtr", "device:lib-rtr/if:ge0"):  # fmt: skip
            batch.append(_result(check, ts, Status.UP))
        sw_down = 20 <= m < 30
        batch.append(_result("device:core-sw1", ts, Status.DOWN if sw_down else Status.UP))
    store.write_batch(batch)
    engine.dispose()


def test_stored_device_results_count_in_estate_report_and_cli(db_url: str, tmp_path: Path) -> None:
    t0 = 1_790_000_000.0  # 2026-09-21
    _fill(db_url, t0)
    conf = cfg(db_url)
    engine = make_engine(db_url)
    est = load_estate(engine, conf, t0, t0 + 3600, t0 + 3600)
    pay = est.service("payments")
    assert pay.down == 600 and pay.up == 3000
    (inc,) = est.incidents()
    assert (inc.root, inc.affected, inc.duration) == ("device:core-sw1", ["payments"], 600)
    only = load_estate(engine, conf, t0, t0 + 3600, t0 + 3600, services=["payments"])
    assert only.service("payments").down == 600
    data, _name = render_report(conf, engine, "2026-09", "json", now=t0 + 3600)
    report = json.loads(data)
    (row,) = [r for r in report["incidents"] if r["root"] == "device:core-sw1"]
    assert row["affected"] == ["payments"] and row["duration"] == 600
    engine.dispose()
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.replace("URL", db_url))
    res = CliRunner().invoke(app, ["availability", "-c", str(path), "--service", "payments",
                                   "--period", "2026-09", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)["rows"][0]
    assert (first["subject"], first["downtime_s"]) == ("payments", 600)


def test_metrics_gauges_include_device_downtime(db_url: str) -> None:
    from prometheus_client import CollectorRegistry

    from threenines.availability.metrics import (
        register_availability_metrics,
        update_availability_metrics,
    )

    now = time.time() // 60 * 60
    _fill(db_url, now - 3600)
    engine = make_engine(db_url)
    registry = CollectorRegistry()
    est = update_availability_metrics(register_availability_metrics(registry), engine, cfg(), now)
    engine.dispose()
    assert est.service("payments").down == 600
    value = registry.get_sample_value(
        "threenines_service_availability_ratio",
        {"service": "payments", "site": "dc-main", "window": "30d"},
    )
    assert value == pytest.approx(3000 / 3600)
