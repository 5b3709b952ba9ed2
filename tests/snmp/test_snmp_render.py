"""Every SNMP type renders to plain, storable data; a bounded fuzz of values and whole traps."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import encoder
from pyasn1.type import univ
from pysnmp.proto import rfc1155, rfc1902, rfc1905
from pysnmp.proto.api import v1 as api1
from pysnmp.proto.api import v2c as api2
from test_snmp_traps import COMMUNITY

from threenines.collectors.config import Traps
from threenines.collectors.sink import MemorySink
from threenines.collectors.snmp_render import render
from threenines.collectors.snmp_traps import TrapReceiver

FLOAT, DOUBLE = b"\x9f\x78\x04", b"\x9f\x79\x08"
CASES: list[tuple[Any, Any]] = [
    (rfc1902.IpAddress("10.1.2.3"), "10.1.2.3"),
    (rfc1155.IpAddress(b"\x7f\x00\x00\x01"), "127.0.0.1"),  # a v1 trap's agent-addr
    (rfc1155.NetworkAddress().setComponentByPosition(0, rfc1155.IpAddress("1.2.3.4")), "1.2.3.4"),
    (rfc1902.OctetString(b"ge-0/0/3"), "ge-0/0/3"),
    (rfc1902.OctetString(b"sysDescr\x00\x00"), "sysDescr"),  # C agents' trailing NUL
    (rfc1902.OctetString("héllo".encode()), "héllo"),
    (rfc1902.OctetString(b"\x00\x1a\x2b\xff"), "0x001a2bff"),  # a MAC address
    (rfc1902.OctetString(b"a\x00b"), "0x610062"),
    (rfc1902.OctetString(b"\xc3\x28"), "0xc328"),  # invalid UTF-8
    (rfc1902.OctetString(b""), ""),
    (rfc1902.Opaque(FLOAT + struct.pack(">f", 1.5)), 1.5),
    (rfc1902.Opaque(DOUBLE + struct.pack(">d", -2.25)), -2.25),
    (rfc1902.Opaque(b"\x01\x02"), "0x0102"),
    (rfc1902.Counter64(2**64 - 1), 2**64 - 1),
    (rfc1902.Counter32(7), 7),
    (rfc1902.Gauge32(4_000_000_000), 4_000_000_000),
    (rfc1902.Unsigned32(3), 3),
    (rfc1902.TimeTicks(123456), 123456),
    (rfc1902.Integer32(-5), -5),
    (rfc1902.ObjectIdentifier("1.3.6.1.6.3.1.1.5.3"), "1.3.6.1.6.3.1.1.5.3"),
    (rfc1902.Bits(b"\x80"), "0x80"),
    (univ.Null(""), None),
    (rfc1905.NoSuchObject(""), None),
    (rfc1905.NoSuchInstance(""), None),
    (rfc1905.EndOfMibView(""), None),
    (rfc1902.OctetString(), None),  # no value at all
]


@pytest.mark.parametrize(("value", "expected"), CASES, ids=[type(v).__name__ for v, _ in CASES])
def test_every_type_renders(value: Any, expected: Any) -> None:
    assert render(value) == expected


def clean(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(clean(k) and clean(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(clean(v) for v in value)
    return value is None or isinstance(value, int | float)


u32 = st.integers(0, 2**32 - 1)
oids = st.lists(u32, max_size=12).map(lambda t: univ.ObjectIdentifier((1, 3, *t)))
V2_VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(rfc1902.Integer32),
    u32.map(rfc1902.Counter32), u32.map(rfc1902.Gauge32), u32.map(rfc1902.TimeTicks),
    st.integers(0, 2**64 - 1).map(rfc1902.Counter64),
    st.binary(max_size=80).map(rfc1902.OctetString),
    st.text(max_size=40).map(lambda s: rfc1902.OctetString(s.encode("utf-8", "surrogatepass"))),
    st.binary(min_size=4, max_size=4).map(rfc1902.IpAddress),
    st.binary(max_size=16).map(rfc1902.Opaque),
    st.floats(width=32).map(lambda f: rfc1902.Opaque(FLOAT + struct.pack(">f", f))),
    oids, st.just(univ.Null("")), st.just(rfc1905.NoSuchInstance("")),
)  # fmt: skip
V1_VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(api1.Integer),
    st.binary(max_size=80).map(api1.OctetString),
    st.binary(min_size=4, max_size=4).map(api1.IpAddress),
    u32.map(api1.Counter), u32.map(api1.TimeTicks), oids,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(V2_VALUES)
def test_render_never_raises_and_is_always_clean(value: Any) -> None:
    assert clean(render(value))


def v2c_trap(varbinds: list[tuple[tuple[int, ...], Any]]) -> bytes:
    pdu = api2.SNMPv2TrapPDU()
    api2.apiTrapPDU.set_defaults(pdu)
    head = [(api2.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), api2.TimeTicks(1)),
            (api2.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"),
             api2.ObjectIdentifier("1.3.6.1.6.3.1.1.5.3"))]  # fmt: skip
    api2.apiTrapPDU.set_varbinds(pdu, head + [(api2.ObjectIdentifier(o), v) for o, v in varbinds])
    msg = api2.Message()
    api2.apiMessage.set_defaults(msg)
    api2.apiMessage.set_community(msg, COMMUNITY)
    api2.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def v1_trap(agent: bytes, specific: int, varbinds: list[tuple[tuple[int, ...], Any]]) -> bytes:
    pdu = api1.TrapPDU()
    api1.apiTrapPDU.set_defaults(pdu)
    api1.apiTrapPDU.set_enterprise(pdu, (1, 3, 6, 1, 4, 1, 8072))
    api1.apiTrapPDU.set_agent_address(pdu, api1.IpAddress(agent))
    api1.apiTrapPDU.set_generic_trap(pdu, 6)
    api1.apiTrapPDU.set_specific_trap(pdu, specific)
    api1.apiTrapPDU.set_varbinds(pdu, [(api1.ObjectIdentifier(o), v) for o, v in varbinds])
    msg = api1.Message()
    api1.apiMessage.set_defaults(msg)
    api1.apiMessage.set_community(msg, COMMUNITY)
    api1.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


index = st.lists(u32, min_size=1, max_size=3).map(tuple)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)  # ifName: becomes the event's subject


async def test_whole_traps_of_any_content_decode_to_clean_events() -> None:
    cfg = Traps.model_validate({"listen": "127.0.0.1:0", "communities": [COMMUNITY]})
    sink = MemorySink()
    rx = TrapReceiver(cfg, sink)
    await rx.start()
    v2 = st.lists(st.tuples(index.map(lambda i: IF_NAME + i), V2_VALUES), max_size=6)
    v1 = st.tuples(st.binary(min_size=4, max_size=4), st.integers(0, 2**31 - 1),
                   st.lists(st.tuples(index.map(lambda i: (1, 3, 6, 1, 4, 1, 9, *i)),
                                      V1_VALUES), max_size=6))  # fmt: skip

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(v2.map(v2c_trap), v1.map(lambda a: v1_trap(*a))))
    def decode(datagram: bytes) -> None:
        before = len(sink.event_log)
        assert rx.process(datagram, ("127.0.0.1", 40000)) == "accepted"
        (event,) = sink.event_log[before:]
        assert clean(event.row()) and clean(event.details)

    try:
        decode()
    finally:
        rx.close()
    v1_events = [e for e in sink.event_log if e.details["version"] == "v1"]
    assert v1_events and all(e.details["agent"].count(".") == 3 for e in v1_events)
