"""The ``snmp:`` config section: credentials, security levels, cross-references, secrets."""

from __future__ import annotations

import pytest

from threenines.app.config import parse_config
from threenines.core.config import ConfigError

BASE = """
sites: [{name: dc, kind: datacentre}]
snmp:
  credentials:
    core: {version: v3, user: mon, auth_key: auth-key-123, priv_key: priv-key-123}
  devices:
"""


def load(devices: str, extra: str = ""):
    return parse_config(BASE + devices + extra, file="t.yaml")


def problems(devices: str, extra: str = "") -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(devices, extra)
    return [str(p) for p in exc.value.problems]


def test_valid_devices_and_defaults() -> None:
    cfg = load(
        "    - {name: sw1, address: 10.0.0.1, site: dc, auth: core, uplinks: [ge-0/0/0]}\n"
        "    - {name: ups1, address: ups.example, site: dc, profiles: [ups],\n"
        "       auth: {version: v2c, community: c0mmunity}}\n"
    )
    sw1, ups1 = cfg.snmp.devices
    assert sw1.profiles == ["system", "interfaces"]
    assert ups1.profiles == ["system", "ups"]  # system is always polled, first
    assert cfg.snmp.auth_for(sw1).level == "authPriv"  # the default
    assert cfg.snmp.defaults.interval == 60.0


@pytest.mark.parametrize(
    ("device", "message"),
    [
        (
            "{name: a, address: x, site: dc, auth: {version: v3, user: u, level: noAuthNoPriv}}",
            "noAuthNoPriv sends everything in clear",
        ),
        (
            "{name: a, address: x, site: dc, auth: {version: v3, user: u, auth_key: short}}",
            "auth_key must be at least 8 characters",
        ),
        (
            "{name: a, address: x, site: dc, auth: {version: v3, user: u, auth_key: longenough}}",
            "priv_key is required for level authPriv",
        ),
        ("{name: a, address: x, site: nowhere, auth: core}", "unknown site 'nowhere'"),
        ("{name: a, address: x, site: dc, auth: nope}", "unknown credentials 'nope'"),
        ("{name: a, address: x, site: dc, auth: core, profiles: [cpu]}", "profiles[0]"),
        ("{name: a, address: x, site: dc, auth: core, colour: red}", "unknown key"),
    ],
)
def test_invalid_device(device: str, message: str) -> None:
    found = problems(f"    - {device}\n")
    assert any(message in p for p in found), found
    assert all(p.startswith("t.yaml:") for p in found)


def test_noauth_allowed_when_explicit() -> None:
    cfg = load(
        "    - {name: a, address: x, site: dc,"
        " auth: {version: v3, user: u, level: noAuthNoPriv, allow_noauth: true}}\n"
    )
    assert cfg.snmp.auth_for(cfg.snmp.devices[0]).level == "noAuthNoPriv"


def test_same_v3_user_with_different_keys_is_refused() -> None:
    found = problems(
        "    - {name: a, address: x, site: dc, auth: core}\n"
        "    - {name: b, address: y, site: dc,"
        " auth: {version: v3, user: mon, auth_key: other-key-1, priv_key: other-key-2}}\n"
    )
    assert any("v3 user 'mon' is used elsewhere with other keys" in p for p in found)


def test_duplicate_device_names() -> None:
    found = problems(
        "    - {name: a, address: x, site: dc, auth: core}\n"
        "    - {name: a, address: y, site: dc, auth: core}\n"
    )
    assert any("duplicate device name 'a'" in p for p in found)


def test_secrets_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TN_COMMUNITY", "s3cret-community")
    cfg = load(
        "    - {name: a, address: x, site: dc,"
        " auth: {version: v2c, community: '${TN_COMMUNITY}'}}\n",
        "  traps: {communities: ['${TN_COMMUNITY}'], users: [{user: t, auth_key: '12345678',"
        " priv_key: abcdefgh}]}\n",
    )
    text = repr(cfg.snmp) + cfg.snmp.model_dump_json()
    assert "s3cret-community" not in text and "12345678" not in text
    assert cfg.snmp.auth_for(cfg.snmp.devices[0]).community.get_secret_value() == "s3cret-community"


def test_trap_mapping_and_listen() -> None:
    cfg = load(
        "    []\n",
        "  traps:\n    listen: 127.0.0.1:10162\n    mappings:\n"
        "      - {oid: .1.3.6.1.4.1.9.9.41.2.0.1, kind: syslog, severity: major}\n",
    )
    assert cfg.snmp.traps.mappings[0].oid == "1.3.6.1.4.1.9.9.41.2.0.1"
    named = load("    []\n", "  traps:\n    mappings: [{oid: SNMPv2-MIB::coldStart, kind: x}]\n")
    assert named.snmp.traps.mappings[0].oid == "1.3.6.1.6.3.1.1.5.1"
    with pytest.raises(
        ConfigError, match=r"mappings\[0\].oid: unknown MIB object 'linkDwn' \(searched SNMPv2-MIB"
    ):
        load("    []\n", "  traps:\n    mappings: [{oid: linkDwn, kind: x}]\n")
    with pytest.raises(ConfigError, match=r"MIB module NO-SUCH-MIB: not found \(searched "):
        load("    []\n", "  traps:\n    mappings: [{oid: 'NO-SUCH-MIB::x', kind: x}]\n")
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        load("    []\n", "  traps: {listen: localhost}\n")
