"""A small SNMP client: GET and column walks; v2c over the lean BER codec, v3 over pysnmp 7.

v1/v2c devices (the fast path): requests are encoded and answers decoded by ``snmp_ber``,
over ONE UDP socket for all devices (``udpsock.DatagramSocket``), answers matched to requests
by request-id (and the device's address and community). pysnmp would decode each answer
through pyasn1, about 100 us per varbind; this is a few us.

v3 devices (and v2c with ``fast=False``): ONE shared pysnmp 7 ``SnmpEngine`` (asyncio), for
its USM security. Why not ``get_cmd``/``bulk_walk_cmd`` from ``pysnmp.hlapi.v3arch.asyncio``:
they re-resolve every request OID through the MIB view (about 0.3 ms per OID) and walk one
column at a time. Here each device is configured once (``LCD.configure``, as hlapi does) and
requests go straight to pysnmp's command generators with numeric OIDs: one GETBULK fetches
many columns of a table at once. The ``threenines snmp`` CLI uses the hlapi calls directly.

Both paths give the same varbinds ``(oid, tag, value)`` (``snmp_ber``'s form; pysnmp's objects
are converted by ``from_pysnmp``), folded by the same walk.

Contract: ``get`` and ``walk`` return Python values (int, str, None for noSuchObject/Instance)
or, with ``typed=True``, ``(tag, value)`` pairs; or raise ``SnmpError`` with a
machine-readable ``code`` (``timeout``, ``auth``, ``protocol``, ``dns``); they never let a
pysnmp or decoding exception escape. A malformed answer is dropped (it cannot be matched to a
request); if no good answer comes, the request fails with ``protocol`` and what was wrong
with the bytes rather than ``timeout``.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from pyasn1.type import univ
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_NONE,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB256_AES,
    USM_PRIV_CFB256_AES_BLUMENTHAL,
    USM_PRIV_NONE,
    CommunityData,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
)
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto import errind, rfc1902

from threenines.collectors import snmp_ber as ber
from threenines.collectors.config import V3, V2c
from threenines.collectors.udpsock import Address, DatagramSocket
from threenines.core.clean import clean_bytes

AUTH = {"SHA": USM_AUTH_HMAC96_SHA, "SHA-256": USM_AUTH_HMAC192_SHA256}
# net-snmp's "AES-256" uses Blumenthal key extension; "AES-256-C" is the Cisco (Reeder) one.
PRIV = {
    "AES": USM_PRIV_CFB128_AES,
    "AES-128": USM_PRIV_CFB128_AES,
    "AES-256": USM_PRIV_CFB256_AES_BLUMENTHAL,
    "AES-256-C": USM_PRIV_CFB256_AES,
}
_AUTH_ERRORS = (
    errind.UnknownUserName,
    errind.WrongDigest,
    errind.DecryptionError,
    errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.NotInTimeWindow,
    errind.UnknownEngineID,
)
Oid = ber.Oid
_NULL = univ.Null("")


class SnmpError(Exception):
    """A failed SNMP exchange. ``code`` is one of ``timeout``, ``auth``, ``protocol``, ``dns``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def auth_data(creds: V2c | V3) -> CommunityData | UsmUserData:
    """pysnmp credentials object for config credentials (the secret is read here only)."""
    if isinstance(creds, V2c):
        return CommunityData(creds.community.get_secret_value(), mpModel=1)
    auth = creds.auth_key.get_secret_value() if creds.auth_key else None
    priv = creds.priv_key.get_secret_value() if creds.priv_key else None
    if creds.level == "noAuthNoPriv":
        return UsmUserData(creds.user, authProtocol=USM_AUTH_NONE, privProtocol=USM_PRIV_NONE)
    if creds.level == "authNoPriv":
        return UsmUserData(creds.user, auth, authProtocol=AUTH[creds.auth_protocol])
    return UsmUserData(
        creds.user,
        auth,
        priv,
        authProtocol=AUTH[creds.auth_protocol],
        privProtocol=PRIV[creds.priv_protocol],
    )


