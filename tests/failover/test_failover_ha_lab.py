"""The monitor survives dc-main's loss: a high-availability pair in the lab (``bench._ha_lab``).

The active node ``central-main`` runs inside tn-dc-main next to the primary of its store (the
lab's ``threenines`` database), the standby ``central-mirror`` inside tn-dc-mirror next to the
hot standby; agents at the three sites send to either. dc-main is cut off. Then, in order: the
cut node cannot renew its lease (the primary waits for its synchronous standby, which it no
longer reaches) and stops being active at the end of its term; the mirror node, finding no
writable store, runs playbooks/promote_store.yml, whose guards (the standby's copy of the lease
ran out, no WAL streaming, two of three site witnesses lose the primary) pass; the promoted
store takes the mirror node's renewal, with the lease's epoch one more; the mirror node's
failover loop sees the agents' quorum, runs the lab plan, and users are served from dc-mirror.
The RTO is measured as tests/failover/test_failover_lab.py does (the cut to the run's
verification). The cut node, still beside its own writable PostgreSQL, started no failover and
created no notification after its term.

Root only (lab namespaces); every address is a lab address in 198.18.0.0/16.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import require

from bench._failover_lab import SITES
from bench._ha_lab import Pair, cut_dc_main, ha_pair, promote_command
from bench._wait import until
from threenines.core.ha import nodes
from threenines.lab import database, services, topology

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(420)]
LEASE, BEAT = 6.0, 1.0


class Receiver:
    """Apprise ``json://`` deliveries, on the host's lab address (both data centres reach it)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        lock, messages = threading.Lock(), self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    messages.append(json.loads(body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((topology.HOST_ADDR, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"json://{topology.HOST_ADDR}:{self.server.server_address[1]}/oncall"


@pytest.fixture
def pair(lab_estate: Any, tmp_path: Any) -> Iterator[tuple[Pair, Receiver]]:
    require(database.bindir() is not None, database.MISSING)
    rx = Receiver()
    route = {"group_wait": "0s", "group_interval": "0s", "repeat_interval": "0s"}
    alerts = {
        "events_poll": "200ms",
        "outbox": {"backoff": "1s", "poll_interval": "200ms"},
        "receivers": [{"name": "oncall", "url": rx.url()}],
        "routes": [{"name": "oncall", "receivers": ["oncall"], **route}],
    }
    try:
        with ha_pair(lab_estate, tmp_path, lease=LEASE, heartbeat=BEAT, alerts=alerts) as p:
            yield p, rx
    finally:
        rx.server.shutdown()
        rx.server.server_close()


def test_dc_main_cut_with_the_active_node_inside(pair: tuple[Pair, Receiver]) -> None:
    p, rx = pair
    before = p.lease()
    assert before is not None and before.holder == "central-main"
    assert p.role("central-mirror") == "standby"
    # what `threenines ha status` shows: the store's standby streaming, and synchronous
    (replica,) = nodes(p.engine)["replicas"]
    assert replica["state"] == "streaming" and replica["sync"] in ("sync", "quorum"), replica
    # the promotion's guards first: with dc-main alive the playbook refuses, and says why
    early = subprocess.run(promote_command(), capture_output=True, text=True, timeout=120)
    assert early.returncode != 0 and "refused: the standby still streams" in early.stdout

    cut = cut_dc_main(p)
    t0, run, decided, lease = cut.t0, cut.run, cut.decided, cut.lease
    assert run.kind == "failover" and run.state == "verified", run
    assert len(set(decided.details["down_vantages"]) & set(SITES)) >= 2  # the agents agree
    assert services.health(f"http://{topology.FRONT_DOOR_ADDR}/health") == "dc-mirror"
    assert lease.holder == "central-mirror"
    assert lease.epoch == before.epoch + 1  # one takeover, fenced by the epoch
    assert "store promotion done" in p.log("central-mirror")
    # the promoted store's data-loss window, measured at the promotion (an upper bound)
    assert 0 <= cut.figures["store_rpo"] < cut.figures["takeover"], cut.figures
    assert lease.acquired > t0 + LEASE - BEAT  # not before the cut node's term was over

    # the cut node: beside a PostgreSQL it can still write to, yet a standby since its term ran
    # out, because the primary grants no lease its synchronous standby has not got
    inside = p.health_inside("central-main")
    assert inside is not None and inside["role"] == "standby", inside
    assert "its lease could not be renewed in time" in p.log("central-main")
    holder, expires = p.old_primary("select holder, expires from ha_lease").split("|")
    assert holder == "central-main" and float(expires) <= t0 + LEASE + BEAT, (expires, t0)
    assert p.old_primary("select count(*) from failover_runs") == "0"
    late = f"select count(*) from alert_notifications where created_at > {t0 + LEASE}"
    assert p.old_primary(late) == "0"

    # on-call heard of dc-main's outage from the mirror node, and each notification once
    until("on-call paged", lambda: "portal-dc-main" in str(rx.messages), limit=60)
    bodies = [json.dumps(m, sort_keys=True) for m in rx.messages]
    assert len(bodies) == len(set(bodies)), rx.messages
    print("\nHA lab figures (s after the cut):", {k: round(v, 1) for k, v in cut.figures.items()})
