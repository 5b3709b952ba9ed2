"""config/lab.yaml monitors the lab: every check passes from the centre and from inside each site,
and a site's broken WAN link is seen by that site's vantage point only.

The checks run through the real probe modules (``PROBES[type].probe``), in the root namespace
for the centre and inside ``tn-<site>`` (as an agent would) for a site.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from threenines import lab
from threenines.app.config import load_config
from threenines.lab import topology

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(300)]

CONFIG = Path(__file__).resolve().parents[2] / "config" / "lab.yaml"
RUNNER = """
import asyncio, json, sys
from threenines.probes import PROBES
from threenines.app.config import load_config

async def main(path, vantage):
    cfg = load_config(path)
    jobs = [(s.name, c) for s, c in cfg.iter_checks() if vantage in cfg.vantages_for(c)]
    results = await asyncio.gather(*(PROBES[c.type].probe(c, timeout=c.timeout) for _, c in jobs))
    print(json.dumps({f"{s}/{c.name}": r.status.value for (s, c), r in zip(jobs, results)}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def run_vantage(vantage: str) -> dict[str, str]:
    """Status of every check assigned to ``vantage``, probed from where that vantage point is."""
    argv = [sys.executable, "-c", RUNNER, str(CONFIG), vantage]
    if vantage == "central":
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    else:
        proc = lab.run_in(vantage, argv, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_lab_config_validates_and_names_every_site_as_a_vantage_point() -> None:
    cfg = load_config(CONFIG)
    assert {v.name for v in cfg.vantage_points} == {"central", *topology.SITES}
    assert cfg.server.listen.startswith(topology.HOST_ADDR)


@pytest.mark.parametrize("vantage", ["central", *topology.SITES])
def test_every_check_passes_from_every_vantage_point(lab_estate, vantage: str) -> None:
    statuses = run_vantage(vantage)
    assert statuses and set(statuses.values()) == {"up"}, statuses


def test_a_broken_wan_link_is_seen_only_from_that_site(lab_estate) -> None:
    fault = lab.fault_add("link-down", "depot", state=lab_estate)
    try:
        with ThreadPoolExecutor(3) as pool:  # the cut-off site's probes wait out their timeouts
            depot, central, grays = pool.map(run_vantage, ["depot", "central", "lib-grays"])
    finally:
        lab.fault_clear(fault.id, state=lab_estate)
    assert set(depot.values()) == {"down"}, depot  # everything, the gateway included
    assert central.pop("wan-depot/site-router") == "down"
    assert set(central.values()) == {"up"}, central  # the portal itself is fine
    assert set(grays.values()) == {"up"}, grays
