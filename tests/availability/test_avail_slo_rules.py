"""``threenines rules prometheus``: the generated rule file passes ``promtool check rules``, and
``promtool test rules`` fires each burn-rate alert when (and only when) the SRE workbook says.

promtool comes from Debian's ``prometheus`` package (``make test`` installs it as root).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from conftest import require_command
from typer.testing import CliRunner

from threenines.app import cli
from threenines.app.config import parse_config
from threenines.availability.metrics import BAD, COUNTED
from threenines.availability.slo import (
    ABSENT_ALERT,
    ALERT,
    ALERTS,
    BurnAlert,
    prometheus_rules,
    sloth_spec,
)

CONFIG = """
target: 99.9
sites: [{name: dc1}, {name: dc2}]
services:
  - {name: web, site: dc1, checks: [{name: a, type: tcp, host: 127.0.0.1, port: 1}]}
  - name: pay
    site: dc2
    availability_target: 99.5
    checks: [{name: a, type: tcp, host: 127.0.0.1, port: 2}]
"""
SITES = {"web": "dc1", "pay": "dc2"}
TARGETS = {"web": 0.999, "pay": 0.995}
MINUTES = 100


def _series(service: str, counted: str, bad: str) -> list[dict[str, str]]:
    sel = f'{{service="{service}",site="{SITES[service]}"}}'
    return [{"series": COUNTED + sel, "values": counted}, {"series": BAD + sel, "values": bad}]


def _steady(service: str, errors: float) -> list[dict[str, str]]:
    """One counted second a second, ``errors`` of it bad, for MINUTES minutes."""
    return _series(service, f"0+60x{MINUTES}", f"0+{60 * errors:g}x{MINUTES}")


RULES = prometheus_rules(parse_config(CONFIG))


def _annotations(service: str, alert: str, long: str | None, value: float) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them (the three templates they use)."""
    group = next(g for g in RULES["groups"] if g["name"] == f"threenines-slo-{service}")
    rule = next(r for r in group["rules"] if r.get("alert") == alert
                and r["labels"].get("long_window") == long)  # fmt: skip
    out = {}
    for key, text in rule["annotations"].items():
        text = text.replace("{{ $labels.service }}", service)
        text = text.replace("{{ $labels.site }}", SITES[service])
        out[key] = text.replace('{{ $value | printf "%.1f" }}', f"{value:.1f}")
    return out


def _burn(service: str, a: BurnAlert, errors: float) -> dict[str, Any]:
    """``a`` firing for ``service`` whose long window's error ratio is ``errors``."""
    labels = {"service": service, "site": SITES[service], "severity": a.severity,
              "long_window": a.long, "short_window": a.short}  # fmt: skip
    burn = errors / (1 - TARGETS[service])
    return {"exp_labels": labels, "exp_annotations": _annotations(service, ALERT, a.long, burn)}


def _case(series: list[dict[str, str]], at: str, burning: list[dict[str, Any]],
          absent: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]  # fmt: skip
    absent_alerts = [
        {"exp_labels": {"service": s, "site": SITES[s], "severity": "ticket"},
         "exp_annotations": _annotations(s, ABSENT_ALERT, None, 0)}
        for s in absent
    ]  # fmt: skip
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": at, "alertname": ALERT, "exp_alerts": burning},
            {"eval_time": at, "alertname": ABSENT_ALERT, "exp_alerts": absent_alerts},
        ],
    }


def _by_window(long: str) -> BurnAlert:
    return next(a for a in ALERTS if a.long == long)


def _expected(service: str, errors: float) -> list[dict[str, Any]]:
    """For a steady error ratio every window burns alike: an alert fires above its factor."""
    burn = errors / (1 - TARGETS[service])
    return [_burn(service, a, errors) for a in ALERTS if burn > a.factor]


