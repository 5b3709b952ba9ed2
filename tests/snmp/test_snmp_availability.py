"""A real snmpd behind a site's availability: kill it and the site drops, with it as the cause.

The poller stores what it sees (``device:lab-sw``, ``device:lab-sw/if:lo``) in the same state
intervals as probes; the availability engine reads them because the site lists the uplink.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from snmpd_lab import COMMUNITY, snmpd_factory

from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.availability.load import load_estate
from threenines.collectors.sink import MemorySink
from threenines.collectors.snmp_poll import SnmpPoller
from threenines.core.results import ProbeResult
from threenines.core.store import ResultRecord, ResultStore

__all__ = ["snmpd_factory"]
pytestmark = [pytest.mark.snmpd]

CONFIG = """
timezone: UTC
snmp:
  defaults: {interval: 60s, timeout: 300ms, retries: 0}
  devices:
    - name: lab-sw
      address: 127.0.0.1
      port: PORT
      site: library
      auth: {version: v2c, community: COMMUNITY}
      profiles: [interfaces]
      uplinks: [lo]
sites:
  - {name: dc-main, kind: datacentre}
  - {name: library, devices: ["lab-sw/if:lo"]}
services:
  - name: catalogue
    site: library
    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 9}]
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_killing_snmpd_drops_the_site_with_the_device_as_cause(
    snmpd_factory, tmp_path: Path
) -> None:
    agent = snmpd_factory()
    cfg = parse_config(CONFIG.replace("PORT", str(agent.port)).replace("COMMUNITY", COMMUNITY))
    engine = make_engine(f"sqlite:///{tmp_path}/avail.db")
    migrate(engine)
    store = ResultStore(engine)
    t0 = 1_790_000_040.0
    clock, sink = Clock(t0), MemorySink()
    poller = SnmpPoller(cfg.snmp, sink, vantage=cfg.server.vantage, clock=clock)
    try:
        for minute in range(6):
            clock.now = t0 + 60 * minute
            if minute == 2:
                agent.stop()  # the switch dies
            if minute == 4:
                agent.start()  # and comes back
            await poller.poll("lab-sw")
            up = ProbeResult.up(0.001)  # the site's own check sees nothing wrong
            store.write_batch([*sink.result_log, ResultRecord("catalogue/web", "central",
                                                               clock.now, up)])  # fmt: skip
            sink.result_log.clear()
    finally:
        poller.close()
    end = t0 + 300
    est = load_estate(engine, cfg, t0, end, end)
    engine.dispose()
    site = est.site("library")
    assert site.down == 120 and site.up == 180  # polls at +120 and +180 found it dead
    assert site.availability == pytest.approx(0.6)
    assert est.service("catalogue").down == 120
    (inc,) = est.incidents()
    assert inc.root == "device:lab-sw" and inc.affected == ["catalogue"]
    assert inc.cause.startswith("device:lab-sw down: timeout")
    states = [(s.start - t0, s.state) for s in est.site_timeline("library")]
    assert states == [(0, "up"), (120, "down"), (240, "up")]
