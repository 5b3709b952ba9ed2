"""The rules as people read them (README, board report) are the code's own constants."""

from __future__ import annotations

import re
from pathlib import Path

from threenines.app.config import parse_config
from threenines.availability import accounting, devices
from threenines.availability.state import LABELS, NO_QUORUM, grace
from threenines.collectors.config import POLL_GAP_RULE, poll_max_gap
from threenines.core.scheduler import MAX_GAP_RULE, max_gap

README = Path(__file__).resolve().parents[2] / "README.md"
CFG = parse_config("""
snmp:
  credentials: {lab: {version: v2c, community: not-public}}
  devices: [{name: sw, address: 127.0.0.1, site: dc, auth: lab, interval: 30s}]
sites: [{name: dc, kind: datacentre}]
services:
  - {name: web, site: dc, devices: [sw], checks: [{name: home, type: tcp, host: 127.0.0.1,
     port: 9, interval: 60s, timeout: 10s, retries: 1, retry_interval: 2s}]}
""")  # fmt: skip


def _section(text: str, heading: str) -> str:
    start = text.index(heading) + len(heading)
    return text[start : text.index("\n## ", start)]


def test_the_readme_section_is_the_rendered_rules() -> None:
    section = _section(README.read_text(), "## How it counts (the accounting rules, in short)\n")
    assert accounting.rules_markdown() in section, (
        "paste threenines.availability.accounting.rules_markdown() into the README section"
    )


def test_the_gap_rule_stated_is_the_one_applied() -> None:
    check = CFG.services[0].checks[0]
    # MAX_GAP_RULE: 2 x interval + (retries + 1) x timeout + retries x retry interval
    assert max_gap(check) == 2 * 60 + 2 * 10 + 1 * 2 == grace(CFG, "web/home")
    # POLL_GAP_RULE: 2 x the poll interval, for the write path and for the rule alike
    assert poll_max_gap(30) == 60 == devices.grace(CFG, "device:sw") == grace(CFG, "device:sw")
    text = " ".join(accounting.RULES)
    assert MAX_GAP_RULE in text and POLL_GAP_RULE in text
    assert f'"{LABELS[NO_QUORUM]}"' in text
    # the old, wrong statement of the gap rule appears nowhere
    assert not re.search(r"2\s*[x\u00d7]\s*the (check )?interval\b(?! \+)", README.read_text())


def test_the_board_report_prints_the_same_rules() -> None:
    from threenines.availability.engine import Estate, Inputs
    from threenines.availability.periods import parse_period
    from threenines.reports.board import build

    period = parse_period("2026-10", CFG.tz)
    est = Estate(CFG, Inputs(rows={}), period.start, period.end, period.end)
    assert build(est, period, [], period.end).rules == list(accounting.RULES)
