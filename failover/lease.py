"""Single flight across threenines instances: a lease row per plan, taken by conditional writes.

``acquire`` first tries to INSERT the row (the primary key makes exactly one instance win when
nobody holds it), then tries an UPDATE that only matches an expired lease or one we already
hold. Both are plain SQL that behaves the same on SQLite and PostgreSQL; there is no
read-then-write window. A holder renews the lease while its run lasts; if it crashes, the lease
expires after ``ttl`` and the run it was doing is found and marked interrupted (see ``ledger``).

Clocks: expiry compares each instance's wall clock, so instances need NTP (skew << ttl).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from threenines.failover.store import failover_leases as leases


class Lease:
    def __init__(self, engine: Engine, name: str, owner: str, ttl: float):
        self.engine = engine
        self.name = name
        self.owner = owner
        self.ttl = ttl

    def acquire(self, now: float, run_id: int | None = None) -> bool:
        """Take the lease if it is free or expired; True when we hold it now."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    leases.insert().values(
                        name=self.name,
                        owner=self.owner,
                        run_id=run_id,
                        acquired_at=now,
                        expires_at=now + self.ttl,
                    )
                )
            return True
        except IntegrityError:
            pass  # somebody holds (or held) it: take it over only if it expired
        with self.engine.begin() as conn:
            res = conn.execute(
                leases.update()
                .where(leases.c.name == self.name)
                .where(sa.or_(leases.c.expires_at < now, leases.c.owner == self.owner))
                .values(owner=self.owner, run_id=run_id, acquired_at=now, expires_at=now + self.ttl)
            )
            return res.rowcount == 1

    def renew(self, now: float) -> bool:
        """Extend our lease; False when it was lost (expired and taken by another instance)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                leases.update()
                .where(leases.c.name == self.name, leases.c.owner == self.owner)
                .values(expires_at=now + self.ttl)
            )
            return res.rowcount == 1

    def attach(self, run_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                leases.update()
                .where(leases.c.name == self.name, leases.c.owner == self.owner)
                .values(run_id=run_id)
            )

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                leases.delete().where(leases.c.name == self.name, leases.c.owner == self.owner)
            )


def holder(engine: Engine, name: str) -> sa.Row | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(leases).where(leases.c.name == name)).first()


class Heartbeat:
    """Renews a lease every ttl/3 from a thread; calls ``on_lost`` once if it is lost."""

    def __init__(self, lease: Lease, clock: Callable[[], float], on_lost: Callable[[], None]):
        self.lease = lease
        self.clock = clock
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{lease.name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        last_ok = self.clock()
        while not self._stop.wait(self.lease.ttl / 3):
            now = self.clock()
            try:
                ok = self.lease.renew(now)
            except Exception:
                # The database is briefly away: keep trying, but once the lease may have expired
                # another instance may take over, so this run must stop.
                ok = now - last_ok < self.lease.ttl
            else:
                last_ok = now if ok else last_ok
            if not ok:
                self.on_lost()
                return
