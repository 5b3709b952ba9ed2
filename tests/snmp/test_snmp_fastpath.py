"""The v2c fast path (``snmp_ber`` over one UDP socket) against real net-snmp agents: the same
GETs and walks as through pysnmp, value for value and type for type; v3 still on pysnmp;
truncated and corrupted answers from the agent give a clear ``protocol`` error, never a crash."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr
from snmpd_lab import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, snmpd_factory

from threenines.collectors import snmp_ber as ber
from threenines.collectors.config import V3, V2c
from threenines.collectors.snmp_client import SnmpClient, SnmpError

__all__ = ["snmpd_factory"]
pytestmark = [pytest.mark.snmpd]
LAB = "1.3.6.1.4.1.99999"  # served by the pass_persist agent: every type, fixed values
LAB_VALUES: dict[str, tuple[str, Any]] = {
    f"{LAB}.1.1": ("integer", -42),
    f"{LAB}.1.2": ("integer", 2**31 - 1),
    f"{LAB}.1.3": ("string", "ge-0/0/1 \u00e9"),
    f"{LAB}.1.4": ("string", ""),
    f"{LAB}.1.5": ("gauge", 2**32 - 1),
    f"{LAB}.1.6": ("counter", 2**31),
    f"{LAB}.1.7": ("counter64", 2**64 - 1),
    f"{LAB}.1.8": ("timeticks", 123456),
    f"{LAB}.1.9": ("objectid", ".1.3.6.1.4.1.2021.300.70000"),
    f"{LAB}.1.10": ("ipaddress", "192.0.2.200"),
    f"{LAB}.1.11": ("octet", "00 ff 10 80"),
    f"{LAB}.1.12": ("opaque", "9f 78 04 3f 80 00 00"),
    f"{LAB}.2.300.1": ("integer", 0),
}
COLUMNS = [  # ifTable, ifXTable (Counter64), ipAddrTable (IpAddress), system, UCD (2021)
    "1.3.6.1.2.1.2.2.1",
    "1.3.6.1.2.1.31.1.1.1",
    "1.3.6.1.2.1.4.20.1",
    "1.3.6.1.2.1.1",
    "1.3.6.1.4.1.2021",
]


def v2c(community: str = COMMUNITY) -> V2c:
    return V2c(version="v2c", community=SecretStr(community))


async def clients(port: int, creds: Any = None) -> tuple[SnmpClient, SnmpClient]:
    fast, slow = SnmpClient(), SnmpClient(fast=False)
    for client in (fast, slow):
        await client.add_device("d", "127.0.0.1", port, creds or v2c(), 2.0, 1)
    return fast, slow


async def test_walks_and_gets_match_pysnmp_value_for_value(snmpd_factory) -> None:
    agent = snmpd_factory(passed={LAB: "add"})
    agent.set_values(LAB_VALUES)
    fast, slow = await clients(agent.port)
    try:
        # The lab subtree does not change: every varbind identical, and as net-snmp prints it.
        mine = await fast.walk("d", [LAB], typed=True)
        assert mine == await slow.walk("d", [LAB], typed=True)
        assert len(mine[LAB]) == len(LAB_VALUES) == len(agent.walk_values(LAB))
        assert fast.v2c.sent and not slow.v2c.sent
        tags = {tag for tag, _v in mine[LAB].values()}
        assert tags >= {ber.INTEGER, ber.OCTET_STRING, ber.GAUGE32, ber.COUNTER32, ber.OID}
        assert tags >= {ber.COUNTER64, ber.TIMETICKS, ber.IPADDRESS, ber.OPAQUE}
        assert mine[LAB]["1.9"] == (ber.OID, (1, 3, 6, 1, 4, 1, 2021, 300, 70000))
        assert mine[LAB]["1.7"] == (ber.COUNTER64, 2**64 - 1)
        assert mine[LAB]["1.11"] == (ber.OCTET_STRING, b"\x00\xff\x10\x80")
        assert (await fast.walk("d", [LAB]))[LAB]["1.10"] == "192.0.2.200"
        # What the agent itself serves changes (counters, uptimes): fast, pysnmp, fast again;
        # every varbind the two fast walks agree on, pysnmp must give the same; and the same
        # type wherever both have the OID.
        for reps in (25, 3):
            a = await fast.walk("d", COLUMNS, reps, typed=True)
            b = await slow.walk("d", COLUMNS, reps, typed=True)
            c = await fast.walk("d", COLUMNS, reps, typed=True)
            for col in COLUMNS:
                stable = {i: v for i, v in a[col].items() if c[col].get(i) == v}
                assert len(stable) > len(a[col]) / 2 > 0, col
                assert {i: b[col].get(i) for i in stable} == stable, col
                assert all(b[col][i][0] == a[col][i][0] for i in a[col].keys() & b[col].keys())
        oids = [
            "1.3.6.1.2.1.1.1.0",  # sysDescr
            "1.3.6.1.2.1.1.2.0",  # sysObjectID
            "1.3.6.1.2.1.1.99.0",  # noSuchObject
            "1.3.6.1.2.1.1.1.5",  # noSuchInstance
            f"{LAB}.1.3",
            f"{LAB}.1.12",
        ]
        got = await fast.get("d", oids, typed=True)
        assert got == await slow.get("d", oids, typed=True)
        assert [got[o][0] for o in oids[2:4]] == [ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE]
        assert (await fast.get("d", oids))["1.3.6.1.2.1.1.1.0"] == agent.value(oids[0]).strip('"')
        past_the_end = [(2, 99)]
        end = await fast.bulk_varbinds("d", past_the_end, 2)
        assert end == await slow.bulk_varbinds("d", past_the_end, 2)
        assert [tag for _o, tag, _v in end] == [ber.END_OF_MIB_VIEW]
    finally:
        fast.close()
        slow.close()


async def test_v3_stays_on_pysnmp(snmpd_factory) -> None:
    agent = snmpd_factory()
    creds = V3.model_validate(
        {"version": "v3", "user": V3_USER, "auth_key": V3_AUTH, "priv_key": V3_PRIV}
    )
    v3, _unused = await clients(agent.port, creds)
    fast, _slow = await clients(agent.port)
    try:
        names = ["1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.3"]  # ifName, ifType
        assert await v3.walk("d", names, typed=True) == await fast.walk("d", names, typed=True)
        assert v3.v2c.sent == 0 and fast.v2c.sent > 0
    finally:
        for client in (v3, _unused, fast, _slow):
            client.close()


class Mangler(asyncio.DatagramProtocol):
    """Between the client and snmpd: forwards each request, mangles each answer."""

    def __init__(self, agent: tuple[str, int], mangle: Callable[[bytes], bytes]):
        self.agent, self.mangle = agent, mangle
        self.client: tuple[str, int] | None = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr == self.agent:
            if self.client is not None:
                self.transport.sendto(self.mangle(data), self.client)
        else:
            self.client = addr
            self.transport.sendto(data, self.agent)


def _with_id(data: bytes, delta: int) -> bytes:
    msg = ber.decode_message(data)
    return ber.encode_message(
        msg.version, msg.community, msg.pdu, msg.request_id + delta, msg.varbinds
    )


def _with_tag(data: bytes) -> bytes:
    msg = ber.decode_message(data)
    vbs = [*msg.varbinds[:-1], (msg.varbinds[-1][0], 0x47, b"\x01")]
    return ber.encode_message(msg.version, msg.community, msg.pdu, msg.request_id, vbs)


def _with_community(data: bytes) -> bytes:
    msg = ber.decode_message(data)
    return ber.encode_message(msg.version, b"other", msg.pdu, msg.request_id, msg.varbinds)


MANGLES: dict[str, tuple[Callable[[bytes], bytes], str, str]] = {
    "truncated by one": (lambda d: d[:-1], "protocol", "malformed response: truncated"),
    "truncated to half": (lambda d: d[: len(d) // 2], "protocol", "malformed response"),
    "header only": (lambda d: d[:2], "protocol", "malformed response: truncated"),
    "trailing garbage": (lambda d: d + b"\x00", "protocol", "bytes after its end"),
    "a value of no SNMP type": (_with_tag, "protocol", "unsupported value type 0x47"),
    "one byte": (lambda d: d[:1], "protocol", "truncated message at byte 0"),
    "another community": (_with_community, "protocol", "another community"),
    "another request-id": (lambda d: _with_id(d, 1), "timeout", "no response"),
}


@pytest.mark.parametrize("how", list(MANGLES))
async def test_mangled_answers_are_a_clear_error(snmpd_factory, how: str) -> None:
    agent = snmpd_factory()
    mangle, code, text = MANGLES[how]
    loop = asyncio.get_running_loop()
    transport, _proto = await loop.create_datagram_endpoint(
        lambda: Mangler(("127.0.0.1", agent.port), mangle),
        local_addr=("127.0.0.1", 0),
        family=socket.AF_INET,
    )
    port = transport.get_extra_info("sockname")[1]
    client = SnmpClient()
    await client.add_device("d", "127.0.0.1", port, v2c(), 0.3, 1)
    try:
        for call in (
            client.get("d", ["1.3.6.1.2.1.1.1.0"]),
            client.walk("d", ["1.3.6.1.2.1.2.2.1.2"]),
        ):
            with pytest.raises(SnmpError) as err:
                await call
            assert err.value.code == code, err.value
            assert text in str(err.value)
        assert client.v2c.dropped >= 2  # tries included
    finally:
        client.close()
        transport.close()
