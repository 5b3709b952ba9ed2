"""A small SNMP client over ONE shared pysnmp 7 ``SnmpEngine`` (asyncio): GET and column walks.

Why not ``get_cmd``/``bulk_walk_cmd`` from ``pysnmp.hlapi.v3arch.asyncio`` on the hot path:
they re-resolve every request OID through the MIB view (about 0.3 ms per OID) and walk one
column at a time. Here each device is configured once (``LCD.configure``, as hlapi does) and
requests go straight to pysnmp's command generators with numeric OIDs: one GETBULK fetches
many columns of a table at once. The ``threenines snmp`` CLI uses the hlapi calls directly.

Contract: ``get`` and ``walk`` return Python values (int, str, None for noSuchObject/Instance)
or raise ``SnmpError`` with a machine-readable ``code`` (``timeout``, ``auth``, ``protocol``);
they never let a pysnmp exception escape.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

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
from pysnmp.proto import errind, rfc1902, rfc1905

from threenines.collectors.config import V3, V2c
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
Oid = tuple[int, ...]
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


def to_python(value: Any) -> Any:
    """int for numbers, str for strings/OIDs/addresses, None for "no such" and end of MIB.

    The poller's form (strings as text, for matching interface names); traps keep every type
    apart with ``snmp_render.render``."""
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, rfc1902.IpAddress):
        return socket.inet_ntoa(bytes(value))
    if isinstance(value, univ.OctetString):  # C agents' trailing NULs dropped, never stored
        return clean_bytes(bytes(value).rstrip(b"\x00"))
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(x) for x in value)
    return None


class SnmpClient:
    """Owns the shared engine. ``add_device`` once per device, then ``get``/``walk`` by name."""

    def __init__(self, engine: SnmpEngine | None = None):
        self.engine = engine or SnmpEngine()
        self._targets: dict[str, tuple[str, float]] = {}  # device -> (addrName, deadline)
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGenerator()

    async def add_device(
        self, name: str, address: str, port: int, creds: V2c | V3, timeout: float, retries: int
    ) -> None:
        """Configure ``name`` in the engine. Raises SnmpError("dns") if it does not resolve."""
        try:
            target = await UdpTransportTarget.create(
                (address, port), timeout=timeout, retries=retries
            )
        except Exception as exc:  # pysnmp wraps resolver errors in its own type
            raise SnmpError(
                "dns", f"{address}: cannot resolve ({exc.__class__.__name__})"
            ) from None
        addr_name, _params = LCD.configure(self.engine, auth_data(creds), target, b"")
        # The engine enforces timeout x retries; this outer deadline only guards against a bug.
        self._targets[name] = (addr_name, timeout * (retries + 1) + 5.0)

    def has_device(self, name: str) -> bool:
        return name in self._targets

    async def _request(self, name: str, send: Any) -> list[tuple[Any, Any]]:
        addr, deadline = self._targets[name]
        fut: asyncio.Future[tuple[Any, Any, Any]] = asyncio.get_running_loop().create_future()

        def done(_e: Any, _h: Any, indication: Any, status: Any, index: Any, vbs: Any, _c: Any):
            if not fut.done():
                fut.set_result((indication, status, vbs))

        try:
            send(addr, done)
            async with asyncio.timeout(deadline):
                indication, status, vbs = await fut
        except TimeoutError:
            raise SnmpError("timeout", f"{name}: no response (engine deadline)") from None
        except SnmpError:
            raise
        except Exception as exc:  # a pysnmp encoding/config error: report it, never crash
            raise SnmpError("protocol", f"{name}: {exc.__class__.__name__}: {exc}") from None
        if indication:
            if isinstance(indication, errind.RequestTimedOut):
                raise SnmpError("timeout", f"{name}: no response")
            code = "auth" if isinstance(indication, _AUTH_ERRORS) else "protocol"
            raise SnmpError(code, f"{name}: {indication}")
        if status and int(status):
            raise SnmpError("protocol", f"{name}: agent error {status.prettyPrint()}")
        return list(vbs)

    async def get(self, name: str, oids: Sequence[str]) -> dict[str, Any]:
        """GET scalars: ``{oid: value}`` (value None when the agent has no such object)."""
        if not oids:
            return {}
        varbinds = [(rfc1902.ObjectName(o), _NULL) for o in oids]

        def send(addr: str, cb: Any) -> None:
            self._get.send_varbinds(self.engine, addr, None, b"", varbinds, cb, None)

        vbs = await self._request(name, send)
        return {oid: to_python(vb[1]) for oid, vb in zip(oids, vbs, strict=False)}

    async def walk(
        self, name: str, columns: Sequence[str], max_repetitions: int = 25, max_rows: int = 100_000
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
            varbinds = [(rfc1902.ObjectName(last[c]), _NULL) for c in active]

            def send(addr: str, cb: Any, varbinds: Any = varbinds, reps: int = reps) -> None:
                self._bulk.send_varbinds(self.engine, addr, None, b"", 0, reps, varbinds, cb, None)

            try:
                vbs = await self._request(name, send)
            except SnmpError as exc:
                if "tooBig" in str(exc) and reps > 1:
                    reps = max(1, reps // 2)
                    continue
                raise
            if not vbs:
                break
            _absorb(vbs, active, prefixes, last, out)
        return out


def _absorb(
    vbs: list[tuple[Any, Any]],
    active: list[str],
    prefixes: dict[str, Oid],
    last: dict[str, Oid],
    out: dict[str, dict[str, Any]],
) -> None:
    """Fold one GETBULK response (row-major: repetition x column) into ``out``."""
    n = len(active)
    finished: set[str] = set()
    for i, (name, value) in enumerate(vbs):
        col = active[i % n]
        if col in finished:
            continue
        oid = tuple(name)
        prefix = prefixes[col]
        if (
            isinstance(value, rfc1905.EndOfMibView)
            or oid[: len(prefix)] != prefix
            or oid <= last[col]
        ):
            finished.add(col)
            continue
        out[col][".".join(map(str, oid[len(prefix) :]))] = to_python(value)
        last[col] = oid
    for col in finished:
        del last[col]
