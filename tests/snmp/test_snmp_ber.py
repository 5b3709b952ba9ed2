"""The lean BER codec (``snmp_ber``): against pyasn1/pysnmp's own encoder and decoder, and fed
random, truncated and corrupted bytes (it must answer BerError, never raise anything else)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c as api

from threenines.collectors import snmp_ber as ber
from threenines.collectors.snmp_client import V2cEngine, from_pysnmp, plain

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

oids = st.builds(
    lambda first, second, rest: (first, second if first < 2 else second * 7, *rest),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 127), max_size=16),
)
u32 = st.integers(0, 2**32 - 1)
VALUES: dict[int, tuple[Any, Any]] = {  # tag -> (strategy of values, pysnmp type)
    ber.INTEGER: (st.integers(-(2**31), 2**31 - 1), rfc1902.Integer32),
    ber.OCTET_STRING: (st.binary(max_size=300), rfc1902.OctetString),
    ber.NULL: (st.none(), lambda _v: rfc1902.Null("")),
    ber.OID: (oids, rfc1902.ObjectName),
    ber.IPADDRESS: (st.binary(min_size=4, max_size=4), rfc1902.IpAddress),
    ber.COUNTER32: (u32, rfc1902.Counter32),
    ber.GAUGE32: (u32, rfc1902.Gauge32),
    ber.TIMETICKS: (u32, rfc1902.TimeTicks),
    ber.OPAQUE: (st.binary(max_size=40), rfc1902.Opaque),
    ber.COUNTER64: (st.integers(0, 2**64 - 1), rfc1902.Counter64),
    ber.NO_SUCH_OBJECT: (st.none(), lambda _v: rfc1905.NoSuchObject("")),
    ber.NO_SUCH_INSTANCE: (st.none(), lambda _v: rfc1905.NoSuchInstance("")),
    ber.END_OF_MIB_VIEW: (st.none(), lambda _v: rfc1905.EndOfMibView("")),
}
varbind = st.one_of(
    *(st.tuples(oids, st.just(tag), values) for tag, (values, _t) in VALUES.items())
)
varbinds = st.lists(varbind, max_size=40)
request_ids = st.integers(-(2**31), 2**31 - 1)


def pysnmp_response(community: bytes, rid: int, vbs: list[ber.VarBind], status: int = 0) -> bytes:
    """The same response, encoded by pysnmp's proto API and pyasn1's encoder."""
    msg, pdu = api.Message(), api.ResponsePDU()
    api.apiMessage.set_defaults(msg)
    api.apiPDU.set_defaults(pdu)
    api.apiMessage.set_community(msg, community)
    api.apiPDU.set_request_id(pdu, rid)
    api.apiPDU.set_error_status(pdu, status)
    api.apiPDU.set_varbinds(
        pdu, [(rfc1902.ObjectName(oid), VALUES[tag][1](value)) for oid, tag, value in vbs]
    )
    api.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


@FUZZ
@given(st.binary(min_size=3, max_size=30), request_ids, varbinds, st.integers(0, 18))
def test_decodes_what_pysnmp_encodes(community, rid, vbs, status) -> None:
    msg = ber.decode_message(pysnmp_response(community, rid, vbs, status))
    assert (msg.version, msg.community, msg.pdu) == (ber.V2C, community, ber.RESPONSE)
    assert (msg.request_id, msg.error_status, msg.error_index) == (rid, status, 0)
    assert msg.varbinds == [(oid, tag, value) for oid, tag, value in vbs]


@FUZZ
@given(st.binary(min_size=3, max_size=30), request_ids, varbinds, st.integers(0, 18))
def test_encodes_what_pysnmp_decodes(community, rid, vbs, status) -> None:
    data = ber.encode_message(ber.V2C, community, ber.RESPONSE, rid, vbs, status)
    decoded, rest = decoder.decode(data, asn1Spec=api.Message())
    assert rest == b""
    pdu = api.apiMessage.get_pdu(decoded)
    assert int(api.apiPDU.get_request_id(pdu)) == rid
    got = [(tuple(o), *from_pysnmp(v)) for o, v in api.apiPDU.get_varbinds(pdu)]
    assert got == [(oid, tag, value) for oid, tag, value in vbs]


@FUZZ
@given(request_ids.filter(lambda r: r > 0), st.lists(oids, min_size=1, max_size=20))
def test_bulk_request_as_pysnmp_reads_it(rid, names) -> None:
    data = ber.request(ber.V2C, b"public", ber.GETBULK, rid, names, max_repetitions=25)
    decoded, _rest = decoder.decode(data, asn1Spec=api.Message())
    pdu = api.apiMessage.get_pdu(decoded)
    assert pdu.tagSet == api.GetBulkRequestPDU.tagSet
    assert int(api.apiBulkPDU.get_max_repetitions(pdu)) == 25
    assert int(api.apiBulkPDU.get_non_repeaters(pdu)) == 0
    assert [tuple(o) for o, _v in api.apiPDU.get_varbinds(pdu)] == names


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_are_a_message_or_a_ber_error(data) -> None:
    try:
        ber.decode_message(data)
    except ber.BerError as exc:
        assert str(exc)


@FUZZ
@given(request_ids, varbinds.filter(bool), st.data())
def test_every_truncation_is_a_ber_error(rid, vbs, data) -> None:
    packet = ber.encode_message(ber.V2C, b"public", ber.RESPONSE, rid, vbs)
    cut = data.draw(st.integers(0, len(packet) - 1))
    with pytest.raises(ber.BerError):
        ber.decode_message(packet[:cut])


@FUZZ
@given(request_ids, varbinds, st.data())
def test_corrupted_bytes_are_a_message_or_a_ber_error(rid, vbs, data) -> None:
    packet = bytearray(ber.encode_message(ber.V2C, b"public", ber.RESPONSE, rid, vbs))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(packet) - 1))
        packet[at] = data.draw(st.integers(0, 255))
    extra = data.draw(st.binary(max_size=4))
    try:
        msg = ber.decode_message(bytes(packet) + extra)
    except ber.BerError:
        return
    for _oid, tag, value in msg.varbinds:  # what decodes is usable by the poller
        plain(tag, value)


@FUZZ
@given(st.binary(max_size=300))
def test_the_engine_drops_any_datagram_without_raising(data) -> None:
    engine = V2cEngine()
    engine._received(data, ("127.0.0.1", 161))
    engine._received(b"\x30" + bytes([len(data) & 0x7F]) + data, ("127.0.0.1", 161))
    assert engine.dropped == 2


def wrap(vbs: bytes, community: bytes = b"public") -> bytes:
    """A v2c response (request-id 4) around raw varbind bytes."""
    body = bytes.fromhex("020104020100020100") + ber.tlv(ber.SEQUENCE, vbs)
    head = bytes.fromhex("020101") + ber.tlv(ber.OCTET_STRING, community)
    return ber.tlv(ber.SEQUENCE, head + ber.tlv(ber.RESPONSE, body))


def test_net_snmp_encodings() -> None:
    """Bytes as net-snmp sends them: multi-byte sub-identifiers (2021), Counter32 with its
    leading zero byte, long-form lengths; and an unsigned value missing its zero byte."""
    counter = bytes.fromhex("3014060b2b060104018f6506010100410500ffffffff")
    long_string = bytes.fromhex("3081d506082b060102010101000481c8") + b"x" * 200
    msg = ber.decode_message(wrap(counter + long_string))
    assert msg.request_id == 4
    assert msg.varbinds == [
        ((1, 3, 6, 1, 4, 1, 2021, 6, 1, 1, 0), ber.COUNTER32, 2**32 - 1),
        ((1, 3, 6, 1, 2, 1, 1, 1, 0), ber.OCTET_STRING, b"x" * 200),
    ]
    lenient = bytes.fromhex("300f06082b060102010103004303ffffff")
    assert ber.decode_message(wrap(lenient)).varbinds[0][1:] == (ber.TIMETICKS, 0xFFFFFF)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated message at byte 0"),
        (b"\x30\x80\x00\x00", "indefinite length"),
        (b"\x30\x03\x02\x01\x03", "version 3 (v1/v2c only; v3 goes through pysnmp)"),
        (b"\x30\x05\x02\x01\x01\x04\x09", "truncated community at byte 5: 9 bytes announced"),
        (b"\x30\x03\x02\x01\x01\x00", "message: 1 bytes after its end"),
        (b"\x30\x07\x02\x01\x01\x04\x00\xa4\x00", "PDU type 0xa4 not handled here"),
        (wrap(bytes.fromhex("300c06082b060102010103004300")), "TimeTicks out of range"),
        (wrap(bytes.fromhex("300d06082b06010201010300400101")), "IpAddress of 1 bytes"),
        (wrap(bytes.fromhex("300c06082b060102010103004700")), "unsupported value type 0x47"),
        (wrap(bytes.fromhex("300c06082b060102010103ff0500")), "ends inside a sub-identifier"),
        (wrap(bytes.fromhex("300e06082b0601020101030005000500")), "2 bytes after its value"),
        (wrap(bytes.fromhex("301106082b0601020101030002050100000000")), "INTEGER of 5 bytes"),
    ],
)
def test_clear_messages(data: bytes, message: str) -> None:
    with pytest.raises(ber.BerError) as err:
        ber.decode_message(data)
    assert message in str(err.value)
