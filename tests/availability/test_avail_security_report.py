"""The board report's security section: findings opened and resolved in the period, critical
findings open at its end, mean time to resolve; the same figures in HTML, PDF, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess

import html5lib
import pytest
from avail_data import CONFIG, OCT, H, config, populate
from conftest import require_command

from threenines.app.config import parse_config
from threenines.reports.deliver import board_report, render, render_report
from threenines.security.findings import Finding, RunResult
from threenines.security.store import SecurityStore

NOW = OCT.end + 86400
DAY = 86400.0
SECURITY = """
security:
  sites: [{site: library, subnets: [198.18.2.0/24]}]
"""


def finding(kind: str, subject: str, severity: str, check: str) -> Finding:
    return Finding.make(kind, subject, severity, check, subject, f"{kind} on {subject}")


def record_findings(engine) -> None:
    """Hand-made findings around October 2026 (local), each recorded as a scan would."""
    store = SecurityStore(engine)
    d = OCT.start
    telnet = finding("port_opened", "198.18.1.10/23", "critical", "exposure:srv")
    rdp = finding("port_opened", "198.18.1.11/3389", "major", "exposure:srv")
    rogue = finding("unknown_device", "198.18.2.77", "minor", "arp:library")
    spoof = finding("arp_spoof", "198.18.2.1", "critical", "arpspoof:library")
    old = finding("tls_expiring", "portal", "major", "posture:portal")
    # September: a TLS finding opened (resolved in October after 2 days + 10 days)
    store.record(RunResult("posture:portal", [old]), now=d - 2 * DAY)
    # 3 Oct: telnet and RDP open on a server; 4 Oct: telnet closed (resolved after 1 day)
    store.record(RunResult("exposure:srv", [telnet, rdp]), now=d + 2 * DAY)
    store.record(RunResult("exposure:srv", [rdp]), now=d + 3 * DAY)
    store.record(RunResult("posture:portal", []), now=d + 10 * DAY)  # TLS renewed
    # 20 Oct: a rogue device and ARP spoofing at the library, both still open at the end
    store.record(RunResult("arp:library", [rogue]), now=d + 19 * DAY)
    store.record(RunResult("arpspoof:library", [spoof]), now=d + 19 * DAY + H)
    # November: another critical finding, after the period
    late = finding("port_opened", "198.18.1.12/23", "critical", "exposure:srv2")
    store.record(RunResult("exposure:srv2", [late]), now=OCT.end + 3600)


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('secreport')}/r.db"
    cfg, engine = populate(url)
    record_findings(engine)
    cfg = parse_config(CONFIG.replace("URL", url) + SECURITY)
    yield cfg, engine
    engine.dispose()


EXPECTED = {
    "opened": 4,  # telnet, RDP, rogue, spoof (the TLS one was opened in September)
    "resolved": 2,  # telnet (1 day) and TLS (12 days)
    "open_critical": 1,  # the ARP spoofing (the November one is after the end)
    "mean_time_to_resolve": (1 * DAY + 12 * DAY) / 2,
    "opened_by_severity": {"critical": 2, "major": 1, "minor": 1},
    "monitored": True,
}


def test_report_carries_the_security_figures(estate):
    cfg, engine = estate
    report = board_report(cfg, engine, OCT, NOW)
    assert report.security is not None
    assert {k: report.security[k] for k in EXPECTED} == EXPECTED
    assert (report.security["start"], report.security["end"]) == (OCT.start, OCT.end)


def test_json_and_csv(estate):
    cfg, engine = estate
    data, _name = render_report(cfg, engine, "2026-10", "json", now=NOW)
    sec = json.loads(data)["security"]
    assert {k: sec[k] for k in EXPECTED} == EXPECTED
    data, _name = render_report(cfg, engine, "2026-10", "csv", now=NOW)
    rows = [r for r in csv.DictReader(io.StringIO(data.decode())) if r["section"] == "security"]
    assert {r["name"]: r["value"] for r in rows} == {
        "opened": "4",
        "resolved": "2",
        "open_critical": "1",
        "mean_time_to_resolve": repr(6.5 * DAY),
        "opened_critical": "2",
        "opened_major": "1",
        "opened_minor": "1",
        "monitored": "yes",
    }
    # the other sections keep their columns
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["section"] for r in rows[:2]] == ["period", "estate"]


def test_html_section(estate):
    cfg, engine = estate
    data, _ = render_report(cfg, engine, "2026-10", "html", now=NOW)
    text = data.decode()
    html5lib.HTMLParser(strict=True).parse(text)
    section = text[text.index('<h2 id="security">') : text.index('<h2 id="maintenance">')]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", section, re.S)
    assert [re.sub(r"<[^>]+>", "", c) for c in cells] == [
        "4", "2", "1", "6d12h", "critical 2, major 1, minor 1",
    ]  # fmt: skip
    assert "No security checks are configured" not in section


def test_unmonitored_estate_says_so(estate):
    _cfg, engine = estate
    data, _ = render_report(config("sqlite://"), engine, "2026-10", "html", now=NOW)
    assert "<b>No security checks are configured</b>" in data.decode()


def test_pdf_shows_the_section(estate, tmp_path):
    require_command("pdftotext", "pdfinfo")
    cfg, engine = estate
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render(board_report(cfg, engine, OCT, NOW), "pdf"))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M).group(1))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    sec = text[text.index("Security") :]
    line = next(ln for ln in sec.splitlines() if "critical 2" in ln)
    assert re.search(r"^\s*4\s+2\s+1\s+6d12h\s+critical 2, major 1, minor 1\s*$", line), line
    assert f"Page {pages} of {pages}" in text
    first = text.split("\f")[0]  # the one-page summary has a security tile too
    assert "SECURITY" in first and "critical open" in first and "4 opened, 2" in first
