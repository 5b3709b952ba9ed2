"""``threenines snmp get|walk DEVICE OID``: on-call diagnosis with the configured credentials.

Output matches net-snmp's ``snmpget -On`` / ``snmpbulkwalk -On`` line for line, so it can be
compared with (or pasted next to) what a network engineer already knows. Uses pysnmp 7's
asyncio high-level API (``get_cmd``, ``bulk_walk_cmd``). OIDs are numeric or MIB names
(``sysLocation.0``, ``IF-MIB::ifDescr``: ``threenines.collectors.snmp_mibs``). Exit status: 0
answered, 1 the device did not answer properly (timeout, authentication) or another error
(one line and a hint; ``--debug`` shows the traceback), 2 bad config, unknown device or unknown
MIB name.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from threenines.collectors.config import snmp_config
from threenines.core.cli import ConfigOption, DebugOption, err, friendly_errors, load_or_exit

# pysnmp is imported inside the functions: it costs a tenth of a second, which every other
# command (and --help) would pay.
if TYPE_CHECKING:
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    from threenines.collectors.config import Device, SnmpConfig

app = typer.Typer(help="SNMP diagnosis with the configured credentials (output like net-snmp).")
HINT = "check the device's address and port in the config; --debug shows the details"


def format_ticks(ticks: int) -> str:
    days, rest = divmod(ticks, 8_640_000)
    hours, rest = divmod(rest, 360_000)
    minutes, rest = divmod(rest, 6000)
    seconds, cents = divmod(rest, 100)
    clock = f"{hours}:{minutes:02d}:{seconds:02d}.{cents:02d}"
    if days:
        clock = f"{days} day{'s' if days != 1 else ''}, {clock}"
    return f"({ticks}) {clock}"


def _printable(raw: bytes) -> bool:
    return all(32 <= b < 127 or b in (9, 10, 13) for b in raw)


def format_value(value: Any) -> str:
    """The right-hand side of a net-snmp ``-On`` line for a pysnmp value."""
    from pyasn1.type import univ
    from pysnmp.proto import rfc1902, rfc1905

    if isinstance(value, rfc1905.NoSuchObject):
        return "No Such Object available on this agent at this OID"
    if isinstance(value, rfc1905.NoSuchInstance):
        return "No Such Instance currently exists at this OID"
    if isinstance(value, rfc1905.EndOfMibView):
        return "No more variables left in this MIB View (It is past the end of the MIB tree)"
    if isinstance(value, rfc1902.TimeTicks):
        return f"Timeticks: {format_ticks(int(value))}"
    for cls, label in (
        (rfc1902.Counter64, "Counter64"),
        (rfc1902.Counter32, "Counter32"),
        (rfc1902.Gauge32, "Gauge32"),
    ):
        if isinstance(value, cls):
            return f"{label}: {int(value)}"
    if isinstance(value, univ.Integer):
        return f"INTEGER: {int(value)}"
    if isinstance(value, rfc1902.IpAddress):
        return f"IpAddress: {socket.inet_ntoa(bytes(value))}"
    if isinstance(value, univ.OctetString):
        raw = bytes(value)
        if not raw:
            return '""'
        if _printable(raw):
            return f'STRING: "{raw.decode()}"'
        return "Hex-STRING: " + "".join(f"{b:02X} " for b in raw)
    if isinstance(value, univ.ObjectIdentifier):
        return "OID: ." + ".".join(str(x) for x in value)
    return f"{value.__class__.__name__}: {value.prettyPrint()}"


def format_line(name: Any, value: Any) -> str:
    return "." + ".".join(str(x) for x in name) + " = " + format_value(value)


def _device(cfg: SnmpConfig, name: str) -> Device:
    dev = cfg.device(name)
    if dev is None:
        known = ", ".join(d.name for d in cfg.devices) or "none configured"
        err.print(f"unknown device {name!r} (known: {known})", markup=False)
        raise typer.Exit(2)
    return dev


async def _session(cfg: SnmpConfig, dev: Device) -> tuple[SnmpEngine, Any, Any]:
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine, UdpTransportTarget

    from threenines.collectors.snmp_client import auth_data

    d = cfg.defaults
    target = await UdpTransportTarget.create(
        (dev.address, dev.port),
        timeout=dev.timeout or d.timeout,
        retries=d.retries if dev.retries is None else dev.retries,
    )
    return SnmpEngine(), auth_data(cfg.auth_for(dev)), target


def _fail(dev: Device, indication: Any, status: Any = None) -> None:
    what = str(indication) if indication else f"agent error {status.prettyPrint()}"
    err.print(f"{dev.name} ({dev.address}:{dev.port}): {what}", markup=False)
    raise typer.Exit(1)


async def _get(cfg: SnmpConfig, dev: Device, oids: list[str]) -> None:
    from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, get_cmd

    engine, auth, target = await _session(cfg, dev)
    try:
        objects = [ObjectType(ObjectIdentity(o.lstrip("."))) for o in oids]
        indication, status, _index, varbinds = await get_cmd(
            engine, auth, target, ContextData(), *objects, lookupMib=False
        )
        if indication or int(status):
            _fail(dev, indication, status)
        for name, value in varbinds:
            print(format_line(name, value))
    finally:
        engine.close_dispatcher()


async def _walk(cfg: SnmpConfig, dev: Device, oid: str, reps: int) -> None:
    from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, bulk_walk_cmd

    engine, auth, target = await _session(cfg, dev)
    count = 0
    try:
        start = ObjectType(ObjectIdentity(oid.lstrip(".")))
        async for indication, status, _index, varbinds in bulk_walk_cmd(
            engine, auth, target, ContextData(), 0, reps, start,
            lookupMib=False, lexicographicMode=False,
        ):  # fmt: skip
            if indication or int(status or 0):
                _fail(dev, indication, status)
            for name, value in varbinds:
                print(format_line(name, value))
                count += 1
        if count == 0:  # as net-snmp does for an empty subtree: GET the OID itself
            await _get(cfg, dev, [oid])
    finally:
        engine.close_dispatcher()


def _numeric(names: list[str]) -> list[str]:
    """Numeric OIDs for ``names``; an unknown name is one line and a hint, exit 2."""
    from threenines.collectors.snmp_mibs import HINT as MIB_HINT
    from threenines.collectors.snmp_mibs import MibError, MibResolver

    resolver = MibResolver()
    try:
        return [resolver.resolve(n) for n in names]
    except MibError as exc:
        for line in (str(exc), f"hint: {MIB_HINT}"):
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def get(
    device: str = typer.Argument(..., help="Device name from snmp.devices"),
    oids: list[str] = typer.Argument(
        ..., help="OIDs: numeric (1.3.6.1.2.1.1.3.0) or MIB names (sysUpTime.0, IF-MIB::ifDescr.1)"
    ),
    config: Path = ConfigOption,
    debug: bool = DebugOption,
) -> None:
    """GET OIDs from a configured device; prints like ``snmpget -On``."""
    import asyncio

    cfg = load_or_exit(config)
    dev = _device(snmp_config(cfg), device)
    numeric = _numeric(oids)
    with friendly_errors(debug, HINT):
        asyncio.run(_get(snmp_config(cfg), dev, numeric))


@app.command()
def walk(
    device: str = typer.Argument(..., help="Device name from snmp.devices"),
    oid: str = typer.Argument("1.3.6.1.2.1", help="Subtree to walk: numeric or a MIB name"),
    max_repetitions: int = typer.Option(25, "--max-repetitions", "-r", min=1, max=200),
    config: Path = ConfigOption,
    debug: bool = DebugOption,
) -> None:
    """Walk a subtree with GETBULK; prints like ``snmpbulkwalk -On``."""
    import asyncio

    cfg = load_or_exit(config)
    dev = _device(snmp_config(cfg), device)
    (numeric,) = _numeric([oid])
    with friendly_errors(debug, HINT):
        asyncio.run(_walk(snmp_config(cfg), dev, numeric, max_repetitions))
