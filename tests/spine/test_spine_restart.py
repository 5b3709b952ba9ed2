"""A server restart closes only its own stale intervals: agents' stay open (SQLite and PostgreSQL).

Before the fix, start-up closed every vantage's open interval older than the central checks'
``max_gap``, so each restart cut an agent's interval at its ``last_seen`` and the results it
delivered from its queue opened a new one: one gap of "no data" per restart.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from spine_support import rec, tcp_config

from threenines.app.service import build_context
from threenines.core.tables import state_intervals


def _intervals(engine: sa.Engine) -> list[tuple]:
    si = state_intervals
    q = sa.select(si.c.check_id, si.c.vantage, si.c.start, si.c.end, si.c.last_seen)
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(q))


def _cfg(db_url: str, tmp_path: Path):
    return tcp_config(
        [{"name": "ok", "host": "127.0.0.1", "port": 9}],
        storage={"url": db_url, "spool": str(tmp_path / "spool.jsonl")},
    )


async def test_restart_closes_central_intervals_only(db_url: str, tmp_path: Path) -> None:
    cfg = _cfg(db_url, tmp_path)
    first = build_context(cfg)
    await first.writer.prepare()
    # Before the restart: the server and an agent both saw web/ok up until t=1000.
    first.store.write_batch(
        [rec("web/ok", 900), rec("web/ok", 1000), rec("web/ok", 1000, vantage="agent-lib")]
    )
    first.engine.dispose()

    # The server was down for a while; at start-up "now" is far past every last_seen.
    again = build_context(cfg)
    closed = again.store.close_stale(now=5000, max_gap=120, vantage=cfg.server.vantage)
    assert closed == 1
    # The agent kept measuring and delivers its queue (60 s apart, its max_gap 120 s).
    again.store.write_batch(
        [rec("web/ok", float(t), vantage="agent-lib") for t in range(1060, 5000, 60)]
    )
    again.store.write_batch([rec("web/ok", 5000)])
    assert _intervals(again.engine) == [
        ("web/ok", "agent-lib", 1000, None, 4960),  # one interval: no gap at the restart
        ("web/ok", "central", 900, 1000, 1000),  # the server's own downtime is no data
        ("web/ok", "central", 5000, None, 5000),
    ]
    again.engine.dispose()


async def test_prepare_leaves_agent_intervals_open(db_url: str, tmp_path: Path) -> None:
    cfg = _cfg(db_url, tmp_path)
    ctx = build_context(cfg)
    await ctx.writer.prepare()  # migrate + close_stale, as the service does at start-up
    ctx.store.write_batch([rec("web/ok", 1000), rec("web/ok", 1000, vantage="agent-lib")])
    ctx.engine.dispose()
    restarted = build_context(cfg)
    await restarted.writer.prepare()
    rows = {(r[0], r[1]): r[3] for r in _intervals(restarted.engine)}
    assert rows == {("web/ok", "central"): 1000, ("web/ok", "agent-lib"): None}
    restarted.engine.dispose()


def test_stale_after_covers_snmp_devices_polled_from_here(tmp_path: Path) -> None:
    cfg = _cfg(f"sqlite:///{tmp_path}/gap.db", tmp_path)
    from threenines.collectors import extension

    ctx = build_context(cfg)
    extension.setup(ctx)
    assert ctx.max_gaps == []  # no devices: the probes' own gaps decide
    snmp = {
        "credentials": {"lab": {"version": "v2c", "community": "x"}},
        "devices": [{"name": "sw", "address": "127.0.0.1", "site": "dc1", "auth": "lab",
                     "interval": "10m"}],
    }  # fmt: skip
    with_dev = cfg.model_copy(update={"snmp": type(cfg.snmp).model_validate(snmp)})
    ctx = build_context(with_dev)
    extension.setup(ctx)
    assert ctx.max_gaps == [1200]
