"""The ``host`` check kind and host metrics, on this very machine."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from threenines.app.areas import COMPOSITION
from threenines.app.config import parse_config
from threenines.collectors import host
from threenines.core.config import ConfigError
from threenines.core.results import Status
from threenines.probes import PROBES

FACTS = {
    "cpu_percent": 10.0,
    "memory_percent": 50.0,
    "swap_percent": 0.0,
    "load_per_cpu": 0.5,
    "disks": {"/": 40.0},
    "processes": {"nginx": 2},
}


def cfg(**kw) -> host.Config:
    return host.Config(type="host", name="self", **kw)


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({}, Status.UP, None),
        ({"cpu_percent": 95.0}, Status.DEGRADED, "threshold"),
        ({"memory_percent": 99.0}, Status.DOWN, "threshold"),
        ({"disks": {"/": 90.0}}, Status.DEGRADED, "threshold"),
        ({"disks": {"/": 97.0}}, Status.DOWN, "threshold"),
        ({"disks": {"/": "error: No such file or directory"}}, Status.DOWN, "disk"),
        ({"processes": {"nginx": 0}}, Status.DOWN, "process_missing"),
        ({"cpu_percent": 95.0, "processes": {"nginx": 0}}, Status.DOWN, "process_missing"),
    ],
)
def test_evaluate_thresholds(change, status, error) -> None:
    check = cfg(processes=[{"name": "nginx"}])
    result = host.evaluate(check, FACTS | change, 0.1)
    assert (result.status, result.error) == (status, error)


def test_registered_as_a_probe_kind_and_configurable() -> None:
    assert COMPOSITION.kinds()["host"] is host and "host" not in PROBES
    config = parse_config(
        """
sites: [{name: dc, kind: datacentre}]
services:
  - name: monitor
    site: dc
    checks:
      - {type: host, name: self, disks: [{path: /, used_percent: {degraded: 80, down: 90}}],
         processes: [{name: snmpd}], load_per_cpu: {degraded: 4}}
"""
    )
    (check,) = config.services[0].checks
    assert isinstance(check, host.Config) and check.processes[0].name == "snmpd"
    with pytest.raises(ConfigError, match="down must not be lower than degraded"):
        parse_config(
            "sites: [{name: dc}]\nservices: [{name: m, site: dc, checks: "
            "[{type: host, name: h, cpu_percent: {degraded: 90, down: 50}}]}]\n"
        )


async def test_probe_sees_a_real_process_come_and_go() -> None:
    marker = f"threenines-host-test-{time.monotonic_ns()}"
    check = cfg(
        processes=[{"name": marker, "match": "cmdline"}],
        cpu_percent=None,
        memory_percent=None,
        sample=0.05,
    )
    missing = await host.probe(check, timeout=5)
    assert (missing.status, missing.error) == (Status.DOWN, "process_missing")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(30)", marker
    )
    try:
        found = await host.probe(check, timeout=5)
        assert found.status == Status.UP, found.reason
        assert found.details["processes"][marker] == 1
        assert found.details["disks"]["/"] > 0
    finally:
        proc.kill()
        await proc.wait()


async def test_unreadable_disk_is_down_not_an_exception() -> None:
    check = cfg(disks=[{"path": "/no/such/mount"}], cpu_percent=None, sample=0.05)
    result = await host.probe(check, timeout=5)
    assert (result.status, result.error) == (Status.DOWN, "disk")


def test_host_metrics() -> None:
    registry = CollectorRegistry()
    host.register_host_metrics(registry, [host.ProcessCheck(name="no-such-process-xyz")])
    text = generate_latest(registry).decode()
    for name in (
        "threenines_host_cpu_utilisation_ratio",
        'threenines_host_memory_bytes{kind="total"}',
        'threenines_host_disk_bytes{kind="total",mount="/"}',
        "threenines_host_disk_io_bytes_total",
        'threenines_host_network_bytes_total{direction="in",interface="lo"}',
        'threenines_host_network_up{interface="lo"} 1.0',
        'threenines_host_process_running{name="no-such-process-xyz"} 0.0',
        'threenines_host_load_average{minutes="1"}',
    ):
        assert "\n" + name in text, name