def oid_tuple(oid: str) -> Oid:
    return tuple(int(x) for x in oid.strip(".").split("."))


def from_pysnmp(value: Any) -> tuple[int, Any]:
    """A pysnmp value as ``snmp_ber``'s ``(tag, value)``: the same form as the fast path."""
    tag = value.tagSet[-1]
    code = tag.tagClass | tag.tagFormat | tag.tagId
    if isinstance(value, univ.Null):  # also noSuchObject, noSuchInstance, endOfMibView
        return code, None
    if isinstance(value, univ.Integer):
        return code, int(value)
    if isinstance(value, univ.OctetString):  # also IpAddress, Opaque
        return code, bytes(value)
    if isinstance(value, univ.ObjectIdentifier):
        return code, tuple(value)
    return code, None


def plain(tag: int, value: Any) -> Any:
    """int for numbers, str for strings/OIDs/addresses, None for "no such" and end of MIB.

    The poller's form (strings as text, for matching interface names); traps keep every type
    apart with ``snmp_render.render``."""
    if value is None or isinstance(value, int):
        return value
    if tag == ber.IPADDRESS:
        return socket.inet_ntoa(value)
    if tag == ber.OID:
        return ".".join(map(str, value))
    return clean_bytes(value.rstrip(b"\x00"))  # C agents' trailing NULs dropped, never stored


def to_python(value: Any) -> Any:
    """``plain`` for a pysnmp value."""
    return plain(*from_pysnmp(value))


class V2cTarget(NamedTuple):
    address: Address
    community: bytes
    timeout: float
    retries: int


