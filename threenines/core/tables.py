"""Core tables: raw results, state intervals and events, on one shared ``metadata``.

Times are UTC epoch seconds (double precision): availability math works on them directly and
they compare the same on every backend. Each area defines its own tables in its own package on
this same ``metadata``, with its own migration branch in its ``migrations/`` folder.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger primary keys become INTEGER on SQLite so they stay rowid aliases (autoincrement).
Id = BigInteger().with_variant(Integer(), "sqlite")

results = Table(
    "results",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("check_id", String(200), nullable=False),  # "<service>/<check>"
    Column("vantage", String(64), nullable=False),
    Column("ts", Float, nullable=False),  # start of the counted attempt, epoch seconds UTC
    Column("status", String(10), nullable=False),
    Column("error", String(32)),
    Column("reason", Text, nullable=False, default=""),
    Column("duration", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("phases", JSON, nullable=False, default=dict),
    Column("details", JSON, nullable=False, default=dict),
    # one result is one (check, vantage, ts): a batch sent again is acknowledged, not doubled
    Index(None, "check_id", "vantage", "ts", unique=True),
    Index(None, "ts"),
)

state_intervals = Table(
    "state_intervals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("check_id", String(200), nullable=False),
    Column("vantage", String(64), nullable=False),
    Column("state", String(10), nullable=False),  # up | degraded | down | unknown
    Column("start", Float, nullable=False),
    Column("end", Float),  # NULL while open
    Column("last_seen", Float, nullable=False),  # last result that confirmed this state
    Column("error", String(32)),
    Column("reason", Text, nullable=False, default=""),
    Index(None, "check_id", "vantage", "start"),
    Index(None, "start"),
)

# Events: things that happen at an instant (an SNMP trap, a reboot seen by sysUpTime, a security
# finding raised, a failover stage). Alerts consume them; reports count them.
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("source", String(32), nullable=False),  # snmp_trap | snmp_poll | security | failover ...
    Column("kind", String(64), nullable=False),  # link_down, cold_start, auth_failure, ...
    Column("severity", String(10), nullable=False),  # critical | major | minor | info
    Column("category", String(16), nullable=False, default="availability"),  # | security | capacity
    Column("site", String(64)),
    Column("device", String(64)),
    Column("subject", String(200)),  # e.g. the interface, the check id, the finding key
    Column("message", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False, default=dict),
    Index(None, "ts"),
    Index(None, "device", "ts"),
)

# High availability (``threenines.core.ha``): every ``threenines run`` node on this store, and
# the one lease that makes one of them the active node. Times are the database's clock.
ha_nodes = Table(
    "ha_nodes",
    metadata,
    Column("name", String(64), primary_key=True),  # the node's vantage point (server.vantage)
    Column("instance", String(32), nullable=False),  # this start of it
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("listen", String(255), nullable=False, default=""),
    Column("started", Float, nullable=False),
    Column("heartbeat", Float, nullable=False),
    Column("role", String(10), nullable=False),  # active | standby | stopped
)

ha_lease = Table(
    "ha_lease",
    metadata,
    Column("name", String(32), primary_key=True),  # "active": the singleton work
    Column("holder", String(64), nullable=False),  # a node's name
    Column("instance", String(32), nullable=False),
    Column("epoch", BigInteger, nullable=False),  # +1 at every change of holder: a fencing token
    Column("acquired", Float, nullable=False),
    Column("renewed", Float, nullable=False),
    Column("expires", Float, nullable=False),
)
