"""``threenines snmp get|walk`` prints exactly what net-snmp's snmpget/snmpbulkwalk -On print."""

from __future__ import annotations

from pathlib import Path

import pytest
from snmpd_lab import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, snmpd_factory
from typer.testing import CliRunner

from threenines.app.cli import app

__all__ = ["snmpd_factory"]
pytestmark = [pytest.mark.snmpd]
STABLE = [
    "1.3.6.1.2.1.1.1.0",  # STRING
    "1.3.6.1.2.1.1.2.0",  # OID
    "1.3.6.1.2.1.2.2.1.5.1",  # Gauge32
    "1.3.6.1.2.1.2.2.1.6.1",  # empty string
    "1.3.6.1.2.1.4.20.1.1.127.0.0.1",  # IpAddress
    "1.3.6.1.2.1.1.99.0",  # noSuchObject
    "1.3.6.1.2.1.1.1.7",  # noSuchInstance
    "1.3.6.1.2.1.25.2.3.1.5.1",  # INTEGER
]


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "snmp.yaml"
    path.write_text(
        f"""
sites: [{{name: dc, kind: datacentre}}]
snmp:
  devices:
    - {{name: v2, address: 127.0.0.1, port: {port}, site: dc,
        auth: {{version: v2c, community: {COMMUNITY}}}}}
    - {{name: v3, address: 127.0.0.1, port: {port}, site: dc,
        auth: {{version: v3, user: {V3_USER}, auth_key: {V3_AUTH}, priv_key: {V3_PRIV}}}}}
    - {{name: silent, address: 127.0.0.1, port: {port}, site: dc, timeout: 0.3, retries: 0,
        auth: {{version: v2c, community: wrong}}}}
"""
    )
    return path


def test_get_and_walk_match_net_snmp(snmpd_factory, tmp_path: Path) -> None:
    agent = snmpd_factory()
    cfg = str(write_config(tmp_path, agent.port))
    runner = CliRunner()
    expected = agent.snmpget(*STABLE).stdout
    for device in ("v2", "v3"):
        result = runner.invoke(app, ["snmp", "get", device, *STABLE, "-c", cfg])
        assert result.exit_code == 0, result.output
        assert result.stdout == expected
    walked = runner.invoke(app, ["snmp", "walk", "v3", "1.3.6.1.2.1.31.1.1.1.1", "-c", cfg])
    assert walked.exit_code == 0
    assert walked.stdout == agent.snmpwalk("1.3.6.1.2.1.31.1.1.1.1").stdout
    assert walked.stdout.count("STRING:") >= 1


def test_errors_exit_non_zero_without_secrets(snmpd_factory, tmp_path: Path) -> None:
    agent = snmpd_factory()
    cfg = str(write_config(tmp_path, agent.port))
    runner = CliRunner()
    off = runner.invoke(app, ["snmp", "get", "silent", "1.3.6.1.2.1.1.3.0", "-c", cfg])
    assert off.exit_code == 1
    assert "No SNMP response" in off.output and "wrong" not in off.output
    unknown = runner.invoke(app, ["snmp", "get", "nope", "1.3.6.1.2.1.1.3.0", "-c", cfg])
    assert unknown.exit_code == 2 and "unknown device 'nope'" in unknown.output
    for cmd in (["snmp", "--help"], ["snmp", "get", "--help"], ["snmp", "walk", "--help"]):
        assert runner.invoke(app, cmd).exit_code == 0
