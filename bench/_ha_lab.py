"""A high-availability pair in the lab: for tests/failover/test_failover_ha_lab.py and
``bench.ha --lab``.

Two real ``threenines run`` nodes with config/lab.yaml's plan (as ``bench._failover_lab``
derives it): ``central-main`` inside tn-dc-main and ``central-mirror`` inside tn-dc-mirror, each
listening on its data centre's address. Their store is the lab's ``threenines`` database
(``lab.database.STORE``): primary in dc-main, hot standby in dc-mirror, reached by a multi-host
URL that picks the writable server. The mirror node may promote the standby
(``server.ha.promote``: playbooks/promote_store.yml with the lab inventory's guards). One agent
per site sends its results to either node (``--server`` twice). The lab itself comes from
``lab.session()`` / the ``lab_estate`` fixture.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import yaml

from bench._failover_lab import EXE, ROOT, SITES, lab_config
from bench._wait import until
from threenines import lab
from threenines.agents.tokens import TokenStore
from threenines.app.config import load_config
from threenines.app.db import make_engine, migrate
from threenines.core.tables import events, ha_lease, state_intervals
from threenines.failover.store import failover_runs
from threenines.lab import database

NODES = {"central-main": "dc-main", "central-mirror": "dc-mirror"}
PORT = 9339
PROC = "tn-node"  # the lab process name of a node in its data centre's namespace
ANSIBLE = str(Path(sys.executable).with_name("ansible-playbook"))


def node_url(node: str) -> str:
    return f"http://{lab.ESTATE.node(NODES[node]).address}:{PORT}"


def promote_command() -> list[str]:
    """The mirror node's ``server.ha.promote`` command (absolute paths: any working directory)."""
    inventory = str(ROOT / "playbooks/inventory/lab.yml")
    return [ANSIBLE, "-i", inventory, str(ROOT / "playbooks/promote_store.yml")]


def sync_command() -> list[str]:
    """The nodes' ``server.ha.release`` command: release a lost synchronous standby, re-arm it."""
    inventory = str(ROOT / "playbooks/inventory/lab.yml")
    return [ANSIBLE, "-i", inventory, str(ROOT / "playbooks/store_sync.yml")]


# The mirror node asks for the promotion PROMOTE_AFTER seconds into an outage of its store, and
# the playbook waits up to GUARD_WAIT for the standby's guards (its WAL receiver's 5 s timeout,
# the replicated lease running out): Ansible's own start-up overlaps that wait. A release of a
# lost synchronous standby comes only after RELEASE_AFTER seconds of a renewal waiting, which is
# above the promotion's limit on the standby's replay age (REPLAY_AGE, in the inventory) plus the
# promotion's own run: of "promote the standby" and "release the primary", one only can pass.
PROMOTE_AFTER, GUARD_WAIT, RELEASE_AFTER = 2.0, 10.0, 20.0


