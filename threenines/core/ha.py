"""High availability: any number of ``threenines run`` nodes on one store, one of them active.

Every node probes as its own vantage point (``server.vantage``, which is also its node name),
so a second node adds a viewpoint, never a duplicate. The singleton work (alert policy and
delivery, failover orchestration and drills, scheduled reports, retention, security scans,
daily summaries: the tasks an area adds with ``ctx.add_task(..., singleton=True)``) runs on the
*active* node only. Which node that is, is a lease in the database (``ha_lease``), the model
being Zabbix's native HA: nodes on one database, one active, standbys take over after the
failover delay.

The rule, in the database's clock (so the nodes' own clocks never matter):
- every node writes a heartbeat to ``ha_nodes`` each ``server.ha.heartbeat``;
- the active node renews the lease to ``now + server.ha.lease`` at the same time;
- a standby takes the lease once it has expired (``expires < now``), or at once when its holder
  released it (a clean stop) or is a dead process on the standby's own host; ``epoch`` then
  grows by one (a fencing token).

Fencing: a node counts itself active only until ``t0 + lease - heartbeat`` on its *monotonic*
clock, ``t0`` being when it sent its last successful renewal. The database dated that renewal
after ``t0``, so the lease it granted ends after the node has stopped: when a renewal fails or
hangs (the database cut off), the node stops its singleton work at least one heartbeat before
any other node can start it. That holds whatever the wall clocks say; it assumes only that
the node's and the database's clocks run at the same rate to within ``heartbeat / lease``
(20 % by default: no real clock drifts that much). A singleton task is stopped by cancelling
it; blocking work already in a worker thread (a playbook) finishes there, which is why a
failover run also takes its plan's own lease (``threenines.failover``).

Two nodes configured with the same name: the second to start waits one lease for the first
to go quiet (a restart after a crash), then refuses to run, with a clear message.

A store replicated to another data centre (PostgreSQL streaming replication): the lease is
committed with ``synchronous_commit = on`` whatever the database's default, so where the primary
names its standby in ``synchronous_standby_names`` a renewal succeeds only once the standby has
it. A primary cut off with its active node can then grant nothing more: the renewal hangs, and
the node stops at the end of its term as above, while the standby's copy of the lease runs out.
That copy is what a ``Promotion`` (``server.ha.promote``) checks before it promotes the standby:
a node that has found no writable store for ``after`` seconds runs the configured command (an
Ansible playbook that runs ``pg_promote()``, guarded by witnesses), at most once per ``after``.
The lease on the promoted store is the last one granted, so the new holder takes it only after
it expired, with ``epoch`` one more: the split-brain bound is the same as on one store.

The other way round, the *standby's* data centre lost: the primary waits for the standby, so
the active node's renewal waits, and no node does singleton work. ``server.ha.release``: when a
renewal has waited ``after`` seconds the node runs that command in the background (an Ansible
playbook that empties ``synchronous_standby_names``, guarded by witnesses that must see the
primary and not the standby), the waiting commit returns and the node is active again in the
same term's lease, with no takeover. Once a standby streams while the primary does not wait for
it (``pg_stat_replication.sync_state = 'async'``), the active node runs the same command again,
which arms it. Of "promote the standby" and "release the primary", only one can pass: a witness
votes for one side at most, and a standby whose newest replayed change is older than its
promotion's limit (below ``release.after``) is never promoted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Connection, Engine

from threenines.core.ha_promote import Promotion, run_command
from threenines.core.logs import Repeated
from threenines.core.tables import ha_lease, ha_nodes

log = logging.getLogger("threenines.ha")

LEASE = "active"
ROLES = ("active", "standby")


class NodeConflict(Exception):
    """Another running node uses this node's name (one line, for the user)."""


def db_now(conn: Connection) -> float:
    """The database's clock, epoch seconds."""
    if conn.dialect.name == "postgresql":
        q = "SELECT extract(epoch from clock_timestamp())::float8"
    else:  # SQLite: the host's clock, which every node on one SQLite file shares
        q = "SELECT (julianday('now') - 2440587.5) * 86400.0"
    return float(conn.execute(sa.text(q)).scalar_one())


