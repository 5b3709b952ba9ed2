"""Several ``threenines run`` nodes on one PostgreSQL store (``threenines.core.ha``), as real
processes: one active for the singleton work, a standby that takes over after kill -9, one
notification per incident, concurrent first starts, and a node name that is already taken.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PG_URL, require

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "alerts"))
from alerts_receivers import JsonReceiver, json_receiver

from bench._ha_nodes import BEAT, EXE, LEASE, NODES, Node, active, free_port
from bench._wait import until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(240)]
OUTAGE = 10.0  # seconds of database outage before the kill (the benchmark runs 60)


@pytest.fixture
def pg_schema(postgres_ok: bool) -> Iterator[str]:
    """An empty schema of the shared PostgreSQL, as a URL whose search_path is that schema."""
    require(postgres_ok, f"needs PostgreSQL at {PG_URL}")
    schema = f"ha_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def cluster(tmp_path: Path, pg_schema: str) -> Iterator[Callable[..., list[Node]]]:
    made: list[Node] = []

    def make(n: int, target: int, rx: JsonReceiver | None = None) -> list[Node]:
        nodes = [Node(tmp_path, NODES[i], pg_schema, target, rx) for i in range(n)]
        made.extend(nodes)
        return nodes

    yield make
    for node in made:
        node.stop()


def test_concurrent_first_starts_migrate_once_and_both_run(cluster: Any) -> None:
    a, b = cluster(2, free_port())
    a.start(), b.start()
    for node in (a, b):
        h = until(f"{node.name} healthy", node.health, limit=90)
        assert h["status"] == "ok", h
    until("the writers to have written", lambda: all(n.health()["written"] > 0 for n in (a, b)))
    assert all(n.health()["status"] == "ok" for n in (a, b))
    until("one active node", lambda: len(active([a, b])) == 1, limit=20)
    for node in (a, b):
        text = node.log.read_text()
        assert "Traceback" not in text and "UniqueViolation" not in text, text[-3000:]
    status = subprocess.run([EXE, "ha", "status", "--json", "-c", str(a.cfg)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert '"holder"' in status.stdout and "node-b" in status.stdout


def test_one_notification_per_incident_and_a_standby_takes_over_after_kill_9(
    cluster: Any,
) -> None:
    target = free_port()  # nothing listens: the check is down from both nodes
    with json_receiver() as rx:
        nodes = cluster(3, target, rx)
        for node in nodes:
            node.start()
        until("every node up", lambda: all(n.health() for n in nodes), limit=90)
        until("one active node", lambda: len(active(nodes)) == 1, limit=30)
        until("the incident paged", lambda: rx.by_path("oncall"), limit=60)
        time.sleep(3)  # long enough for a second node to page too, were it to
        firing = [m for m in rx.by_path("oncall") if "FIRING" in m.get("title", "")]
        assert len(firing) == 1, rx.messages

        # frozen (a hung host, a cut network: alive, but silent): the lease must run out
        (first,) = [n for n in nodes if n.role() == "active"]
        frozen = time.monotonic()
        first.kill(signal.SIGSTOP)
        rest = [n for n in nodes if n is not first]
        until("a standby to take over", lambda: len(active(rest)) == 1, limit=30)
        lease_takeover = time.monotonic() - frozen
        assert LEASE - BEAT - 0.5 <= lease_takeover < 15, lease_takeover  # renewed <= 1 beat ago
        first.kill(signal.SIGCONT)  # back: its term is over, it must not act
        until(f"{first.name} a standby", lambda: first.role() == "standby", limit=20)
        assert len(active(nodes)) == 1

        (second,) = [n for n in nodes if n.role() == "active"]
        killed = time.monotonic()
        second.kill()  # a dead process on this host: taken over at the next beat
        rest = [n for n in nodes if n is not second]
        until("a standby to take over", lambda: len(active(rest)) == 1, limit=30)
        takeover = time.monotonic() - killed
        assert takeover < 15, takeover

        with socket.create_server(("127.0.0.1", target)) as srv:  # the service recovers
            srv.settimeout(0.2)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not [
                m for m in rx.by_path("oncall") if "RESOLVED" in m.get("title", "").upper()
            ]:
                try:
                    conn, _ = srv.accept()
                    conn.close()
                except TimeoutError:
                    pass
            time.sleep(2)
        titles = [m.get("title", "") for m in rx.by_path("oncall")]
        assert sum("FIRING" in t for t in titles) == 1, titles
        assert sum("RESOLVED" in t.upper() for t in titles) == 1, titles
    print(
        f"\ntakeover: frozen node {lease_takeover:.1f}s (lease {LEASE:g}s), "
        f"killed node {takeover:.1f}s"
    )


def test_a_node_name_already_running_is_refused(cluster: Any, tmp_path: Path) -> None:
    (a,) = cluster(1, free_port())
    a.start()
    until("node-a active", lambda: a.role() == "active", limit=90)
    (tmp_path / "twin").mkdir()
    twin = Node(tmp_path / "twin", "node-a", "", 1, None)
    twin.cfg.write_text(a.cfg.read_text().replace(f"127.0.0.1:{a.port}", f"127.0.0.1:{twin.port}"))
    res = subprocess.run([EXE, "run", "-c", str(twin.cfg)], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 2, res.stderr[-2000:]
    assert "already used by a running node" in res.stderr
    assert "Traceback" not in res.stderr
    assert a.role() == "active"


def test_kill_9_during_a_database_outage_loses_no_result(tmp_path: Path) -> None:
    """Every result counted before the kill (``--live`` prints each as it is submitted) is in
    the database after the restart: the outage spilled them to disk at once."""
    from private_postgres import private_postgres

    with private_postgres() as pg:
        node = Node(tmp_path, "node-a", pg.url, free_port(), None)
        proc = subprocess.Popen([EXE, "run", "--live", "-c", str(node.cfg)],
                                stdout=subprocess.PIPE, stderr=node.log.open("ab"))  # fmt: skip
        node.proc = proc
        try:
            until("node-a writing", lambda: (node.health() or {}).get("written", 0) > 5, limit=90)
            pg.stop()
            until("the outage seen", lambda: (node.health() or {}).get("database") ==
                  "unavailable", limit=30)  # fmt: skip
            time.sleep(OUTAGE)
            assert node.health()["spooled"] > 0  # type: ignore[index]
            killed = time.time()
            proc.kill()
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        printed = sum(" @node-a " in line for line in out.decode().splitlines())
        pg.start()
        node.start()
        try:
            until("the spool written", lambda: (node.health() or {}).get("spooled") == 0
                  and (node.health() or {}).get("database") == "up", limit=60)  # fmt: skip
        finally:
            node.stop()
        engine = sa.create_engine(pg.url)
        with engine.connect() as conn:
            q = "select count(*) from results where vantage = 'node-a' and ts < :t"
            stored = conn.execute(sa.text(q), {"t": killed}).scalar_one()
        engine.dispose()
        assert printed > 5 and stored == printed, (stored, printed)
        print(f"\nkill -9 during a {OUTAGE:g}s outage: {printed} counted, {stored} stored")


class _HoldingReceiver:
    """Apprise ``json://`` on loopback that holds its first request unanswered until released:
    a notification in flight, its sender waiting for the answer."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.arrived, self.release = threading.Event(), threading.Event()
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                me.got.append(json.loads(body))
                if not me.arrived.is_set():
                    me.arrived.set()
                    me.release.wait(60)
                with contextlib.suppress(OSError):  # its sender may be dead by now
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/{path}"


