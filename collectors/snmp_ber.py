"""A lean BER codec for SNMP v1/v2c messages: the poller's fast path for GET and GETBULK.

pysnmp decodes every response through pyasn1, which builds several Python objects per
varbind (about 100 us each on this machine); this decodes a response straight into tuples:
``(oid, tag, value)`` with ``oid`` a tuple of ints, ``tag`` the BER tag byte (``INTEGER``,
``COUNTER32``, ... below) and ``value`` an int, bytes (OCTET STRING, Opaque, IpAddress), a
tuple (OBJECT IDENTIFIER) or None (NULL, noSuchObject, noSuchInstance, endOfMibView).

Only what a community-based manager reads is here: message = SEQUENCE {version, community,
PDU}; PDU = [tag] {request-id, error-status, error-index, varbind list}. v3 (USM security),
traps and everything else stay on pysnmp.

Contract: ``decode_message`` returns a ``Message`` or raises ``BerError`` (a ValueError) whose
text says what is wrong and at which byte; it raises nothing else, whatever the bytes
(hypothesis tests feed it random and truncated packets). Values must fit their SNMP type
(Integer32, the 32-bit unsigned types, Counter64, a 4-byte IpAddress); the one leniency is an
unsigned value sent without its leading zero byte (a common agent bug), read as unsigned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IPADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
GET, GETNEXT, RESPONSE, SET, GETBULK = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5
V1, V2C = 0, 1
TYPE_NAMES = {
    INTEGER: "INTEGER",
    OCTET_STRING: "OCTET STRING",
    NULL: "NULL",
    OID: "OBJECT IDENTIFIER",
    IPADDRESS: "IpAddress",
    COUNTER32: "Counter32",
    GAUGE32: "Gauge32",
    TIMETICKS: "TimeTicks",
    OPAQUE: "Opaque",
    COUNTER64: "Counter64",
    NO_SUCH_OBJECT: "noSuchObject",
    NO_SUCH_INSTANCE: "noSuchInstance",
    END_OF_MIB_VIEW: "endOfMibView",
}
# RFC 3416 error-status names (as pysnmp prints them: the walk looks for "tooBig").
ERROR_STATUS = (
    "noError tooBig noSuchName badValue readOnly genErr noAccess wrongType wrongLength "
    "wrongEncoding wrongValue noCreation inconsistentValue resourceUnavailable commitFailed "
    "undoFailed authorizationError notWritable inconsistentName"
).split()
_UNSIGNED_MAX = {COUNTER32: 2**32 - 1, GAUGE32: 2**32 - 1, TIMETICKS: 2**32 - 1}
_UNSIGNED_MAX[COUNTER64] = 2**64 - 1
_EMPTY = frozenset((NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW))
_BYTES = frozenset((OCTET_STRING, OPAQUE))
Oid = tuple[int, ...]
VarBind = tuple[Oid, int, Any]


class BerError(ValueError):
    """Bytes that are not a well-formed SNMP message (the text says what and where)."""


class Message(NamedTuple):
    version: int
    community: bytes
    pdu: int  # the PDU's tag: RESPONSE for an agent's answer
    request_id: int
    error_status: int  # non_repeaters in a GETBULK request
    error_index: int  # max_repetitions in a GETBULK request
    varbinds: list[VarBind]


# -- decoding ---------------------------------------------------------------------------------


def _header(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``, which must end by ``end``."""
    if pos + 2 > end:
        raise BerError(f"truncated {what} at byte {pos}")
    at, tag, n = pos, data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise BerError(f"{what}: multi-byte tag at byte {pos} (not SNMP)")
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise BerError(f"{what}: indefinite length at byte {pos - 2} (not SNMP)")
        if k > 4:
            raise BerError(f"{what}: bad length of length ({k}) at byte {at}")
        if pos + k > end:
            raise BerError(f"truncated {what} at byte {at} (in its length)")
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError(f"truncated {what} at byte {at}: {n} bytes announced, {end - pos} there")
    return tag, pos, pos + n


