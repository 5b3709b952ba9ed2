"""The writer on the lab's primary database: ``UPDATE heartbeat SET ts = now()`` once a second.

Run: ``python -m threenines.lab.heartbeat --dsn "host=198.18.21.10 dbname=portal user=postgres"``;
``lab up`` starts it in the primary's data centre. On first contact it creates the database
and the one-row table. It writes nothing while its database is a standby (read-only). A
database outage is one line when it starts and one when it ends, never a line a second.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

TABLE = (
    "create table if not exists heartbeat "
    "(id int primary key, ts timestamptz not null, beats bigint not null)"
)
BEAT = "update heartbeat set ts = now(), beats = beats + 1 where id = 1"


def _connect(dsn: str, create: tuple[str, ...] = ()) -> psycopg.Connection:
    """A connection to ``dsn``'s database, created (with its table) on the primary if missing,
    as are the databases named in ``create``."""
    name = str(conninfo_to_dict(dsn).get("dbname", "portal"))
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as admin:
        standby = admin.execute("select pg_is_in_recovery()").fetchone()
        for db in (name, *create):
            exists = admin.execute("select 1 from pg_database where datname = %s", [db]).fetchone()
            if standby is not None and not standby[0] and exists is None:
                admin.execute(f'create database "{db}"')
    conn = psycopg.connect(dsn, autocommit=True)
    if not conn.execute("select pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
        conn.execute(TABLE)
        conn.execute("insert into heartbeat values (1, now(), 0) on conflict (id) do nothing")
    return conn


def _beat(conn: psycopg.Connection) -> None:
    if not conn.execute("select pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
        conn.execute(BEAT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="libpq connection string of the database")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between beats")
    parser.add_argument("--create", action="append", default=[], metavar="DB",
                        help="another database to create on the primary (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    conn: psycopg.Connection | None = None
    down_since: float | None = None
    while not stop.is_set():
        try:
            if conn is None or conn.closed:
                conn = _connect(args.dsn, tuple(args.create))
            _beat(conn)
            if down_since is not None:
                print(f"database back after {time.monotonic() - down_since:.0f}s", flush=True)
                down_since = None
        except psycopg.Error as exc:
            if down_since is None:
                first = str(exc).strip().splitlines()[:1]
                print(f"database unavailable: {first[0] if first else exc!r}", flush=True)
                down_since = time.monotonic()
            if conn is not None:
                conn.close()
            conn = None
        stop.wait(args.interval)
    if conn is not None:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
