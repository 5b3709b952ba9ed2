"""The trap receiver against net-snmp's snmptrap/snmpinform (v1, v2c, v3), and hostile input."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pyasn1.codec.ber import encoder
from pysnmp.proto.api import v2c as api

from threenines.collectors.config import Device, Traps
from threenines.collectors.sink import MemorySink
from threenines.collectors.snmp_traps import TrapReceiver

pytestmark = [pytest.mark.snmpd]
COMMUNITY = "trap-community"
USER, USER256, AUTH, PRIV = "trapper", "trapper256", "trap-auth-key", "trap-priv-key"
LINK_DOWN, COLD_START, AUTH_FAIL = (
    "1.3.6.1.6.3.1.1.5.3",
    "1.3.6.1.6.3.1.1.5.1",
    "1.3.6.1.6.3.1.1.5.5",
)
NO_MIBS = ["-m", "", "-M", "/nonexistent"]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[TrapReceiver, MemorySink]]:
    from conftest import require_command

    require_command("snmptrap", "snmpinform")
    cfg = Traps.model_validate(
        {
            "enabled": True,
            "listen": "127.0.0.1:0",
            "communities": [COMMUNITY],
            "users": [
                {"user": USER, "auth_key": AUTH, "priv_key": PRIV},
                {
                    "user": USER256,
                    "auth_protocol": "SHA",
                    "auth_key": AUTH,
                    "priv_protocol": "AES-256",
                    "priv_key": PRIV,
                },
            ],
        }
    )
    dev = Device.model_validate(
        {"name": "sw1", "address": "127.0.0.1", "site": "branch-7", "auth": "unused"}
    )
    sink = MemorySink()
    rx = TrapReceiver(cfg, sink, devices=[dev])
    await rx.start()
    stop = asyncio.Event()
    task = asyncio.create_task(rx.run(stop))
    try:
        yield rx, sink
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def send(rx: TrapReceiver, tool: str, *args: str) -> int:
    assert rx.address is not None
    target = f"{rx.address[0]}:{rx.address[1]}"
    version, rest = args[0], list(args[1:])
    proc = await asyncio.create_subprocess_exec(
        tool, *NO_MIBS, "-t", "2", "-r", "0", version, *rest[:-1], target, *rest[-1].split("|"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, _err = await proc.communicate()
    return proc.returncode or 0


def v3(
    user: str = USER, auth: str = AUTH, priv: str = PRIV, engine: str = "0x80001f8804aa01"
) -> list[str]:
    proto = ["-a", "SHA-256", "-x", "AES"] if user != USER256 else ["-a", "SHA", "-x", "AES-256"]
    return ["-v3", "-e", engine, "-u", user, "-l", "authPriv", *proto, "-A", auth, "-X", priv]


async def until(check: Callable[[], Any], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_v1_v2c_v3_traps_and_informs_become_events(receiver) -> None:
    rx, sink = receiver
    varbinds = f"|{LINK_DOWN}|1.3.6.1.2.1.2.2.1.1.3|i|3|1.3.6.1.2.1.31.1.1.1.1.3|s|ge-0/0/3"
    assert await send(rx, "snmptrap", "-v2c", "-c", COMMUNITY, varbinds) == 0
    assert (
        await send(rx, "snmptrap", "-v1", "-c", COMMUNITY, "1.3.6.1.4.1.8072|127.0.0.1|0|0|") == 0
    )
    ups = "|1.3.6.1.2.1.33.2.1|1.3.6.1.2.1.33.1.2.3.0|i|12"
    assert await send(rx, "snmptrap", *v3(), ups) == 0
    assert await send(rx, "snmptrap", *v3(USER256, engine="0x80001f8804bb02"), f"|{AUTH_FAIL}") == 0
    assert await send(rx, "snmpinform", "-v2c", "-c", COMMUNITY, f"|{COLD_START}") == 0  # acked
    inform_v3 = ["-v3", "-u", USER, "-l", "authPriv", "-a", "SHA-256", "-A", AUTH, "-x", "AES"]
    assert await send(rx, "snmpinform", *inform_v3, "-X", PRIV, "|1.3.6.1.6.3.1.1.5.2") == 0
    await until(lambda: len(sink.event_log) == 6)
    got = [(e.kind, e.severity, e.category, e.details["version"]) for e in sink.event_log]
    assert got == [
        ("link_down", "major", "availability", "v2c"),
        ("cold_start", "major", "availability", "v1"),
        ("ups_on_battery", "critical", "availability", "v3"),
        ("auth_failure", "minor", "security", "v3"),
        ("cold_start", "major", "availability", "v2c"),
        ("warm_start", "minor", "availability", "v3"),
    ]
    assert all(
        (e.device, e.site, e.source) == ("sw1", "branch-7", "snmp_trap") for e in sink.event_log
    )
    assert sink.event_log[0].subject == "ge-0/0/3"
    assert "12 minutes" in sink.event_log[2].message
    assert rx.stats["accepted"] == 6


async def test_unknown_community_users_and_bad_keys_are_counted_not_processed(receiver) -> None:
    rx, sink = receiver
    assert await send(rx, "snmptrap", "-v2c", "-c", "guess", f"|{LINK_DOWN}") == 0
    assert await send(rx, "snmptrap", "-v1", "-c", "guess", "1.3.6.1.4.1.8072|127.0.0.1|0|0|") == 0
    assert await send(rx, "snmptrap", *v3(auth="wrong-auth-key"), f"|{LINK_DOWN}") == 0
    assert await send(rx, "snmptrap", *v3(user="mallory"), f"|{LINK_DOWN}") == 0
    assert await send(rx, "snmptrap", *v3(priv="wrong-priv-key"), f"|{LINK_DOWN}") == 0
    await until(lambda: sum(rx.stats.values()) == 5)
    assert rx.stats == {"bad_community": 2, "bad_auth": 2, "unknown_user": 1}
    assert sink.event_log == []
    # ... and the receiver still takes the next good one
    assert await send(rx, "snmptrap", *v3(), f"|{COLD_START}") == 0
    await until(lambda: len(sink.event_log) == 1)


def valid_trap(community: str = COMMUNITY, index: int = 1) -> bytes:
    pdu = api.SNMPv2TrapPDU()
    api.apiTrapPDU.set_defaults(pdu)
    api.apiTrapPDU.set_varbinds(
        pdu,
        [
            (api.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), api.TimeTicks(1234)),
            (api.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"), api.ObjectIdentifier(LINK_DOWN)),
            (api.ObjectIdentifier(f"1.3.6.1.2.1.2.2.1.1.{index}"), api.Integer(index)),
        ],
    )
    msg = api.Message()
    api.apiMessage.set_defaults(msg)
    api.apiMessage.set_community(msg, community)
    api.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


def hostile(rng: random.Random, good: bytes) -> bytes:
    pick = rng.random()
    if pick < 0.3:
        return os.urandom(rng.randint(0, 400))
    if pick < 0.6:
        return good[: rng.randint(0, len(good) - 1)]  # truncated
    data = bytearray(good)
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


async def blast(rx: TrapReceiver, datagrams: list[bytes], pace: int = 200) -> None:
    assert rx.address is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, data in enumerate(datagrams):
            s.sendto(data, rx.address)
            if i % pace == pace - 1:
                await asyncio.sleep(0.01)  # let the receiver read (bounded, not a load test)


async def test_fuzz_then_the_next_valid_trap_is_decoded(receiver) -> None:
    rx, sink = receiver
    rng = random.Random(20240601)
    good = valid_trap()
    junk = [hostile(rng, good) for _ in range(3000)] + [b"\x30" * 20_000]  # last one oversized
    await blast(rx, junk)
    await until(lambda: sum(rx.stats.values()) >= len(junk), timeout=30)
    assert rx.stats["malformed"] > 1000
    assert rx.stats["oversized"] == 1
    before = len(sink.event_log)  # a mutated value can still be a valid trap
    await blast(rx, [valid_trap(index=99)])
    await until(lambda: len(sink.event_log) == before + 1)
    assert sink.event_log[-1].subject == "ifIndex 99"


async def test_burst_is_queued_without_loss(receiver) -> None:
    rx, sink = receiver
    traps = [valid_trap(index=i) for i in range(1000)]
    await blast(rx, traps, pace=500)
    await until(lambda: len(sink.event_log) == 1000, timeout=30)
    assert rx.stats == {"accepted": 1000}


async def test_queue_overflow_is_counted_and_receiver_recovers() -> None:
    cfg = Traps.model_validate(
        {"listen": "127.0.0.1:0", "communities": [COMMUNITY], "queue_size": 50}
    )
    sink = MemorySink()
    rx = TrapReceiver(cfg, sink)
    await rx.start()  # bound and receiving, but nothing decodes yet: a stalled consumer
    await blast(rx, [valid_trap(index=i) for i in range(80)], pace=1000)
    await until(lambda: len(rx.queue) + rx.stats.get("queue_full", 0) == 80)
    stop = asyncio.Event()
    task = asyncio.create_task(rx.run(stop))
    await until(lambda: len(sink.event_log) == 50)
    assert rx.stats == {"queue_full": 30, "accepted": 50}
    await blast(rx, [valid_trap(index=500)])
    await until(lambda: len(sink.event_log) == 51)
    stop.set()
    await asyncio.wait_for(task, 5)