def _tests() -> list[dict[str, Any]]:
    page_fast, page_slow, ticket = _by_window("1h"), _by_window("6h"), _by_window("3d")
    at = f"{MINUTES}m"
    tests = [
        # no errors: nothing fires
        _case(_steady("web", 0) + _steady("pay", 0), at, []),
        # web completely down: all three of web's alerts, none of pay's
        _case(_steady("web", 1) + _steady("pay", 0), at,
              [_burn("web", a, 1) for a in (page_fast, page_slow, ticket)]),
        # 1 % errors: web (99.9 %) burns at 10x: the slow page and the ticket, not the fast
        # page; pay (99.5 %, its own target) burns at 2x: the ticket only
        _case(_steady("web", 0.01) + _steady("pay", 0.01), at,
              [_burn("web", page_slow, 0.01), _burn("web", ticket, 0.01),
               _burn("pay", ticket, 0.01)]),
        # 0.05 % errors: below web's budget, no alert
        _case(_steady("web", 0.0005) + _steady("pay", 0), at, []),
    ]  # fmt: skip
    for errors in (0.002, 0.007, 0.02):  # the boundaries from the table, both services
        tests.append(_case(_steady("web", errors) + _steady("pay", errors), at,
                           _expected("web", errors) + _expected("pay", errors)))  # fmt: skip
    # a 10-minute outage that ended: firing at 8 m; at 40 m the short windows have reset the
    # pages (the long windows still burn), only the ticket remains
    burst = _series("web", f"0+60x{MINUTES}", f"0+60x10 600+0x{MINUTES - 11}") + _steady("pay", 0)
    tests.append(_case(burst, "8m", [_burn("web", a, 1) for a in (page_fast, page_slow, ticket)]))
    tests.append(_case(burst, "40m", [_burn("web", ticket, 10 / 40)]))
    # all of web's time excluded (maintenance): no counted time, no ratio, no alert
    tests.append(_case(_series("web", f"0+0x{MINUTES}", f"0+0x{MINUTES}") + _steady("pay", 0),
                       at, []))  # fmt: skip
    # no series for web at all: the absence alert, only after its `for`
    tests.append(_case(_steady("pay", 0), "10m", []))
    tests.append(_case(_steady("pay", 0), "20m", [], absent=["web"]))
    return tests


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _write_rules(tmp_path: Path) -> Path:
    cfg_file = tmp_path / "t.yaml"
    cfg_file.write_text(CONFIG)
    rules = tmp_path / "rules.yml"
    args = ["rules", "prometheus", "--config", str(cfg_file), "-o", str(rules)]
    done = CliRunner().invoke(cli.app, args)
    assert done.exit_code == 0, done.output
    return rules


def test_generated_rules_pass_promtool_check_and_test(tmp_path: Path) -> None:
    require_command("promtool")
    rules = _write_rules(tmp_path)
    doc = yaml.safe_load(rules.read_text())
    assert doc == prometheus_rules(parse_config(CONFIG))  # the command prints the pure function
    check = _promtool("check", "rules", rules.name, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": _tests()}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = _promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_use_each_service_target_and_the_raw_counters() -> None:
    cfg = parse_config(CONFIG)
    groups = {g["name"]: g["rules"] for g in prometheus_rules(cfg)["groups"]}
    assert set(groups) == {"threenines-slo-web", "threenines-slo-pay"}
    objective = {r["labels"]["service"]: r["expr"] for g in groups.values() for r in g
                 if r.get("record") == "threenines:slo_objective:ratio"}  # fmt: skip
    assert objective == {"web": "vector(0.999)", "pay": "vector(0.995)"}
    burn = next(r for r in groups["threenines-slo-pay"] if r.get("record", "").endswith("rate1h")
                and "burn" in r["record"])  # fmt: skip
    assert burn["expr"].endswith("/ 0.005")
    spec = sloth_spec(cfg)
    assert [s["objective"] for s in spec["slos"]] == [99.9, 99.5]
    assert BAD in spec["slos"][0]["sli"]["events"]["error_query"]


def test_readme_states_the_alerts_as_the_code_has_them() -> None:
    from threenines.availability.slo import alert_rules_text

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for line in alert_rules_text():
        assert f"- {line}\n" in readme, line