def pair_configs(
    tmp: Path, *, interval: float, confirm_for: float, cooldown: float, lease: float,
    heartbeat: float, alerts: dict[str, Any] | None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """config/lab.yaml's estate and plan for each node: its own vantage point and address, the
    shared store, and (on the mirror) the store's promotion."""
    base = lab_config(tmp, PORT, interval=interval, confirm_for=confirm_for, cooldown=cooldown,
                      alerts=alerts)  # fmt: skip
    points = [v for v in base["vantage_points"] if v["name"] != "central"]
    base["vantage_points"] = [
        {"name": n, "site": dc, "description": f"threenines run in tn-{dc}"}
        for n, dc in NODES.items()
    ] + points
    for svc in base["services"]:
        for check in svc["checks"]:
            if "central" in check.get("vantage", []):
                check["vantage"] = [*NODES, *[v for v in check["vantage"] if v != "central"]]
    out = {}
    for node, dc in NODES.items():
        cfg = yaml.safe_load(yaml.safe_dump(base))
        cfg["storage"] = {
            "url": database.store_url(lab.ESTATE, first=dc),
            "flush_interval": "200ms",
            "spool": str(tmp / f"{node}-spool.db"),
        }
        ha: dict[str, Any] = {
            "lease": f"{lease:g}s", "heartbeat": f"{heartbeat:g}s",
            "release": {"command": sync_command(), "after": f"{RELEASE_AFTER:g}s",
                        "timeout": "60s"},
        }  # fmt: skip
        if dc != database.primary(lab.ESTATE).name:
            ha["promote"] = {
                "command": [*promote_command(), "-e", f"pg_promote_guard_wait={GUARD_WAIT:g}"],
                "after": f"{PROMOTE_AFTER:g}s",
                "timeout": "90s",
            }
        address = lab.ESTATE.node(dc).address
        cfg["server"] = {"listen": f"{address}:{PORT}", "vantage": node, "ha": ha}
        cfg["failover"]["data_dir"] = str(tmp / f"{node}-runs")
        out[node] = cfg
    return out


@dataclass
class Pair:
    state: lab.State
    tmp: Path
    engine: sa.Engine  # the store from the host, by the same multi-host URL as the nodes

    def health(self, node: str) -> dict[str, Any] | None:
        try:
            return dict(httpx.get(f"{node_url(node)}/healthz", timeout=2).json())
        except (httpx.HTTPError, ValueError):
            return None

    def health_inside(self, node: str) -> dict[str, Any] | None:
        """``/healthz`` asked from inside the node's own data centre (reachable while cut)."""
        import json

        got = lab.run_in(NODES[node], ["curl", "-sS", "-m", "3", f"{node_url(node)}/healthz"])
        try:
            return dict(json.loads(got.stdout)) if got.returncode == 0 else None
        except ValueError:
            return None

    def role(self, node: str) -> str | None:
        h = self.health(node)
        return h["role"] if h else None

    def _rows(self, q: Any) -> list[sa.Row]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(q))
        except sa.exc.OperationalError:
            return []  # no writable store at the moment (a cut, a promotion)

    def runs(self) -> list[sa.Row]:
        return self._rows(sa.select(failover_runs).order_by(failover_runs.c.id))

    def lease(self) -> sa.Row | None:
        rows = self._rows(sa.select(ha_lease))
        return rows[0] if rows else None

    def decided(self, after: int = 0) -> list[sa.Row]:
        e = events.c
        q = sa.select(events).where(e.source == "failover", e.kind == "decided", e.id > after)
        return self._rows(q.order_by(e.id))

    def all_up(self) -> bool:
        si = state_intervals.c
        q = sa.select(si.check_id, si.vantage, si.state).where(
            si.check_id.in_(["portal-dc-main/health", "portal-dc-mirror/health"]),
            si.end.is_(None),
        )
        seen = {(c, v): s for c, v, s in self._rows(q)}
        every = [*NODES, *SITES]
        return all(
            seen.get((c, v)) == "up"
            for c in ("portal-dc-main/health", "portal-dc-mirror/health")
            for v in every
        )

    def old_primary(self, query: str) -> str:
        """``query`` on dc-main's PostgreSQL, from inside dc-main (while it is cut off too)."""
        return database.sql(database.primary(lab.ESTATE), query, db=database.STORE)

    def log(self, node: str) -> str:
        path = self.state.logs / f"tn-{NODES[node]}.{PROC}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass(frozen=True)
class Cut:
    """A dc-cut of dc-main with the active node inside, as the mirror node handled it."""

    t0: float  # the fault's time
    run: sa.Row  # the failover run (finished)
    decided: sa.Row  # the decision event that started it
    lease: sa.Row  # the lease after the takeover
    figures: dict[str, float]  # seconds after the cut


