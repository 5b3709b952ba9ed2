"""A small council estate with a hand-drawn October 2026 for report and CLI tests."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.availability.periods import parse_period
from threenines.core.tables import state_intervals

CONFIG = """
organisation: Example Borough Council
timezone: Europe/London
storage: {url: "URL"}
sites:
  - {name: dc-main, kind: datacentre}
  - {name: dc-mirror, kind: datacentre, mirror_of: dc-main}
  - {name: library, depends_on: [wan-library]}
vantage_points:
  - {name: agent-library, site: library}
  - {name: agent-town, site: dc-mirror}
services:
  - name: email
    site: dc-main
    criticality: critical
    checks:
      - name: owa
        type: tcp
        host: 127.0.0.1
        port: 4
        vantage: [central, agent-library, agent-town]
  - name: payments
    site: dc-main
    criticality: critical
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 5}]
  - name: intranet
    site: dc-mirror
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 6}]
  - name: wan-library
    site: library
    checks: [{name: ping, type: tcp, host: 127.0.0.1, port: 1}]
  - name: catalogue
    site: library
    hours: [{days: mon-sat, time: "09:00-17:00"}]
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 2}]
maintenance:
  - {name: patch-sunday, cron: "0 2 * * sun", duration: 2h, sites: [dc-main], reason: "OS patching"}
"""

LONDON = ZoneInfo("Europe/London")
OCT = parse_period("2026-10", LONDON)
H = 3600.0


def config(url: str):
    return parse_config(CONFIG.replace("URL", url))


def _up_with(cid, vantage, start, end, downs):
    rows, cur = [], start
    for a, b in downs:
        rows.append((cid, vantage, "up", cur, a))
        rows.append((cid, vantage, "down", a, b))
        cur = b
    rows.append((cid, vantage, "up", cur, end))
    return [
        dict(
            check_id=c,
            vantage=v,
            state=s,
            start=a,
            end=b,
            last_seen=b - 1,
            error="refused" if s == "down" else None,
            reason=s,
        )
        for c, v, s, a, b in rows
    ]


def october_downtime():
    """Hand-drawn downtime (UTC offsets from 1 Oct 00:00 local) per (check, vantage)."""
    d = OCT.start
    return {
        # payments: 20 min on 6 Oct, 30 min on 20 Oct -> 50 min: misses 99.9 (budget 44m42s)
        ("payments/web", "central"): [
            (d + 5 * 86400 + 10 * H, d + 5 * 86400 + 10 * H + 1200),
            (d + 19 * 86400 + 14 * H, d + 19 * 86400 + 14 * H + 1800),
        ],
        # WAN link down 2 h on 14 Oct (a Wednesday) 10:00-12:00 local
        ("wan-library/ping", "central"): [(d + 13 * 86400 + 9 * H, d + 13 * 86400 + 11 * H)],
        ("catalogue/web", "central"): [(d + 13 * 86400 + 9 * H, d + 13 * 86400 + 11 * H)],
        # the library agent loses its WAN too: email stays up by quorum
        ("email/owa", "agent-library"): [(d + 13 * 86400 + 9 * H, d + 13 * 86400 + 11 * H)],
        # email down 10 min inside Sunday maintenance (not counted)
        ("email/owa", "central"): [(d + 3 * 86400 + 2 * H + 600, d + 3 * 86400 + 2 * H + 1200)],
        ("email/owa", "agent-town"): [(d + 3 * 86400 + 2 * H + 600, d + 3 * 86400 + 2 * H + 1200)],
    }


def populate(url: str, start: float = OCT.start, end: float = OCT.end):
    cfg = config(url)
    engine = make_engine(url)
    migrate(engine)
    downs = october_downtime()
    rows = []
    for svc, check in cfg.iter_checks():
        cid = f"{svc.name}/{check.name}"
        for v in cfg.vantages_for(check):
            rows += _up_with(cid, v, start, end, downs.get((cid, v), []))
    # intranet: the monitor was down for 3 hours: a gap with no data
    gap = [r for r in rows if r["check_id"] == "intranet/web"]
    gap[0]["end"] = OCT.start + 100 * H
    gap.append(dict(gap[0], start=OCT.start + 103 * H, end=end))
    rows = [r for r in rows if r["check_id"] != "intranet/web"] + gap
    with engine.begin() as conn:
        conn.execute(state_intervals.insert(), rows)
    return cfg, engine
