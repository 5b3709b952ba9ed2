"""Traps of every version through the real receiver into the database, on SQLite and PostgreSQL.

net-snmp's ``snmptrap -v 1`` once poisoned the event sink on PostgreSQL: its agent-addr was kept
as raw bytes (NUL included), the database refused the row, and the sink retried it forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from test_snmp_traps import COLD_START, COMMUNITY, LINK_DOWN, send, until

from threenines.app.db import make_engine, migrate
from threenines.collectors.config import Device, Traps
from threenines.collectors.sink import StoreSink
from threenines.collectors.snmp_traps import TrapReceiver
from threenines.collectors.store import recent_events

pytestmark = [pytest.mark.snmpd]


@pytest.fixture(params=["configured", "unknown"])
async def stored(
    request: pytest.FixtureRequest, db_url: str
) -> AsyncIterator[tuple[TrapReceiver, StoreSink]]:
    """A receiver and a sink; the agent is a configured device or one nobody configured."""
    from conftest import require_command

    require_command("snmptrap")
    engine = make_engine(db_url)
    migrate(engine)
    cfg = Traps.model_validate(
        {"enabled": True, "listen": "127.0.0.1:0", "communities": [COMMUNITY]}
    )
    dev = Device.model_validate(
        {"name": "sw1", "address": "127.0.0.1", "site": "branch-7", "auth": "unused"}
    )
    sink = StoreSink(engine, flush_interval=0.05)
    rx = TrapReceiver(cfg, sink, devices=[dev] if request.param == "configured" else [])
    await rx.start()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(rx.run(stop)), asyncio.create_task(sink.run(stop))]
    try:
        yield rx, sink
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
        engine.dispose()


def _events(sink: StoreSink) -> list[dict[str, Any]]:
    return recent_events(sink.engine)


async def test_a_v1_trap_between_v2c_traps_is_stored_and_blocks_nothing(stored) -> None:
    rx, sink = stored
    v2c = ["-v2c", "-c", COMMUNITY]
    assert await send(rx, "snmptrap", *v2c, f"|{LINK_DOWN}|1.3.6.1.2.1.2.2.1.1.3|i|3") == 0
    v1 = ["-v1", "-c", COMMUNITY, "1.3.6.1.4.1.8072|127.0.0.1|6|1|"]
    assert await send(rx, "snmptrap", *v1) == 0
    for _ in range(13):
        assert await send(rx, "snmptrap", *v2c, f"|{COLD_START}") == 0
    await until(lambda: len(_events(sink)) == 15, timeout=20)
    events = _events(sink)
    first, v1_event, later = events[0], events[1], events[2:]
    assert first["kind"] == "link_down" and first["details"]["version"] == "v2c"
    assert v1_event["details"]["version"] == "v1"
    assert v1_event["details"]["agent"] == "127.0.0.1"
    assert v1_event["device"] in ("sw1", None) and "\x00" not in v1_event["message"]
    who = v1_event["device"] or "127.0.0.1"
    assert v1_event["message"] == f"{who}: notification 1.3.6.1.4.1.8072.0.1"
    assert {e["kind"] for e in later} == {"cold_start"}
    assert sink.quarantine.count == 0
