"""The engine on a small council estate: quorum, dependency attribution, incidents, MTTR."""

from __future__ import annotations

from threenines.app.config import parse_config
from threenines.availability.engine import Estate, Inputs
from threenines.availability.incidents import estate_reliability, reliability
from threenines.availability.periods import parse_period
from threenines.availability.schedule import Exclusion
from threenines.availability.timeline import IntervalRow, Seg

CONFIG = """
timezone: Europe/London
sites:
  - {name: dc-main, kind: datacentre}
  - {name: library, depends_on: [wan-library]}
vantage_points:
  - {name: agent-library, site: library}
  - {name: agent-town, site: dc-main}
services:
  - name: wan-library
    site: library
    checks: [{name: ping, type: tcp, host: 127.0.0.1, port: 1}]
  - name: catalogue
    site: library
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 2}]
  - name: pcs
    site: library
    degraded_is_up: false
    checks: [{name: login, type: tcp, host: 127.0.0.1, port: 3}]
  - name: email
    site: dc-main
    checks:
      - name: owa
        type: tcp
        host: 127.0.0.1
        port: 4
        vantage: [central, agent-library, agent-town]
"""

H = 3600.0


def rows(*spans):
    """IntervalRows from (start_h, end_h, state) in hours after t0, all closed."""
    return [
        IntervalRow(st, a * H, b * H, b * H - 1, "refused" if st == "down" else None, st)
        for a, b, st in spans
    ]


def estate(extra=None, now=48 * H, maintenance=()):
    cfg = parse_config(CONFIG)
    data = {
        ("wan-library/ping", "central"): rows((0, 10, "up"), (10, 11, "down"), (11, 24, "up")),
        ("catalogue/web", "central"): rows(
            (0, 10 + 5 / 60, "up"), (10 + 5 / 60, 11 + 10 / 60, "down"), (11 + 10 / 60, 24, "up")
        ),
        ("pcs/login", "central"): rows(
            (0, 10, "up"), (10, 11, "down"), (11, 12, "degraded"), (12, 24, "up")
        ),
        ("email/owa", "central"): rows((0, 24, "up")),
        ("email/owa", "agent-library"): rows((0, 10, "up"), (10, 11, "down"), (11, 24, "up")),
        ("email/owa", "agent-town"): rows((0, 24, "up")),
    }
    data.update(extra or {})
    return Estate(cfg, Inputs(rows=data, maintenance=maintenance), 0, 24 * H, now)


def test_site_link_outage_is_one_incident_with_one_cause():
    est = estate()
    incs = est.incidents()
    assert len(incs) == 3  # the link, catalogue's own tail, pcs degraded (not up for pcs)
    link, own, pcs = incs
    assert link.root == "wan-library" and link.cause == "wan-library down: ping: refused: down"
    assert link.affected == ["wan-library", "catalogue", "pcs"]
    assert (link.start, link.end) == (10 * H, 11 * H)
    assert link.parts["catalogue"] == [(10 * H + 300, 11 * H)]
    assert own.root == "catalogue" and (own.start, own.end) == (11 * H, 11 * H + 600)
    assert pcs.root == "pcs" and pcs.cause == "pcs degraded: login: degraded" and pcs.duration == H
    # attributed downtime still counts against the service
    assert est.service("catalogue").down == 3900
    r = reliability("catalogue", incs, est.service("catalogue").good)
    assert r.incidents == 2 and r.mttr == 3900 / 2
    assert estate_reliability(incs, 0, 24 * H).incidents == 3


def test_losing_one_sites_wan_does_not_mark_central_services_down():
    est = estate()
    email = est.service("email")
    assert email.down == 0 and email.availability == 1.0
    assert all("email" not in i.parts for i in est.incidents())


def test_degraded_not_up_for_pcs_and_pooled_site_figures():
    est = estate()
    pcs = est.service("pcs")
    assert pcs.degraded == H and pcs.bad == 2 * H
    site = est.site("library")
    assert site.down == H + 3900 + 2 * H  # pcs degraded time is pooled as down
    assert site.counted == 3 * 24 * H
    dc = est.site("dc-main")
    assert dc.availability == 1.0
    # whole-site state: partial outage while only some services are down
    states = {(s.start, s.state) for s in est.site_timeline("library")}
    assert (10 * H, "degraded") in states and (10 * H + 300, "down") in states


def test_maintenance_on_the_link_still_attributes_dependants():
    win = Exclusion(10 * H, 11 * H, "wan-work", services=("wan-library",))
    est = estate(maintenance=[win])
    assert est.service("wan-library").down == 0
    link = est.incidents()[0]
    assert link.root == "wan-library" and link.affected == ["catalogue", "pcs"]
    assert link.cause.startswith("wan-library down")


def test_device_component_as_dependency_and_no_data_window():
    cfg_rows = {("catalogue/web", "central"): rows((0, 6, "up"), (8, 24, "up"))}
    est = estate(extra=cfg_rows)
    cat = est.service("catalogue")
    assert cat.nodata == 2 * H and cat.down == 0
    comp = {"router-lib": [Seg(10 * H, 11 * H, "down", "ifOperStatus down")]}
    cfg = parse_config(CONFIG.replace("depends_on: [wan-library]", "depends_on: [router-lib]"))
    est2 = Estate(cfg, Inputs(rows=estate().inputs.rows, components=comp), 0, 24 * H, 48 * H)
    link = next(i for i in est2.incidents() if i.root == "router-lib")
    assert link.cause == "router-lib down: ifOperStatus down"
    assert link.affected == ["catalogue", "pcs", "wan-library"]


def test_burn_rates_and_dst_period_from_config_maintenance():
    est = estate(now=24 * H)
    burn = est.burn_rates("wan-library")
    assert burn["1h"] == 0 and round(burn["1d"], 6) == round((1 / 24) / 0.001, 6)
    cfg = parse_config(
        CONFIG
        + "maintenance:\n  - {name: sun, cron: '0 2 * * sun', duration: 1h, sites: [library]}\n"
    )
    octo = parse_period("2026-10", cfg.tz)
    est2 = Estate(cfg, Inputs(rows={}), octo.start, octo.end, octo.end + 1)
    f = est2.service("catalogue")
    assert f.maintenance == 4 * H and f.nodata == octo.seconds - 4 * H
    assert est2.service("email").maintenance == 0
