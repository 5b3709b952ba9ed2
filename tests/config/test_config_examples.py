"""Every shipped configuration (config/*.yaml) validates, with the ${ENV} secrets it names set.

Nothing is skipped: a file that stops validating (a renamed key, a section that moved) fails
here, not in front of someone following the README.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from threenines.app.config import load_config
from threenines.core.config import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
EXAMPLES = sorted(CONFIG_DIR.glob("*.yaml"))
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def dummy(name: str) -> str:
    """A value for ``${NAME}``: long enough for SNMPv3 keys (8+ characters), an Apprise URL
    (``json://``, which Apprise accepts at load) for a ``*_URL``; never a real secret."""
    value = f"dummy-{name.lower()}-value"
    return f"json://127.0.0.1/{value}" if name.endswith("_URL") else value


def env_refs(path: Path) -> set[str]:
    """The variables a file refers to as ``${NAME}`` outside comments."""
    lines = (line.split(" #", 1)[0] for line in path.read_text().splitlines())
    return {m for line in lines if not line.lstrip().startswith("#") for m in ENV_REF.findall(line)}


def test_the_expected_examples_are_there() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"demo.yaml", "example.yaml", "lab.yaml", "security.example.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_refs(path):
        monkeypatch.setenv(name, dummy(name))
    try:
        cfg = load_config(path)
    except ConfigError as exc:  # show every problem with its file:line
        pytest.fail(f"{path.name} does not validate:\n{exc}")
    assert cfg.sites, f"{path.name} has no sites"


def test_council_example_covers_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    path = CONFIG_DIR / "example.yaml"
    for name in env_refs(path):
        monkeypatch.setenv(name, dummy(name))
    cfg = load_config(path)
    assert sum(s.kind == "datacentre" for s in cfg.sites) == 2 and len(cfg.sites) >= 12
    assert {"SNMP_CORE_AUTH_KEY", "ALERT_ONCALL_SMS_URL"} <= env_refs(path)
    assert cfg.snmp.devices and cfg.snmp.traps.enabled
    assert {type(cfg.snmp.credentials[n]).__name__ for n in cfg.snmp.credentials} == {"V2c", "V3"}
    critical = [r for r in cfg.alerts.routes if "critical" in r.match.severity]
    assert critical and all(r.group_wait <= 5 for r in critical)
    assert any(r.active_during for r in critical) and any(r.escalate_to for r in critical)
    assert any("security" in r.match.category for r in cfg.alerts.routes)
    assert cfg.maintenance and cfg.agents.silent_after
    assert any(s.hours for s in cfg.services) and any(s.quorum for s in cfg.services)
    assert any(s.combine == "any" for s in cfg.services)
    assert any(s.devices for s in cfg.sites) and cfg.security.sites and cfg.security.posture
    # secrets resolved from the environment, never shown
    url = cfg.alerts.receivers[0].url
    assert "/dummy-" in url.get_secret_value() and "dummy" not in repr(url)