class V2cEngine:
    """v2c requests over one UDP socket, answers matched by request-id, address, community.

    Each try waits ``timeout``; ``retries`` more tries resend the same packet (same
    request-id: a late answer to an earlier try still counts). A datagram that does not
    decode is dropped and remembered for its address: a request that then gets no good
    answer fails as ``protocol`` with what was wrong, rather than ``timeout``."""

    def __init__(self) -> None:
        self._sock: DatagramSocket | None = None
        self._opening: asyncio.Lock | None = None
        self._pending: dict[int, tuple[asyncio.Future[ber.Message], Address, bytes]] = {}
        self._waiting: dict[Address, int] = {}  # addresses with requests in flight
        self._bad: dict[Address, tuple[float, str]] = {}  # last undecodable datagram
        self._next_id = secrets.randbelow(2**31 - 2) + 1
        self.dropped = 0  # datagrams that matched no request in flight, or did not decode
        self.sent = 0  # datagrams sent (tries included)

    async def _socket(self) -> DatagramSocket:
        if self._sock is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._sock is None:
                    self._sock = await DatagramSocket.open(self._received)
        return self._sock

    def _request_id(self) -> int:
        while True:
            rid = self._next_id
            self._next_id = rid % (2**31 - 1) + 1
            if rid not in self._pending:
                return rid

    async def request(
        self, name: str, t: V2cTarget, pdu: int, oids: Sequence[Oid], max_repetitions: int = 0
    ) -> list[ber.VarBind]:
        sock = await self._socket()
        rid = self._request_id()
        packet = ber.request(ber.V2C, t.community, pdu, rid, oids, max_repetitions=max_repetitions)
        fut: asyncio.Future[ber.Message] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (fut, t.address, t.community)
        self._waiting[t.address] = self._waiting.get(t.address, 0) + 1
        sent = time.monotonic()
        try:
            for _ in range(t.retries + 1):
                sock.sendto(packet, t.address)
                self.sent += 1
                try:
                    msg = await asyncio.wait_for(asyncio.shield(fut), t.timeout)
                    break
                except TimeoutError:
                    continue
            else:
                bad = self._bad.get(t.address)
                if bad is not None and bad[0] >= sent:
                    raise SnmpError("protocol", f"{name}: malformed response: {bad[1]}")
                raise SnmpError("timeout", f"{name}: no response")
        finally:
            del self._pending[rid]
            left = self._waiting.pop(t.address) - 1
            if left:
                self._waiting[t.address] = left
            else:
                self._bad.pop(t.address, None)
        if msg.error_status:
            status = msg.error_status
            text = ber.ERROR_STATUS[status] if 0 < status < len(ber.ERROR_STATUS) else status
            raise SnmpError("protocol", f"{name}: agent error {text}")
        return msg.varbinds

    def _received(self, data: bytes, addr: Address) -> None:
        try:
            msg = ber.decode_message(data)
        except ber.BerError as exc:
            self.dropped += 1
            if addr in self._waiting:  # remembered only for addresses we wait for (bounded)
                self._bad[addr] = (time.monotonic(), str(exc))
            return
        entry = self._pending.get(msg.request_id)
        if entry is None or entry[1] != addr or entry[0].done():
            self.dropped += 1  # stale (answered already, timed out) or not ours
            return
        fut, _addr, community = entry
        why = [f"PDU 0x{msg.pdu:02x}"] if msg.pdu != ber.RESPONSE else []
        why += [f"version {msg.version}"] if msg.version != ber.V2C else []
        why += ["another community"] if msg.community != community else []
        if why:
            self.dropped += 1
            self._bad[addr] = (time.monotonic(), f"not our request's answer ({', '.join(why)})")
            return
        fut.set_result(msg)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class SnmpClient:
    """Owns the shared engines. ``add_device`` once per device, then ``get``/``walk`` by name.

    ``fast=False`` sends v2c through pysnmp too (tests compare both paths)."""

    def __init__(self, engine: SnmpEngine | None = None, *, fast: bool = True):
        self.engine = engine or SnmpEngine()
        self.fast = fast
        self.v2c = V2cEngine()
        self._fast: dict[str, V2cTarget] = {}
        self._targets: dict[str, tuple[str, float]] = {}  # device -> (addrName, deadline)
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGenerator()

    async def add_device(
        self, name: str, address: str, port: int, creds: V2c | V3, timeout: float, retries: int
    ) -> None:
        """Configure ``name``. Raises SnmpError("dns") if it does not resolve."""
        try:
            target = await UdpTransportTarget.create(
                (address, port), timeout=timeout, retries=retries
            )
        except Exception as exc:  # pysnmp wraps resolver errors in its own type
            raise SnmpError(
                "dns", f"{address}: cannot resolve ({exc.__class__.__name__})"
            ) from None
        if self.fast and isinstance(creds, V2c):
            host, resolved_port = target.transport_address[:2]
            community = creds.community.get_secret_value().encode()
            self._fast[name] = V2cTarget((host, resolved_port), community, timeout, retries)
            return
        addr_name, _params = LCD.configure(self.engine, auth_data(creds), target, b"")
        # The engine enforces timeout x retries; this outer deadline only guards against a bug.
        self._targets[name] = (addr_name, timeout * (retries + 1) + 5.0)

    def has_device(self, name: str) -> bool:
        return name in self._fast or name in self._targets

    async def _request(self, name: str, send: Any) -> list[ber.VarBind]:
        addr, deadline = self._targets[name]
        fut: asyncio.Future[tuple[Any, Any, Any]] = asyncio.get_running_loop().create_future()

        def done(_e: Any, _h: Any, indication: Any, status: Any, index: Any, vbs: Any, _c: Any):
            if not fut.done():
                fut.set_result((indication, status, vbs))

        try:
            send(addr, done)
            async with asyncio.timeout(deadline):
                indication, status, vbs = await fut
            if indication:
                if isinstance(indication, errind.RequestTimedOut):
                    raise SnmpError("timeout", f"{name}: no response")
                code = "auth" if isinstance(indication, _AUTH_ERRORS) else "protocol"
                raise SnmpError(code, f"{name}: {indication}")
            if status and int(status):
                raise SnmpError("protocol", f"{name}: agent error {status.prettyPrint()}")
            return [(tuple(oid), *from_pysnmp(value)) for oid, value in vbs]
        except TimeoutError:
            raise SnmpError("timeout", f"{name}: no response (engine deadline)") from None
        except SnmpError:
            raise
        except Exception as exc:  # a pysnmp encoding/config error: report it, never crash
            raise SnmpError("protocol", f"{name}: {exc.__class__.__name__}: {exc}") from None

    async def get_varbinds(self, name: str, oids: list[Oid]) -> list[ber.VarBind]:
        """One GET: the answer's varbinds as they came."""
        fast = self._fast.get(name)
        if fast is not None:
            return await self.v2c.request(name, fast, ber.GET, oids)
        varbinds = [(rfc1902.ObjectName(o), _NULL) for o in oids]

        def send(addr: str, cb: Any) -> None:
            self._get.send_varbinds(self.engine, addr, None, b"", varbinds, cb, None)

        return await self._request(name, send)

    async def bulk_varbinds(self, name: str, oids: list[Oid], reps: int) -> list[ber.VarBind]:
        """One GETBULK (no non-repeaters): the answer's varbinds as they came."""
        fast = self._fast.get(name)
        if fast is not None:
            return await self.v2c.request(name, fast, ber.GETBULK, oids, reps)
        varbinds = [(rfc1902.ObjectName(o), _NULL) for o in oids]

        def send(addr: str, cb: Any) -> None:
            self._bulk.send_varbinds(self.engine, addr, None, b"", 0, reps, varbinds, cb, None)

        return await self._request(name, send)

    async def get(self, name: str, oids: Sequence[str], typed: bool = False) -> dict[str, Any]:
        """GET scalars: ``{oid: value}`` (value None when the agent has no such object)."""
        if not oids:
            return {}
        vbs = await self.get_varbinds(name, [oid_tuple(o) for o in oids])
        if typed:
            return {oid: (vb[1], vb[2]) for oid, vb in zip(oids, vbs, strict=False)}
        return {oid: plain(vb[1], vb[2]) for oid, vb in zip(oids, vbs, strict=False)}

    async def walk(
        self,
        name: str,
        columns: Sequence[str],
        max_repetitions: int = 25,
        max_rows: int = 100_000,
        typed: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Walk table columns together with GETBULK: ``{column_oid: {index: value}}``.

        Each request carries every column still in progress; a column ends when the agent
        returns an OID outside it, endOfMibView, or a non-increasing OID (a broken agent must
        not loop us forever). ``tooBig`` halves the repetitions and retries.
        """
        prefixes = {col: oid_tuple(col) for col in columns}
        out: dict[str, dict[str, Any]] = {col: {} for col in columns}
        last: dict[str, Oid] = dict(prefixes)
        reps = max_repetitions
        while last and sum(len(v) for v in out.values()) < max_rows:
            active = list(last)
            try:
                vbs = await self.bulk_varbinds(name, [last[c] for c in active], reps)
            except SnmpError as exc:
                if "tooBig" in str(exc) and reps > 1:
                    reps = max(1, reps // 2)
                    continue
                raise
            if not vbs:
                break
            _absorb(vbs, active, prefixes, last, out, typed)
        return out

    def close(self) -> None:
        """Close both engines' sockets."""
        self.v2c.close()
        dispatcher = self.engine.transport_dispatcher
        if dispatcher is not None:
            dispatcher.close_dispatcher()


def _absorb(
    vbs: list[ber.VarBind],
    active: list[str],
    prefixes: dict[str, Oid],
    last: dict[str, Oid],
    out: dict[str, dict[str, Any]],
    typed: bool,
) -> None:
    """Fold one GETBULK response (row-major: repetition x column) into ``out``."""
    n = len(active)
    finished: set[str] = set()
    for i, (oid, tag, value) in enumerate(vbs):
        col = active[i % n]
        if col in finished:
            continue
        prefix = prefixes[col]
        if tag == ber.END_OF_MIB_VIEW or oid[: len(prefix)] != prefix or oid <= last[col]:
            finished.add(col)
            continue
        index = ".".join(map(str, oid[len(prefix) :]))
        out[col][index] = (tag, value) if typed else plain(tag, value)
        last[col] = oid
    for col in finished:
        del last[col]
