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

Before that, on the same pair (one lab for the module: the dc-main cut comes last, as it
promotes the standby), dc-mirror is lost instead: the primary's wait for its synchronous standby
holds the active node's renewal, so it stops being active; after ``server.ha.release.after`` it
runs playbooks/store_sync.yml, whose witnesses (two of three sites see the primary and not the
standby) let it release the primary, and it is active again, with no takeover, and pages
on-call about dc-mirror; the mirror node, cut off, asks for a promotion and is refused (the
witnesses see the primary). When dc-mirror is back, the active node re-arms the synchronous
standby.

Root only (lab namespaces); every address is a lab address in 198.18.0.0/16.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import require

from bench._failover_lab import PLAN, SITES
from bench._ha_lab import NODES, RELEASE_AFTER, Pair, cut_dc_main, ha_pair, promote_command
from bench._wait import until
from threenines import lab
from threenines.app.config import load_config
from threenines.core.ha import nodes
from threenines.failover import preflight
from threenines.failover.config import failover_config
from threenines.lab import database, services, topology

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(420)]
LEASE, BEAT = 6.0, 1.0
REPLICATION_EDGE = 2.0  # s before the cut: the replication lag while streaming is under 1 s
FIGURES: dict[str, float] = {}


class Receiver:
    """Apprise ``json://`` deliveries, on the host's lab address (both data centres reach it)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.arrivals: list[tuple[float, str]] = []  # (when, from which address), per message
        lock, messages, arrivals = threading.Lock(), self.messages, self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    messages.append(json.loads(body))
                    arrivals.append((time.time(), self.client_address[0]))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((topology.HOST_ADDR, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"json://{topology.HOST_ADDR}:{self.server.server_address[1]}/oncall"


@pytest.fixture(scope="module")
def pair(
    lab_estate: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Pair, Receiver]]:
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
        tmp = tmp_path_factory.mktemp("ha-lab")
        with ha_pair(lab_estate, tmp, lease=LEASE, heartbeat=BEAT, alerts=alerts) as p:
            yield p, rx
    finally:
        rx.server.shutdown()
        rx.server.server_close()
        if FIGURES:
            print("\nHA lab figures (s after the fault):", FIGURES)


def _repeated(seen: list[tuple[str, float, str, str]]) -> list[list[tuple[float, str, str]]]:
    """The copies of each notification received more than once (``seen``: body, seconds after
    the dc-main cut, sender's address, title), but for the one edge the README allows ("Which
    delivery guarantee holds"): a page the cut node sent in the last moment before the cut,
    whose `sent` mark had not reached the standby, sent once more by the mirror node."""
    main, mirror = (lab.ESTATE.node(NODES[n]).address for n in ("central-main", "central-mirror"))
    copies: dict[str, list[tuple[float, str, str]]] = {}
    for body, *rest in seen:
        copies.setdefault(body, []).append((rest[0], rest[1], rest[2]))
    repeated = []
    for c in copies.values():
        edge = len(c) == 2 and c[0][1] == main and -REPLICATION_EDGE <= c[0][0] < 1.0
        if len(c) > 1 and not (edge and c[1][1] == mirror):
            repeated.append(c)
    return repeated


def _plan_lag(p: Pair) -> float | None:
    """The replication lag by the lab plan's own command, as the failover pre-flight runs it."""
    cfg = load_config(p.tmp / "central-mirror.yaml")
    plan = failover_config(cfg).plan(PLAN)
    assert plan is not None and plan.preflight.replication_lag is not None
    return preflight.replication_lag(plan.preflight.replication_lag)[0]


def _sync(p: Pair) -> str | None:
    """The store's standby as its primary sees it: ``sync``/``quorum`` (armed), ``async``."""
    standbys = nodes(p.engine)["replicas"]
    return standbys[0]["sync"] if standbys and standbys[0]["state"] == "streaming" else None


def test_losing_dc_mirror_releases_the_standby_and_keeps_the_active_node(
    pair: tuple[Pair, Receiver],
) -> None:
    p, rx = pair
    before = p.lease()
    assert before is not None and before.holder == "central-main"
    assert _sync(p) in ("sync", "quorum")
    fault = lab.fault_add("dc-cut", "dc-mirror", state=p.state)
    t0 = fault.created
    try:
        # the renewal waits for the lost standby: the active node stops at the end of its term
        until("central-main a standby", lambda: p.role("central-main") == "standby", limit=30)
        stopped = time.time()
        until("the release", lambda: "store release/re-arm done" in p.log("central-main"),
              limit=RELEASE_AFTER + 60)  # fmt: skip
        until("central-main active again", lambda: p.role("central-main") == "active", 30)
        back = time.time()
        lease = p.lease()
        assert lease is not None and lease.holder == "central-main", lease
        assert lease.epoch == before.epoch  # the same term's holder: no takeover
        assert "released: 3 witnesses lost the standby" in p.log("central-main")
        assert p.old_primary("show synchronous_standby_names") == ""
        # the mirror node, cut off with its store's standby, was refused its promotion: the
        # witnesses still see the primary
        until("the mirror's promotion refused",
              lambda: "store promotion refused" in p.log("central-mirror"), limit=60)  # fmt: skip
        assert "witnesses lost the primary" in p.log("central-mirror")
        assert "store promotion done" not in p.log("central-mirror")
        # and the monitor does its work: on-call hears of dc-mirror's outage
        until("on-call paged", lambda: "portal-dc-mirror" in str(rx.messages), limit=60)
    finally:
        lab.fault_clear(fault.id, state=p.state)
    until("the synchronous standby re-armed", lambda: _sync(p) in ("sync", "quorum"), limit=90)
    armed = time.time()
    until("the re-arm's report", lambda: "armed: 1 standby streams" in p.log("central-main"))
    assert p.role("central-main") == "active" and p.lease().epoch == before.epoch
    until("every vantage point to see both data centres up", p.all_up, limit=90)
    FIGURES.update(mirror_lost_stopped=stopped - t0, mirror_lost_active_again=back - t0,
                   rearmed_after_heal=armed - back)  # fmt: skip


def test_dc_main_cut_with_the_active_node_inside(pair: tuple[Pair, Receiver]) -> None:
    p, rx = pair
    paged = len(rx.messages)
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
    # the plan's RPO check reads the promoted replica: the age of the newest change it had
    # replayed when promoted (the promotion's own figure), not the 0 of a primary
    lag = _plan_lag(p)
    assert lag == pytest.approx(cut.figures["store_rpo"], abs=0.1), (lag, cut.figures)
    FIGURES["rpo_read_by_the_plan"] = round(lag, 1)

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

    # the cut node's release of the synchronous standby was refused: no witness sees its primary
    until("the cut node's release refused",
          lambda: "store release/re-arm refused" in p.log("central-main"), limit=60)  # fmt: skip
    assert "0 of 3 witnesses lost the" in p.log("central-main")
    assert p.old_primary("show synchronous_standby_names") != ""

    # on-call heard of dc-main's outage from the mirror node, and each notification once
    until("on-call paged", lambda: "portal-dc-main" in str(rx.messages[paged:]), limit=60)
    seen = [(json.dumps(m, sort_keys=True), round(when - t0, 2), sender, m["title"])
            for m, (when, sender) in zip(rx.messages, rx.arrivals, strict=True)]  # fmt: skip
    print("\nnotifications (s after the cut, sender, title):", [x[1:] for x in seen])
    assert not _repeated(seen), _repeated(seen)
    FIGURES.update({k: round(v, 1) for k, v in cut.figures.items()})
