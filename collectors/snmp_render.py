"""SNMP values as plain data that every database stores, for every type of every version.

``render(value)`` decides by the value's ASN.1 tag, not its Python class: a v1 trap's
agent-addr arrives as SMIv1's ``IpAddress`` (RFC 1155), a different class from SMIv2's with
the same tag, and must still become ``"127.0.0.1"``. It returns:

- ``int`` for INTEGER, Counter32, Gauge32/Unsigned32, TimeTicks (hundredths), Counter64;
- ``str`` for an IpAddress (dotted quad), an OBJECT IDENTIFIER (dotted), an OCTET STRING that
  is printable UTF-8 (trailing NULs dropped, as agents written in C send them);
- ``"0x..."`` hex for any other OCTET STRING, an Opaque, an NsapAddress, a malformed address;
  a net-snmp Opaque float or double becomes a ``float``;
- ``None`` for NULL, noSuchObject, noSuchInstance, endOfMibView and a value with no value.

It never raises and never returns text with NUL or invalid UTF-8.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from pyasn1.type import tag, univ

from threenines.core.clean import clean_text

_APP = tag.tagClassApplication


def _app(n: int) -> tag.Tag:
    return tag.Tag(_APP, tag.tagFormatSimple, n)


IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, NSAP, COUNTER64, UINTEGER32 = (
    _app(n) for n in range(8)
)
_NUMBERS = {COUNTER32, GAUGE32, TIMETICKS, COUNTER64, UINTEGER32}
# net-snmp wraps floats in an Opaque: 9f 78 04 <4 bytes> (float), 9f 79 08 <8 bytes> (double)
_OPAQUE_FLOATS = {b"\x9f\x78\x04": ">f", b"\x9f\x79\x08": ">d"}


def render(value: Any) -> int | float | str | None:
    """A stored form of one SNMP value (see the module docstring); never raises."""
    try:
        return _render(value)
    except Exception:  # a value pyasn1 cannot read back: say what it was
        return f"({type(value).__name__})"


def _render(value: Any) -> int | float | str | None:
    if isinstance(value, univ.Choice):  # SMIv1 NetworkAddress, ObjectSyntax, ...
        return _render(value.getComponent()) if value.getName() else None
    if not isinstance(value, univ.Null | univ.Integer | univ.OctetString | univ.ObjectIdentifier):
        return clean_text(str(value))[:500] if value is not None else None
    if isinstance(value, univ.Null) or not value.hasValue():
        return None  # NULL and noSuchObject/noSuchInstance/endOfMibView (tagged NULLs)
    base = value.tagSet[-1] if value.tagSet else None
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(x) for x in value.asTuple())
    raw = bytes(value.asOctets())
    if base == IP_ADDRESS:
        return ".".join(str(b) for b in raw) if len(raw) == 4 else _hex(raw)
    if base in _NUMBERS:  # a number sent as an OCTET STRING by a broken agent
        return int.from_bytes(raw, "big") if raw else None
    if base == OPAQUE:
        return _opaque(raw)
    if base == NSAP:
        return _hex(raw)
    return text_or_hex(raw)


def text_or_hex(raw: bytes) -> str:
    """``raw`` as text when it is printable UTF-8 (trailing NULs dropped), else ``0x`` hex."""
    trimmed = raw.rstrip(b"\x00")
    try:
        text = trimmed.decode("utf-8")
    except UnicodeDecodeError:
        return _hex(raw)
    if all(c.isprintable() or c in "\t\r\n" for c in text):
        return text
    return _hex(raw)


def _opaque(raw: bytes) -> float | str:
    fmt = _OPAQUE_FLOATS.get(raw[:3])
    if fmt is not None and len(raw) == 3 + struct.calcsize(fmt):
        (number,) = struct.unpack(fmt, raw[3:])
        if math.isfinite(number):
            return float(number)
    return _hex(raw)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()
