"""``threenines snmp get|walk`` by MIB name against a real snmpd; errors are one line, no
traceback (``--debug`` shows it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from snmpd_lab import COMMUNITY, snmpd_factory
from test_snmp_cli import write_config
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.collectors.snmp_mibs import COMPILED_DIRS

__all__ = ["snmpd_factory"]
pytestmark = [pytest.mark.snmpd]


@pytest.fixture(autouse=True)
def mib_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_get_and_walk_by_name_match_net_snmp(snmpd_factory, tmp_path: Path) -> None:
    from conftest import require

    require(os.path.isdir(COMPILED_DIRS[0]), "IF-MIB needs Debian's python3-pysnmp4-mibs")
    agent = snmpd_factory()
    cfg = str(write_config(tmp_path, agent.port))
    runner = CliRunner()
    got = runner.invoke(app, ["snmp", "get", "v2", "sysLocation.0", "SNMPv2-MIB::sysName.0",
                              "ifDescr.1", "-c", cfg])  # fmt: skip
    assert got.exit_code == 0, got.output
    assert got.stdout == agent.snmpget("1.3.6.1.2.1.1.6.0", "1.3.6.1.2.1.1.5.0",
                                       "1.3.6.1.2.1.2.2.1.2.1").stdout  # fmt: skip
    walked = runner.invoke(app, ["snmp", "walk", "v3", "IF-MIB::ifDescr", "-c", cfg])
    assert walked.exit_code == 0, walked.output
    assert walked.stdout == agent.snmpwalk("1.3.6.1.2.1.2.2.1.2").stdout
    assert "STRING:" in walked.stdout


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("sysLocaton.0", "unknown MIB object 'sysLocaton' (searched SNMPv2-MIB, IF-MIB"),
        ("IF-MIB::ifDescrr", "IF-MIB has no object 'ifDescrr'"),
        ("NO-SUCH-MIB::x.0", "MIB module NO-SUCH-MIB: not found (searched "),
        ("1.3.6.x", "'1.3.6.x' is neither a numeric OID nor a MIB name"),
    ],
)
def test_an_unknown_name_is_one_line_and_exit_2(snmpd_factory, tmp_path: Path, name, said) -> None:
    agent = snmpd_factory()
    cfg = str(write_config(tmp_path, agent.port))
    for cmd in (["get", "v2", name], ["walk", "v2", name]):
        res = CliRunner().invoke(app, ["snmp", *cmd, "-c", cfg])
        assert res.exit_code == 2, res.output
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith(said), lines
        assert lines[1].startswith("hint: ") and "Traceback" not in res.output


def test_an_unexpected_error_is_one_line_unless_debug(tmp_path: Path) -> None:
    path = tmp_path / "snmp.yaml"
    path.write_text(
        "sites: [{name: dc, kind: datacentre}]\nsnmp:\n  devices:\n"
        "    - {name: lost, address: no-such-host.invalid, site: dc,\n"
        f"       auth: {{version: v2c, community: {COMMUNITY}}}}}\n"
    )
    runner = CliRunner()
    res = runner.invoke(app, ["snmp", "get", "lost", "sysUpTime.0", "-c", str(path)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and "--debug" in lines[1]
    debug = runner.invoke(app, ["snmp", "get", "lost", "sysUpTime.0", "-c", str(path), "--debug"])
    assert debug.exit_code != 0 and debug.exception is not None
    assert not isinstance(debug.exception, SystemExit)
