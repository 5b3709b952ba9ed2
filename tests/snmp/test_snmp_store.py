"""SNMP storage on SQLite and PostgreSQL: events, summarised readings, device results."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest

from threenines.app.db import make_engine, migrate
from threenines.collectors.config import Device, Traps
from threenines.collectors.sink import StoreSink
from threenines.collectors.snmp_metrics import register_metrics
from threenines.collectors.snmp_traps import TrapReceiver
from threenines.collectors.store import EventRecord, Reading, Summariser, readings, recent_events
from threenines.core.results import ProbeResult
from threenines.core.store import ResultRecord
from threenines.core.tables import state_intervals


def test_summariser_closes_periods() -> None:
    s = Summariser(300)
    assert s.add([Reading(t, "d", "s", "m", "x", v) for t, v in ((10, 1), (20, 3), (299, 5))]) == []
    (row,) = s.add([Reading(301, "d", "s", "m", "x", 100)])
    assert (row["bucket"], row["count"], row["avg"], row["min"], row["max"], row["last"]) == (
        0, 3, 3.0, 1, 5, 5,
    )  # fmt: skip
    assert s.add([Reading(5, "d", "s", "m", "x", 7)]) == []  # late reading for a closed period
    (rest,) = s.flush()
    assert (rest["bucket"], rest["count"], rest["avg"]) == (300, 1, 100.0)


async def test_store_sink_writes_results_events_and_summaries(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    sink = StoreSink(engine, summary_period=300)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    up, down = ProbeResult.up(0.01), ProbeResult.down(0.5, "timeout", "no response")
    sink.results([ResultRecord("device:sw1", "central", t, up) for t in (0, 60, 120)])
    sink.results([ResultRecord("device:sw1", "central", 180, down)])
    sink.events([EventRecord(180, "snmp_poll", "reboot", "major", site="dc", device="sw1")])
    sink.readings(
        [Reading(t, "sw1", "dc", "sensor_celsius", "inlet", 20 + t / 60) for t in range(0, 600, 60)]
    )
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 10)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(state_intervals.c.state, state_intervals.c.start).order_by(
                state_intervals.c.start
            )
        ).all()
    assert [tuple(r) for r in rows] == [("up", 0.0), ("down", 180.0)]
    (ev,) = recent_events(engine, device="sw1")
    assert (ev["kind"], ev["site"], ev["source"]) == ("reboot", "dc", "snmp_poll")
    summary = readings(engine, device="sw1", metric="sensor_celsius")
    assert [(r["bucket"], r["count"], r["avg"]) for r in summary] == [
        (0.0, 5, 22.0),
        (300.0, 5, 27.0),
    ]
    engine.dispose()


@pytest.mark.snmpd
async def test_traps_are_stored_with_device_and_site(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    sink = StoreSink(engine)
    registry = CollectorRegistry()
    cfg = Traps.model_validate({"listen": "127.0.0.1:0", "communities": ["c0mm"]})
    dev = Device.model_validate(
        {"name": "ups7", "address": "127.0.0.1", "site": "depot", "auth": "x"}
    )
    rx = TrapReceiver(cfg, sink, devices=[dev], metrics=register_metrics(registry))
    await rx.start()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(rx.run(stop)), asyncio.create_task(sink.run(stop))]
    from test_snmp_traps import blast, valid_trap

    await blast(rx, [valid_trap("c0mm", i) for i in range(200)] + [valid_trap("nope")])
    for _ in range(500):
        if sink.events_written == 200:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    events = recent_events(engine, device="ups7")
    assert len(events) == 200
    assert {(e["kind"], e["site"], e["source"]) for e in events} == {
        ("link_down", "depot", "snmp_trap")
    }
    text = generate_latest(registry).decode()
    assert 'threenines_snmp_traps_total{outcome="accepted"} 200.0' in text
    assert 'threenines_snmp_traps_total{outcome="bad_community"} 1.0' in text
    engine.dispose()
