"""The board report: hand-checked figures, valid HTML, a PDF with the expected pages, CSV/JSON
carrying the engine's figures, and the Prometheus gauges."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess

import html5lib
import pytest
from avail_data import OCT, H, populate
from conftest import require_command
from prometheus_client import CollectorRegistry

from threenines.availability.metrics import publish, register_availability_metrics
from threenines.availability.periods import PeriodError, parse_period
from threenines.reports.deliver import board_report, render, render_report
from threenines.reports.html import render_html
from threenines.reports.tabular import render_csv, render_json

NOW = OCT.end + 86400


@pytest.fixture(scope="module")
def estate_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('report')}/r.db"
    cfg, engine = populate(url)
    yield cfg, engine
    engine.dispose()


@pytest.fixture(scope="module")
def report(estate_db):
    cfg, engine = estate_db
    return board_report(cfg, engine, OCT, NOW)


def test_board_figures_match_hand_computation(report):
    svc = {s.name: s for s in report.services}
    # payments: 20 + 30 min down; October is 31 d + 1 h; 4 Sunday windows of 2 h excluded
    pay = svc["payments"]
    assert pay.down == 3000 and pay.maintenance == 8 * H
    assert pay.budget_allowed == pytest.approx((31 * 86400 + 3600 - 8 * H) * 0.001)
    assert pay.met is False and pay.incidents == 2 and pay.mttr == 1500
    # email: 10 min down inside maintenance (not counted); the library agent's WAN loss
    # is outvoted by the other two vantage points
    assert svc["email"].down == 0 and svc["email"].down_excluded == 600
    assert svc["email"].availability == 100.0
    assert svc["intranet"].nodata == 3 * H and svc["intranet"].met is True
    # the library link outage: one incident, one cause, two services
    link = [i for i in report.incidents if i.root == "wan-library"]
    assert len(link) == 1 and link[0].affected == ["wan-library", "catalogue"]
    assert link[0].duration == 2 * H and "wan-library down" in link[0].cause
    assert len(report.incidents) == 3
    # catalogue: library hours Mon-Sat 09:00-17:00 only
    assert svc["catalogue"].up + svc["catalogue"].down == 27 * 8 * H
    sites = {s.name: s for s in report.sites}
    assert sites["library"].down == 4 * H and sites["library"].met is False
    assert sites["dc-mirror"].kind == "datacentre"
    assert [label for label, _ in report.overall.trend] == ["2026-07", "2026-08", "2026-09"]
    assert len(report.days) == 31 and report.burn[-1][1] > 1.0  # the budget was overspent


def test_html_is_valid_self_contained_and_states_its_rules(report):
    text = render_html(report)
    parser = html5lib.HTMLParser(strict=True)
    doc = parser.parse(text)  # raises on any parse error
    assert doc is not None
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert text.count("<svg") == 4  # heatmap, burn, twelve-month trend, bars
    assert "Service availability — October 2026" in text
    assert "How these figures are calculated" in text and "no data" in text
    assert "wan-library down" in text


def test_pdf_has_the_expected_pages(report, tmp_path):
    require_command("pdftotext", "pdfinfo")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render(report, "pdf"))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+4$", info.stdout, re.M)

    def page(n):
        args = ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    first, second, third = page(1), page(2), page(3)
    assert "Service availability — October 2026" in first and "Data centres and sites" in first
    assert "Error budget used" in first and "Page 1 of 4" in first
    assert "Availability per service against the target" in second and "payments" in second
    assert "Incidents" in third and "How these figures are calculated" in third


def test_csv_and_json_carry_the_engine_figures(report, estate_db):
    cfg, engine = estate_db
    from threenines.availability.load import load_estate

    est = load_estate(engine, cfg, OCT.start, OCT.end, NOW)
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    services = {r["name"]: r for r in rows if r["section"] == "service"}
    assert set(services) == {s.name for s in cfg.services}
    for name, row in services.items():
        f = est.service(name)
        assert float(row["down"]) == pytest.approx(f.down)
        assert float(row["nodata"]) == pytest.approx(f.nodata)
        assert float(row["budget_remaining"]) == pytest.approx(f.remaining)
        assert float(row["availability"]) == pytest.approx(f.availability * 100, abs=1e-6)
        assert row["met"] == ("yes" if f.met else "no")
    estate = next(r for r in rows if r["section"] == "estate")
    assert float(estate["availability"]) == pytest.approx(est.overall().availability * 100)
    assert sum(1 for r in rows if r["section"] == "incident") == len(report.incidents)
    inc = next(r for r in rows if r["section"] == "incident")  # ISO 8601 local, zone named
    assert re.fullmatch(r"2026-10-\d\dT\d\d:\d\d:\d\d\+0[01]:00", inc["start"])
    assert inc["kind"] == "Europe/London"
    assert [r["name"] for r in rows if r["section"] == "rule"] == report.rules
    data = json.loads(render_json(report))
    assert data["overall"]["availability"] == pytest.approx(float(estate["availability"]))
    assert data["rules"] and data["period"] == "2026-10"


def test_hook_renders_bytes_and_file_name_and_rejects_bad_input(estate_db):
    cfg, engine = estate_db
    data, name = render_report(cfg, engine, "2026-10", "csv", now=NOW, site="library")
    assert name == "threenines-availability-2026-10-library.csv"
    names = {
        r["name"] for r in csv.DictReader(io.StringIO(data.decode())) if r["section"] == "service"
    }
    assert names == {"wan-library", "catalogue"}
    data, name = render_report(cfg, engine, "2026-10-01..2026-10-15", "json", now=NOW)
    assert name == "threenines-availability-2026-10-01_2026-10-15.json"
    assert json.loads(data)["kind"] == "range"
    with pytest.raises(PeriodError):
        render_report(cfg, engine, "October", "csv", now=NOW)
    with pytest.raises(ValueError):
        render_report(cfg, engine, "2026-10", "docx", now=NOW)


def test_prometheus_gauges(estate_db):
    cfg, engine = estate_db
    from threenines.availability.load import load_estate

    registry = CollectorRegistry()
    gauges = register_availability_metrics(registry)
    end = parse_period("2026-10", cfg.tz).end
    est = load_estate(engine, cfg, end - 30 * 86400, end, end)
    publish(gauges, est)
    labels = {"service": "payments", "site": "dc-main", "window": "30d"}
    ratio = registry.get_sample_value("threenines_service_availability_ratio", labels)
    assert ratio == pytest.approx(est.service("payments", end - 30 * 86400, end).availability)
    left = registry.get_sample_value("threenines_service_error_budget_remaining_seconds", labels)
    assert left < 0
    burn = registry.get_sample_value(
        "threenines_service_error_budget_burn_rate", {**labels, "window": "1d"}
    )
    assert burn == 0
    site = registry.get_sample_value(
        "threenines_site_availability_ratio", {"site": "library", "window": "30d"}
    )
    assert 0 < site < 1