def test_a_notification_in_flight_when_the_active_node_dies_is_sent_again(
    pg_schema: str, tmp_path: Path
) -> None:
    """The at-least-once edge, as the README states it: the active node is killed while the
    receiver holds its request (claimed, sent, not yet marked sent); the next active node sends
    it again once the claim lease (3 s here) runs out. Exactly one more copy, no loss."""
    rx = _HoldingReceiver()
    target = free_port()  # nothing listens: the check is down, one incident
    nodes = [Node(tmp_path, n, pg_schema, target, rx, claim_lease=3.0) for n in NODES[:2]]
    try:
        nodes[0].start()
        until("node-a active", lambda: nodes[0].role() == "active", limit=90)
        nodes[1].start()
        until("node-b up", lambda: nodes[1].health() is not None, limit=90)
        until("the notification in flight", rx.arrived.is_set, limit=90)
        nodes[0].kill()  # kill -9 while its send waits for the receiver's answer
        rx.release.set()
        until("node-b active", lambda: nodes[1].role() == "active", limit=30)
        until("the notification sent again", lambda: len(rx.got) >= 2, limit=60)
        time.sleep(4)  # more than a claim lease: a third copy would be here by now
    finally:
        rx.release.set()
        for node in nodes:
            node.stop()
        rx.server.shutdown()
        rx.server.server_close()
    assert len(rx.got) == 2 and rx.got[0] == rx.got[1], rx.got
    engine = sa.create_engine(pg_schema)
    try:
        with engine.connect() as conn:
            q = "select state, attempts from alert_deliveries"
            assert [tuple(r) for r in conn.execute(sa.text(q))] == [("sent", 2)]
    finally:
        engine.dispose()
