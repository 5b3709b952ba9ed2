"""``threenines validate`` without the secrets, where a command finds its config, --version, -h.

A newcomer checks the shipped example on a fresh clone without inventing its 14 secrets: a
missing ``${ENV}`` is a warning naming the variable (exit 0); ``--secrets`` (as ``run``)
requires them. Each case runs the real console script in a clean environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".venv" / "bin" / "threenines"
EXAMPLE = ROOT / "config" / "example.yaml"


def _run(*argv: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env}
    return subprocess.run([str(SCRIPT), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=clean)  # fmt: skip


def _secrets_in(path: Path) -> list[str]:
    text = "\n".join(re.sub(r"(^|\s)#.*", "", ln) for ln in path.read_text().splitlines())
    return sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)))


def test_the_example_validates_without_its_secrets_each_named_in_a_warning() -> None:
    names = _secrets_in(EXAMPLE)
    assert len(names) == 14
    res = _run("validate", str(EXAMPLE))
    assert res.returncode == 0, res.stderr
    assert "valid (14 secret(s) not set" in res.stdout
    warned = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warned) == 14
    for name in names:
        assert any(f"environment variable {name} is not set" in ln for ln in warned), name
    # each warning at its own line and path, like a problem
    assert any(re.search(r"example\.yaml:\d+ alerts\.receivers\[0\]\.url", ln) for ln in warned)


def test_with_secrets_they_are_required_as_run_requires_them() -> None:
    res = _run("validate", "--secrets", str(EXAMPLE))
    assert res.returncode == 2
    assert "environment variable ALERT_TEAMS_URL is not set" in res.stderr
    given = dict.fromkeys(_secrets_in(EXAMPLE), "a-secret-value")
    given.update(ALERT_TEAMS_URL="json://127.0.0.1:1/", ALERT_OPS_EMAIL_URL="json://127.0.0.1:1/",
                 ALERT_ONCALL_SMS_URL="json://127.0.0.1:1/",
                 ALERT_DUTY_MANAGER_URL="json://127.0.0.1:1/",
                 ALERT_SECURITY_EMAIL_URL="json://127.0.0.1:1/",
                 REPORT_BOARD_EMAIL_URL="json://127.0.0.1:1/")  # fmt: skip
    res = _run("validate", "--secrets", str(EXAMPLE), **given)
    assert res.returncode == 0, res.stderr
    assert "a-secret-value" not in res.stdout + res.stderr


def test_a_secret_value_is_still_checked_when_given() -> None:
    res = _run("validate", str(EXAMPLE), ALERT_TEAMS_URL="nosuchscheme://x")
    assert res.returncode == 2
    assert "alerts.receivers[0].url (name=ops-teams)" in res.stderr
    assert "nosuchscheme://x" not in res.stderr  # the value is never echoed


def test_validate_json_gives_the_verdict_the_warnings_and_the_summary() -> None:
    res = _run("validate", "--json", str(EXAMPLE))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["valid"] is True and doc["problems"] == []
    assert len(doc["warnings"]) == 14 and doc["warnings"][0]["line"] > 0
    assert doc["summary"]["services"] == 10
    bad = _run("validate", "--json", str(ROOT / "tests/config/invalid/unknown_site.yaml"))
    assert bad.returncode == 2
    verdict = json.loads(bad.stdout)
    assert verdict["valid"] is False and verdict["problems"][0]["message"]


def test_the_config_comes_from_the_option_then_the_environment_then_etc(tmp_path: Path) -> None:
    demo = ROOT / "config" / "demo.yaml"
    res = _run("validate", cwd=tmp_path, THREENINES_CONFIG=str(demo))
    assert res.returncode == 0 and f"{demo}: valid" in res.stdout
    res = _run("status", "--help", cwd=tmp_path)
    assert "THREENINES_CONFIG" in res.stdout and "/etc/threenines/threenines.yaml" in res.stdout
    if not Path("/etc/threenines/threenines.yaml").exists():
        res = _run("validate", cwd=tmp_path)
        assert res.returncode == 2
        assert res.stderr.count("\n") == 1, res.stderr  # one line, with the way out
        assert "/etc/threenines/threenines.yaml: cannot read" in res.stderr
        assert "THREENINES_CONFIG" in res.stderr and "threenines init" in res.stderr


def test_version_and_short_help() -> None:
    from importlib.metadata import version

    res = _run("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"threenines {version('threenines')}"
    for argv in (("-h",), ("validate", "-h"), ("alerts", "list", "-h")):
        res = _run(*argv)
        assert res.returncode == 0 and "Usage: threenines" in res.stdout, argv