def cut_dc_main(pair: Pair, limit: float = 150.0) -> Cut:
    """Cut dc-main off; wait for the mirror node to be active and its failover run to end.
    The RTO as tests/failover/test_failover_lab.py measures it: the cut to the run's
    verification (the residents' journeys through the front door pass again)."""
    fault = lab.fault_add("dc-cut", "dc-main", state=pair.state)
    t0 = fault.created
    until("the mirror node active", lambda: pair.role("central-mirror") == "active", limit=limit)
    try:
        run = until("the failover run", lambda: [r for r in pair.runs() if r.state != "running"],
                    limit=limit)[0]  # fmt: skip
    except TimeoutError as exc:  # what the mirror node was doing instead, for the report
        seen = [(round(e.ts - t0, 1), e.message) for e in pair.decided()][-5:]
        tasks = (pair.health("central-mirror") or {}).get("tasks")
        raise TimeoutError(f"{exc}; runs {pair.runs()}; decisions {seen}; tasks {tasks}") from None
    decided = [e for e in pair.decided() if e.details["action"] == "fail_over"]
    lease = pair.lease()
    assert lease is not None and decided, (lease, decided)
    said = re.findall(r"newest change replayed was ([0-9.]+)s old", pair.log("central-mirror"))
    figures = {
        # the data-loss window of the promoted store (an upper bound: it includes the time
        # between the cut and the promotion, when the primary was heard no more)
        "store_rpo": float(said[-1]) if said else float("nan"),
        "takeover": lease.acquired - t0,  # the database's clock: this machine's
        "detection": decided[-1].ts - t0,
        "playbook": (run.playbook_finished or 0) - (run.playbook_started or 0),
        "rto": (run.verified_at or float("nan")) - t0,
    }
    return Cut(t0, run, decided[-1], lease, figures)


@contextlib.contextmanager
def ha_pair(
    state: lab.State,
    tmp: Path,
    *,
    interval: float = 1.0,
    confirm_for: float = 3.0,
    cooldown: float = 60.0,
    lease: float = 6.0,
    heartbeat: float = 1.0,
    alerts: dict[str, Any] | None = None,
) -> Iterator[Pair]:
    tmp.mkdir(parents=True, exist_ok=True)
    main = database.primary(lab.ESTATE)
    exists = f"select count(*) from pg_database where datname = '{database.STORE}'"
    until("the store's database on the primary",
          lambda: database.sql(main, exists, db="postgres") == "1", limit=60)  # fmt: skip
    configs = pair_configs(tmp, interval=interval, confirm_for=confirm_for, cooldown=cooldown,
                           lease=lease, heartbeat=heartbeat, alerts=alerts)  # fmt: skip
    paths = {}
    for node, raw in configs.items():
        paths[node] = tmp / f"{node}.yaml"
        paths[node].write_text(yaml.safe_dump(raw, sort_keys=False))
    cfg = load_config(paths["central-main"])
    engine = make_engine(cfg.storage.url)
    migrate(engine)
    for site in SITES:
        plain = TokenStore(engine).create("agent", now=time.time(), vantage=site)[1]
        (tmp / f"{site}.token").write_text(plain)
    pair = Pair(state, tmp, engine)
    agent = "agent-ha"
    try:
        for node in NODES:  # the main node first: it takes the lease
            lab.spawn(NODES[node], PROC, [sys.executable, EXE, "run", "-c", str(paths[node])],
                      state=state)  # fmt: skip
            until(f"{node} up", lambda n=node: pair.health(n) is not None, limit=90)
            if node == "central-main":
                until("central-main active", lambda: pair.role("central-main") == "active", 60)
        # the mirror's node first: a request to a node across a cut link hangs (no reset),
        # while one that finds its store gone answers 503 at once and the agent tries the next
        servers = [a for n in reversed(NODES) for a in ("--server", node_url(n))]
        for site in SITES:
            lab.spawn(site, agent, [
                sys.executable, EXE, "agent", *servers, "--vantage", site,
                "--token-file", str(tmp / f"{site}.token"), "--queue", str(tmp / f"{site}.queue"),
                "--refresh", "2s", "--timeout", "3s",
            ], state=state)  # fmt: skip
        until("every vantage point to see both data centres up", pair.all_up, limit=120)
        yield pair
    finally:  # all at once: each may take its grace period (a node cut off, mid-renewal)
        procs = [(site, agent) for site in SITES] + [(NODES[n], PROC) for n in NODES]
        with ThreadPoolExecutor(len(procs)) as pool:
            list(pool.map(lambda p: lab.stop(p[0], p[1], state=state), procs))
        for node in NODES:  # kept beside the configs: the lab's logs go with the lab
            (tmp / f"{node}.log").write_text(pair.log(node))
        engine.dispose()