def _int(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    tag, s, e = _header(data, pos, end, what)
    if tag != INTEGER:
        raise BerError(f"{what}: INTEGER expected at byte {pos}, tag 0x{tag:02x}")
    value = int.from_bytes(data[s:e], "big", signed=True)
    if e == s or not -(2**31) <= value < 2**31:
        raise BerError(f"{what}: INTEGER of {e - s} bytes out of Integer32's range at byte {pos}")
    return value, e


def decode_oid(chunk: bytes) -> Oid:
    """The content of an OBJECT IDENTIFIER (without tag and length)."""
    if not chunk:
        raise BerError("empty OBJECT IDENTIFIER")
    if chunk.isascii():  # every sub-identifier below 128: one byte each (nearly always)
        first = chunk[0]
        head = (first // 40, first % 40) if first < 80 else (2, first - 80)
        return head + tuple(chunk[1:])
    if chunk[-1] & 0x80:
        raise BerError("OBJECT IDENTIFIER ends inside a sub-identifier")
    subids: list[int] = []
    value, start = 0, True
    for byte in chunk:
        if start and byte == 0x80:
            raise BerError("OBJECT IDENTIFIER: sub-identifier with a leading 0x80 byte")
        value = (value << 7) | (byte & 0x7F)
        start = not byte & 0x80
        if start:
            subids.append(value)
            value = 0
    first = subids[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return head + tuple(subids[1:])


def _value(tag: int, data: bytes, s: int, e: int, pos: int) -> Any:
    if tag == INTEGER:
        value = int.from_bytes(data[s:e], "big", signed=True)
        if e == s or not -(2**31) <= value < 2**31:  # (pyasn1 sends -2**31 in 5 bytes)
            raise BerError(f"INTEGER of {e - s} bytes out of Integer32's range at byte {pos}")
        return value
    if tag in _BYTES:
        return data[s:e]
    if tag in _UNSIGNED_MAX:
        value = int.from_bytes(data[s:e], "big")
        if e == s or value > _UNSIGNED_MAX[tag]:
            raise BerError(f"{TYPE_NAMES[tag]} out of range ({e - s} bytes) at byte {pos}")
        return value
    if tag == OID:
        return decode_oid(data[s:e])
    if tag in _EMPTY:
        if e != s:
            raise BerError(f"{TYPE_NAMES[tag]} with {e - s} bytes of content at byte {pos}")
        return None
    if tag == IPADDRESS:
        if e - s != 4:
            raise BerError(f"IpAddress of {e - s} bytes at byte {pos}")
        return data[s:e]
    raise BerError(f"unsupported value type 0x{tag:02x} at byte {pos}")


def _varbinds(data: bytes, pos: int, end: int) -> list[VarBind]:
    out: list[VarBind] = []
    append = out.append
    while pos < end:
        # SEQUENCE { name OBJECT IDENTIFIER, value }; short lengths decoded inline (hot loop)
        if data[pos] != SEQUENCE:
            raise BerError(f"varbind: SEQUENCE expected at byte {pos}, tag 0x{data[pos]:02x}")
        if pos + 1 < end and data[pos + 1] < 0x80:
            vs, ve = pos + 2, pos + 2 + data[pos + 1]
            if ve > end:
                raise BerError(f"truncated varbind at byte {pos}")
        else:
            _, vs, ve = _header(data, pos, end, "varbind")
        if vs + 1 < ve and data[vs] == OID and data[vs + 1] < 0x80:
            ns, ne = vs + 2, vs + 2 + data[vs + 1]
            if ne > ve:
                raise BerError(f"truncated varbind name at byte {vs}")
        else:
            tag, ns, ne = _header(data, vs, ve, "varbind name")
            if tag != OID:
                raise BerError(f"varbind name: OID expected at byte {vs}, tag 0x{tag:02x}")
        name = decode_oid(data[ns:ne])
        if ne + 1 < ve and data[ne + 1] < 0x80:
            tag, s, e = data[ne], ne + 2, ne + 2 + data[ne + 1]
            if tag & 0x1F == 0x1F:
                raise BerError(f"varbind value: multi-byte tag at byte {ne} (not SNMP)")
        else:
            tag, s, e = _header(data, ne, ve, "varbind value")
        if e > ve:
            raise BerError(f"truncated varbind value at byte {ne}")
        if e < ve:
            raise BerError(f"varbind at byte {pos}: {ve - e} bytes after its value")
        append((name, tag, _value(tag, data, s, e, ne)))
        pos = ve
    return out


def decode_message(data: bytes) -> Message:
    """A whole SNMP v1/v2c message (one datagram). Raises BerError, nothing else."""
    try:
        return _decode(data)
    except BerError:
        raise
    except Exception as exc:  # a case the checks above missed: still an answer, not a crash
        raise BerError(f"malformed message ({exc.__class__.__name__}: {exc})") from None


def _decode(data: bytes) -> Message:
    data = bytes(data)
    tag, pos, end = _header(data, 0, len(data), "message")
    if tag != SEQUENCE:
        raise BerError(f"message: SEQUENCE expected, tag 0x{tag:02x}")
    if end != len(data):
        raise BerError(f"message: {len(data) - end} bytes after its end")
    version, pos = _int(data, pos, end, "version")
    if version not in (V1, V2C):
        raise BerError(f"version {version} (v1/v2c only; v3 goes through pysnmp)")
    tag, s, pos = _header(data, pos, end, "community")
    if tag != OCTET_STRING:
        raise BerError(f"community: OCTET STRING expected, tag 0x{tag:02x}")
    community = data[s:pos]
    pdu, pos, pdu_end = _header(data, pos, end, "PDU")
    if pdu not in (GET, GETNEXT, RESPONSE, SET, GETBULK):
        raise BerError(f"PDU type 0x{pdu:02x} not handled here")
    if pdu_end != end:
        raise BerError(f"message: {end - pdu_end} bytes after the PDU")
    request_id, pos = _int(data, pos, pdu_end, "request-id")
    error_status, pos = _int(data, pos, pdu_end, "error-status")
    error_index, pos = _int(data, pos, pdu_end, "error-index")
    tag, pos, vb_end = _header(data, pos, pdu_end, "varbind list")
    if tag != SEQUENCE:
        raise BerError(f"varbind list: SEQUENCE expected, tag 0x{tag:02x}")
    if vb_end != pdu_end:
        raise BerError(f"PDU: {pdu_end - vb_end} bytes after the varbind list")
    varbinds = _varbinds(data, pos, vb_end)
    return Message(version, community, pdu, request_id, error_status, error_index, varbinds)


# -- encoding ---------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _signed(value: int) -> bytes:
    """Two's complement in the fewest bytes (BER's minimal INTEGER)."""
    return value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "big", signed=True)


def encode_oid(oid: Sequence[int]) -> bytes:
    """The content of an OBJECT IDENTIFIER (at least two arcs, the first 0-2)."""
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise ValueError(f"not an OID: {oid!r}")
    out = bytearray()
    for i, sub in enumerate((oid[0] * 40 + oid[1], *oid[2:])):
        if sub < 0:
            raise ValueError(f"not an OID: {oid!r} (arc {i})")
        if sub < 0x80:
            out.append(sub)
            continue
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def encode_value(tag: int, value: Any) -> bytes:
    """One value as a TLV (the inverse of what ``decode_message`` gives)."""
    if tag == INTEGER:
        return tlv(tag, _signed(value))
    if tag in _UNSIGNED_MAX:
        return tlv(tag, _signed(value))  # a leading zero byte when the top bit is set
    if tag == OID:
        return tlv(tag, encode_oid(value))
    if tag in _EMPTY:
        return bytes((tag, 0))
    return tlv(tag, bytes(value))  # OCTET STRING, Opaque, IpAddress


def encode_message(
    version: int,
    community: bytes,
    pdu: int,
    request_id: int,
    varbinds: Iterable[tuple[Sequence[int], int, Any]],
    error_status: int = 0,
    error_index: int = 0,
) -> bytes:
    """A message; for GETBULK, ``error_status`` is non-repeaters, ``error_index`` max-reps."""
    vbs = b"".join(
        tlv(SEQUENCE, tlv(OID, encode_oid(oid)) + encode_value(tag, value))
        for oid, tag, value in varbinds
    )
    body = b"".join(
        (
            tlv(INTEGER, _signed(request_id)),
            tlv(INTEGER, _signed(error_status)),
            tlv(INTEGER, _signed(error_index)),
            tlv(SEQUENCE, vbs),
        )
    )
    head = tlv(INTEGER, _signed(version)) + tlv(OCTET_STRING, community)
    return tlv(SEQUENCE, head + tlv(pdu, body))


def request(
    version: int,
    community: bytes,
    pdu: int,
    request_id: int,
    oids: Iterable[Sequence[int]],
    *,
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A GET/GETNEXT/GETBULK request: every varbind's value is NULL."""
    return encode_message(
        version,
        community,
        pdu,
        request_id,
        ((oid, NULL, None) for oid in oids),
        non_repeaters,
        max_repetitions,
    )