def _alive_here(host: str, pid: int) -> bool | None:
    """Whether process ``pid`` of ``host`` runs; None when ``host`` is another machine."""
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Term:
    """What one successful beat found: who holds the lease, and until when we may act."""

    holder: str | None
    epoch: int
    valid_until: float | None  # monotonic; None unless this node holds the lease
    unarmed: bool = False  # a standby streams but is not synchronous (``server.ha.release``)


class Leadership:
    """This node's heartbeat and its claim on the lease. Synchronous parts run in a thread."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        lease: float = 10.0,
        heartbeat: float = 2.0,
        listen: str = "",
        registry: CollectorRegistry | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        promotion: Promotion | None = None,
        release: Promotion | None = None,
    ):
        self.engine, self.name = engine, name
        self.promotion = promotion
        self.release_command = release  # ``server.ha.release``: see ``_store_command``
        self.releases = 0  # times the release command ran
        self._store_task: asyncio.Future[None] | None = None
        self._next_release = 0.0
        self._said: tuple[int | None, str] = (0, "")
        self.promotions = 0  # times the promotion command ran
        self._failing_since: float | None = None
        self._next_promotion = 0.0
        self._refusals = 0  # promotions refused in a row
        self.lease, self.heartbeat, self.listen = lease, heartbeat, listen
        self.instance = uuid.uuid4().hex[:16]
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.monotonic = monotonic
        self.epoch = 0
        self.holder: str | None = None
        self.valid_until = 0.0
        self.active = asyncio.Event()  # set while this node is active
        self.changed = asyncio.Event()  # set at every change of role (cleared by waiters)
        self.registered = asyncio.Event()  # set once this node's name is its own
        self.changes = 0
        self._failing = Repeated(log, "high availability: heartbeat failed")
        self._role = Gauge("threenines_ha_role", "1 on the active node, 0 on a standby",
                           ("node",), registry=registry)  # fmt: skip
        self._role.labels(name).set(0)
        self._changes = Counter("threenines_ha_lease_changes_total",
                                "Times this node became active or stopped being active",
                                ("node",), registry=registry)  # fmt: skip
        self._age = Gauge("threenines_ha_heartbeat_age_seconds",
                          "Seconds since this node's last successful heartbeat",
                          ("node",), registry=registry)  # fmt: skip
        self._last_beat = self.monotonic()
        self._age.labels(name).set_function(lambda: self.monotonic() - self._last_beat)

    @property
    def is_active(self) -> bool:
        return self.active.is_set() and self.monotonic() < self.valid_until

    # -- the database side (blocking) -----------------------------------------------------

    def register(self) -> float | None:
        """Enter this node in ``ha_nodes``. Returns None when done, else the seconds to wait
        for another running instance of the same name to go quiet. ``NodeConflict`` never here:
        see ``claim``."""
        with self.engine.begin() as conn:
            now = db_now(conn)
            row = conn.execute(
                sa.select(ha_nodes).where(ha_nodes.c.name == self.name).with_for_update()
            ).first()
            if row is not None and row.instance != self.instance:
                quiet = now - row.heartbeat
                alive = _alive_here(row.host, row.pid)
                if row.role != "stopped" and quiet < self.lease and alive is not False:
                    return self.lease - quiet
            values = {"instance": self.instance, "host": self.host, "pid": self.pid,
                      "listen": self.listen, "started": now, "heartbeat": now,
                      "role": "standby"}  # fmt: skip
            if row is None:
                conn.execute(sa.insert(ha_nodes).values(name=self.name, **values))
            else:
                conn.execute(
                    sa.update(ha_nodes).where(ha_nodes.c.name == self.name).values(**values)
                )
        return None

    def conflict(self) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ha_nodes).where(ha_nodes.c.name == self.name)).first()
            quiet = db_now(conn) - row.heartbeat if row is not None else 0.0
        where = f"host {row.host} pid {row.pid}" if row is not None else "another host"
        return (
            f"server.vantage {self.name!r} is already used by a running node ({where}, heard "
            f"{quiet:.1f}s ago): give each node its own vantage name"
        )

    def beat(self, t0: float) -> Term:
        """Heartbeat, and take or renew the lease when possible. ``t0``: monotonic time
        before this call (the start of the term if the lease is ours)."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # granted only once a synchronous standby has it
                conn.execute(sa.text("SET LOCAL synchronous_commit = on"))
            now = db_now(conn)
            nodes = ha_nodes.c
            mine = sa.and_(nodes.name == self.name, nodes.instance == self.instance)
            took_node = conn.execute(sa.update(ha_nodes).where(mine).values(heartbeat=now))
            if took_node.rowcount == 0:
                raise NodeConflict(self.conflict_text_locked(conn))
            held = self._take_or_renew(conn, now)
            row = conn.execute(sa.select(ha_lease).where(ha_lease.c.name == LEASE)).first()
            role = "active" if held else "standby"
            conn.execute(sa.update(ha_nodes).where(mine).values(role=role))
            unarmed = held and self.release_command is not None and _unarmed(conn)
        until = t0 + self.lease - self.heartbeat if held else None
        return Term(row.holder if row else None, int(row.epoch) if row else 0, until, unarmed)

    def conflict_text_locked(self, conn: Connection) -> str:
        row = conn.execute(sa.select(ha_nodes).where(ha_nodes.c.name == self.name)).first()
        where = f"host {row.host} pid {row.pid}" if row is not None else "unknown"
        return f"node {self.name!r} was taken over by another instance ({where})"

    def _take_or_renew(self, conn: Connection, now: float) -> bool:
        lease = ha_lease.c
        renew = conn.execute(
            sa.update(ha_lease)
            .where(lease.name == LEASE, lease.holder == self.name, lease.instance == self.instance)
            .values(renewed=now, expires=now + self.lease)
        )
        if renew.rowcount:
            return True
        row = conn.execute(sa.select(ha_lease).where(lease.name == LEASE)).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(ha_lease).values(
                        name=LEASE, holder=self.name, instance=self.instance, epoch=1,
                        acquired=now, renewed=now, expires=now + self.lease))  # fmt: skip
                return True
            except sa.exc.IntegrityError:
                return False  # another node inserted it first
        if row.expires >= now and not self._holder_dead(row):
            return False
        # the conditions again in the UPDATE: of two standbys, only one takes it
        took = conn.execute(
            sa.update(ha_lease)
            .where(lease.name == LEASE, lease.instance == row.instance, lease.epoch == row.epoch)
            .values(
                holder=self.name,
                instance=self.instance,
                epoch=row.epoch + 1,
                acquired=now,
                renewed=now,
                expires=now + self.lease,
            )
        )
        return bool(took.rowcount)

    def _holder_dead(self, row: Any) -> bool:
        with self.engine.connect() as conn:
            node = conn.execute(
                sa.select(ha_nodes.c.host, ha_nodes.c.pid, ha_nodes.c.instance).where(
                    ha_nodes.c.name == row.holder
                )
            ).first()
        if node is None or node.instance != row.instance:
            return False
        return _alive_here(node.host, node.pid) is False

    def release(self) -> None:
        """A clean stop: give the lease up at once, so a standby takes over at its next beat."""
        with self.engine.begin() as conn:
            now = db_now(conn)
            lease = ha_lease.c
            conn.execute(
                sa.update(ha_lease)
                .where(lease.name == LEASE, lease.instance == self.instance)
                .values(expires=now - 0.001)
            )
            conn.execute(
                sa.update(ha_nodes)
                .where(ha_nodes.c.name == self.name, ha_nodes.c.instance == self.instance)
                .values(role="stopped", heartbeat=now)
            )

    # -- the loop ------------------------------------------------------------------------

    async def claim(self, stop: asyncio.Event) -> None:
        """Register this node; wait (at most one lease and a beat) for a previous instance of
        the same name to go quiet; ``NodeConflict`` if it does not."""
        deadline = self.monotonic() + self.lease + 2 * self.heartbeat
        while not stop.is_set():
            wait = await asyncio.to_thread(self.register)
            if wait is None:
                self.registered.set()
                return
            if self.monotonic() > deadline:
                raise NodeConflict(await asyncio.to_thread(self.conflict))
            log.warning("node %r: another instance was heard %.1fs ago; waiting for it to go "
                        "quiet", self.name, self.lease - wait)  # fmt: skip
            await _sleep(stop, min(wait + 0.1, self.heartbeat))

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until ``stop``; then release the lease. ``NodeConflict`` is raised to the caller."""
        await self.claim(stop)
        try:
            while not stop.is_set():
                t0 = self.monotonic()
                beat = asyncio.ensure_future(asyncio.to_thread(self.beat, t0))
                while not beat.done() and not stop.is_set():  # a hung renewal must not
                    # outlive the term (a synchronous standby cut off: the commit waits)
                    left = self.valid_until - self.monotonic() if self.active.is_set() else None
                    wait = self.heartbeat if left is None else max(0.0, left)
                    await asyncio.wait({beat}, timeout=wait)
                    if not beat.done() and self.active.is_set() and not self.is_active:
                        self._step(False, None, "its lease could not be renewed in time")
                    if not beat.done():
                        self._maybe_release(self.monotonic() - t0, "a renewal waits")
                if not beat.done():
                    break  # stopping while a renewal hangs: it is left to its thread
                try:
                    term = beat.result()
                except NodeConflict:
                    self._step(False, None, "another instance took this node's name")
                    raise
                except Exception as exc:
                    self._failing.failed(exc)
                    if self.active.is_set() and not self.is_active:
                        self._step(False, None, "its lease could not be renewed in time")
                    if self._failing_since is None:
                        self._failing_since = t0
                    await self._maybe_promote()
                else:
                    self._failing.ok()
                    self._failing_since = None
                    self._refusals = 0
                    self._last_beat = self.monotonic()
                    self.holder, self.epoch = term.holder, term.epoch
                    if term.valid_until is not None and term.valid_until > self.monotonic():
                        self.valid_until = term.valid_until
                        self._step(True, term.epoch, "")
                        if term.unarmed:
                            self._maybe_release(None, "a standby streams, not synchronous")
                    else:
                        self._step(False, None, f"{term.holder!r} holds the lease")
                await _sleep(stop, max(0.0, self.heartbeat - (self.monotonic() - t0)))
        finally:
            was = self.active.is_set()
            self._step(False, None, "stopping")
            if was:
                try:
                    await asyncio.to_thread(self.release)
                except Exception as exc:
                    log.warning("could not release the lease (a standby takes over when it "
                                "expires): %s", type(exc).__name__)  # fmt: skip

    def _maybe_release(self, waited: float | None, why: str) -> None:
        """``server.ha.release``: run its command in the background (the beats go on) when a
        renewal has waited ``after`` seconds (``waited``), or (``waited`` None) when the store
        has a streaming standby that is not synchronous (to arm it again); at most once per
        ``after``, never two at a time."""
        r, now = self.release_command, self.monotonic()
        if r is None or (waited is not None and waited < r.after) or now < self._next_release:
            return
        if self._store_task is not None and not self._store_task.done():
            return
        self._next_release = now + r.after
        self.releases += 1
        self._store_task = asyncio.ensure_future(self._store_command(r, why))

    async def _store_command(self, r: Promotion, why: str) -> None:
        log.info("node %r: %s; running the store's release/re-arm (%s)", self.name, why,
                 r.command[0])  # fmt: skip
        code, last = await asyncio.to_thread(run_command, r.command, r.timeout)
        said = f"store release/re-arm {'done' if code == 0 else f'refused or failed (exit {code})'}"
        level = logging.INFO if (code, last) == self._said else logging.WARNING
        self._said = (code, last)  # a repeat of the same outcome is not news
        log.log(level, "node %r: %s: %s", self.name, said, last)

    async def _maybe_promote(self) -> None:
        """No writable store for ``promotion.after``: run the promotion command (bounded by
        its timeout). A standby only: an active node has a store. After a refusal the next try
        waits ``after`` from the end of the run, doubled at each refusal in a row (at most a
        minute): a node cut off with its own data centre asks again and again, and each run is
        a playbook."""
        p, now = self.promotion, self.monotonic()
        if p is None or self.active.is_set() or self._failing_since is None:
            return
        if now - self._failing_since < p.after or now < self._next_promotion:
            return
        self.promotions += 1
        log.warning("node %r: no writable store for %.0fs; running the store's promotion (%s)",
                    self.name, now - self._failing_since, p.command[0])  # fmt: skip
        code, last = await asyncio.to_thread(run_command, p.command, p.timeout)
        outcome = "done" if code == 0 else f"refused or failed (exit {code})"
        log.warning("node %r: store promotion %s: %s", self.name, outcome, last)
        self._refusals = 0 if code == 0 else self._refusals + 1
        backoff = min(60.0, p.after * 2 ** max(0, self._refusals - 1))
        self._next_promotion = self.monotonic() + backoff

    def _step(self, active: bool, epoch: int | None, why: str) -> None:
        if active == self.active.is_set():
            return
        self.changes += 1
        self._changes.labels(self.name).inc()
        self._role.labels(self.name).set(1 if active else 0)
        if active:
            self.active.set()
            log.warning("node %r is now ACTIVE (lease epoch %s)", self.name, epoch)
        else:
            self.active.clear()
            log.warning("node %r is now a standby: %s", self.name, why)
        self.changed.set()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


UNARMED_SQL = (
    "select count(*) from pg_stat_replication where state = 'streaming' and sync_state = 'async'"
)


def _unarmed(conn: Connection) -> bool:
    """Whether the store's primary has a standby streaming that it does not wait for."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(sa.text(UNARMED_SQL)).scalar_one())


