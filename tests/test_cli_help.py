"""``--help`` works on every command and subcommand, and the CLI starts without heavy imports.

On-call staff run ``threenines status`` under pressure: start-up must stay fast, so command
modules import their libraries (pysnmp, Apprise, SQLAlchemy, WeasyPrint, ...) inside the
commands. The import checks below are what keeps it so (no timed assertions: the figures are
in bench/ and the report).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from threenines.app.cli import app

ROOT = Path(__file__).resolve().parents[1]
# Never needed to print help or load a configuration.
HEAVY = (
    "pysnmp", "apprise", "scapy", "ansible_runner", "weasyprint", "sqlalchemy", "alembic",
    "uvicorn", "fastapi", "prometheus_client", "psutil", "jinja2", "croniter", "dns.resolver",
    "dns.asyncquery", "threenines.lab.control", "threenines.failover.orchestrator",
    "threenines.alerts.deliver",
)  # fmt: skip


def commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under ``group`` (a click command), the group itself included."""
    out = [path]
    if hasattr(group, "commands"):  # a group (typer ships its own copy of click)
        for name, sub in sorted(group.commands.items()):
            out += commands(sub, (*path, name))
    return out


ALL = commands(typer.main.get_command(app))


def test_the_tree_is_complete() -> None:
    names = {p[0] for p in ALL if p}
    expected = "validate run status check report availability snmp alerts security agent token"
    assert {*expected.split(), "failover", "drill", "lab", "maintenance"} <= names
    assert ("security", "baseline", "accept") in ALL or ("security", "baseline") in ALL
    assert len(ALL) > 40


def test_help_on_every_command() -> None:
    runner = CliRunner()
    failed = []
    for path in ALL:
        res = runner.invoke(app, [*path, "--help"])
        if res.exit_code != 0 or "Usage:" not in res.output:
            failed.append((" ".join(path) or "(top)", res.exit_code, res.output[-300:]))
    assert failed == []


def _modules_after(*argv: str) -> set[str]:
    """Run the real CLI in a fresh interpreter; the modules it had imported at exit."""
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print('MODULES=' + json.dumps(sorted(sys.modules)),"
        " file=sys.stderr))\n"
        f"sys.argv = ['threenines', *{list(argv)!r}]\n"
        "from threenines.app.cli import app\n"
        "app()\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("status", "--help"), ("validate", "config/demo.yaml"),
     ("validate", "config/starter.yaml")],
)  # fmt: skip
def test_start_up_imports_nothing_heavy(argv: tuple[str, ...]) -> None:
    loaded = _modules_after(*argv)
    # demo.yaml has a receiver with a literal URL (the demo's own, on loopback): its URL is given
    # to Apprise at load, as delivery will (alerts.config.check_apprise_url), so Apprise loads
    allowed = {"apprise"} if argv[-1] == "config/demo.yaml" else set()
    assert sorted(m for m in HEAVY if m in loaded and m not in allowed) == []
    if argv[0] == "--help":
        assert "threenines.core.config.schema" not in loaded
        assert "threenines.probes.registry" not in loaded


def test_help_texts_spelt_out_for_speed_match_their_sources() -> None:
    from threenines.agents import token_cli as token
    from threenines.agents.tokens import ROLES
    from threenines.app.areas import COMPOSITION
    from threenines.failover import drill_cli as drill
    from threenines.failover.drill import SCENARIOS
    from threenines.lab import cli as lab
    from threenines.lab.faults import KINDS
    from threenines.lab.state import DEFAULT_DIR
    from threenines.probes import PROBES
    from threenines.probes import cli as check

    assert check.KINDS_HELP == ", ".join(COMPOSITION.kinds())
    assert set(PROBES) < set(COMPOSITION.kinds())
    assert drill.SCENARIO_HELP == " | ".join(SCENARIOS)
    assert lab.FAULT_KINDS == ", ".join(KINDS) and lab.DEFAULT_DIR == DEFAULT_DIR
    assert token.ROLE_HELP == ", ".join(ROLES)