def heartbeats(engine: Engine) -> dict[str, float]:
    """Each node's last heartbeat (epoch seconds), but those stopped cleanly."""
    with engine.connect() as conn:
        q = sa.select(ha_nodes.c.name, ha_nodes.c.heartbeat).where(ha_nodes.c.role != "stopped")
        return {name: float(hb) for name, hb in conn.execute(q)}


REPLICAS_SQL = (
    "select application_name, state, sync_state, extract(epoch from replay_lag)::float8 "
    "from pg_stat_replication order by application_name"
)


def replicas(conn: Connection) -> list[dict[str, Any]]:
    """The store's streaming replicas as its primary sees them (PostgreSQL; else none):
    name, state, ``sync``/``quorum``/``async``, replay lag in seconds (None: not measured, as
    when nothing was written lately)."""
    if conn.dialect.name != "postgresql":
        return []
    try:
        with conn.begin_nested():
            rows = conn.execute(sa.text(REPLICAS_SQL)).all()
    except sa.exc.DBAPIError:
        return []
    return [{"name": r[0], "state": r[1], "sync": r[2],
             "replay_lag": None if r[3] is None else round(float(r[3]), 3)}
            for r in rows]  # fmt: skip


def nodes(engine: Engine) -> dict[str, Any]:
    """Every node and the lease, for ``threenines ha status`` and ``/api/v1/ha``."""
    with engine.connect() as conn:
        now = db_now(conn)
        lease = conn.execute(sa.select(ha_lease).where(ha_lease.c.name == LEASE)).first()
        rows = conn.execute(sa.select(ha_nodes).order_by(ha_nodes.c.name)).all()
        standbys = replicas(conn)
    holder = lease.holder if lease is not None and lease.expires >= now else None
    out = []
    for r in rows:
        age = round(now - r.heartbeat, 3)
        role = r.role if r.role == "stopped" else ("active" if r.name == holder else "standby")
        out.append({"name": r.name, "role": role, "host": r.host, "pid": r.pid,
                    "listen": r.listen, "heartbeat_age": age, "started": r.started})  # fmt: skip
    return {
        "now": now,
        "lease": None if lease is None else {
            "holder": holder, "last_holder": lease.holder, "epoch": int(lease.epoch),
            "expires_in": round(lease.expires - now, 3), "acquired": lease.acquired,
        },
        "nodes": out,
        "replicas": standbys,
    }  # fmt: skip
