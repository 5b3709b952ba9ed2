"""Pure mapping of a received notification to an event, correlated to its device and site.

Known notifications (SNMPv2-MIB generic traps, IF-MIB link changes, UPS-MIB) have built-in
kinds and severities; ``snmp.traps.mappings`` adds to or overrides them by snmpTrapOID. The
device is found by the agent's address: ``snmpTrapAddress.0`` when a relay added it (or a v1
trap's agent-addr), otherwise the datagram's source address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from threenines.collectors.config import Device, TrapMapping
from threenines.collectors.store import EventRecord

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"
IF_INDEX, IF_DESCR, IF_NAME = (
    "1.3.6.1.2.1.2.2.1.1.",
    "1.3.6.1.2.1.2.2.1.2.",
    "1.3.6.1.2.1.31.1.1.1.1.",
)
UPS_ALARM_DESCR = "1.3.6.1.2.1.33.1.6.2.1.2."
UPS_ALARMS = {
    "1.3.6.1.2.1.33.1.6.3.2": ("ups_on_battery", "critical", "UPS on battery"),
    "1.3.6.1.2.1.33.1.6.3.3": ("ups_battery_low", "critical", "UPS battery low"),
    "1.3.6.1.2.1.33.1.6.3.4": ("ups_battery_depleted", "critical", "UPS battery depleted"),
    "1.3.6.1.2.1.33.1.6.3.1": ("ups_battery_bad", "major", "UPS battery needs replacing"),
    "1.3.6.1.2.1.33.1.6.3.8": ("ups_input_bad", "major", "UPS input out of tolerance"),
}
UPS_MINUTES = "1.3.6.1.2.1.33.1.2.3.0"


@dataclass(frozen=True, slots=True)
class Builtin:
    kind: str
    severity: str
    category: str
    text: str


BUILTIN: dict[str, Builtin] = {
    "1.3.6.1.6.3.1.1.5.1": Builtin("cold_start", "major", "availability", "restarted (coldStart)"),
    "1.3.6.1.6.3.1.1.5.2": Builtin("warm_start", "minor", "availability", "restarted (warmStart)"),
    "1.3.6.1.6.3.1.1.5.3": Builtin("link_down", "major", "availability", "link down"),
    "1.3.6.1.6.3.1.1.5.4": Builtin("link_up", "info", "availability", "link up"),
    "1.3.6.1.6.3.1.1.5.5": Builtin(
        "auth_failure", "minor", "security", "SNMP authentication failure (wrong community/key)"
    ),
    "1.3.6.1.2.1.33.2.1": Builtin("ups_on_battery", "critical", "availability", "UPS on battery"),
    "1.3.6.1.2.1.33.2.2": Builtin(
        "ups_test_completed", "info", "availability", "UPS self-test done"
    ),
    "1.3.6.1.2.1.33.2.3": Builtin("ups_alarm", "major", "availability", "UPS alarm raised"),
    "1.3.6.1.2.1.33.2.4": Builtin("ups_alarm_cleared", "info", "availability", "UPS alarm cleared"),
}


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification that passed authentication, as plain data."""

    ts: float
    source: str  # the datagram's source IP
    version: str  # v1 | v2c | v3
    security: str  # the community's index or the v3 user
    varbinds: Mapping[str, Any] = field(default_factory=dict)  # OID -> value, in order

    @property
    def trap_oid(self) -> str:
        return str(self.varbinds.get(SNMP_TRAP_OID) or "")


def _interface(n: Notification) -> str | None:
    names = {
        p: v for oid, v in n.varbinds.items() for p in (IF_NAME, IF_DESCR) if oid.startswith(p)
    }
    if names.get(IF_NAME) or names.get(IF_DESCR):
        return str(names.get(IF_NAME) or names.get(IF_DESCR))
    index = next((v for oid, v in n.varbinds.items() if oid.startswith(IF_INDEX)), None)
    return f"ifIndex {index}" if index is not None else None


def _ups_alarm(n: Notification) -> Builtin | None:
    alarm = next((str(v) for oid, v in n.varbinds.items() if oid.startswith(UPS_ALARM_DESCR)), None)
    if alarm in UPS_ALARMS:
        kind, severity, text = UPS_ALARMS[alarm]
        return Builtin(kind, severity, "availability", text)
    return None


def to_event(
    n: Notification,
    mappings: Mapping[str, TrapMapping],
    devices: Mapping[str, Device],
    *,
    store_unknown: bool = True,
) -> EventRecord | None:
    """The event for ``n``, or None for an unmapped notification when ``store_unknown`` is off.

    ``devices`` maps agent IP addresses to configured devices.
    """
    oid = n.trap_oid
    agent = str(n.varbinds.get(SNMP_TRAP_ADDRESS) or n.source)
    device = devices.get(agent) or devices.get(n.source)
    who = device.name if device else agent
    subject: str | None = None
    custom = mappings.get(oid)
    if custom is not None:
        rule = Builtin(custom.kind, custom.severity, custom.category, custom.message or oid)
    elif oid in BUILTIN:
        rule = BUILTIN[oid]
        if rule.kind == "ups_alarm":
            rule = _ups_alarm(n) or rule
    elif store_unknown:
        rule = Builtin("trap", "info", "availability", f"notification {oid or '(no snmpTrapOID)'}")
    else:
        return None
    if rule.kind.startswith("link_"):
        subject = _interface(n)
    message = f"{who}: {rule.text}" + (f" on {subject}" if subject else "")
    minutes = n.varbinds.get(UPS_MINUTES)
    if rule.kind.startswith("ups_") and minutes is not None:
        message += f" ({minutes} minutes of battery left)"
    details = {
        "trap_oid": oid,
        "source": n.source,
        "agent": agent,
        "version": n.version,
        "security": n.security,
        "varbinds": {k: _plain(v) for k, v in list(n.varbinds.items())[:50]},
    }
    return EventRecord(
        ts=n.ts,
        source="snmp_trap",
        kind=rule.kind,
        severity=rule.severity,
        category=rule.category,
        site=device.site if device else None,
        device=device.name if device else None,
        subject=subject,
        message=message,
        details=details,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, int | float | str) or value is None:
        return value if not isinstance(value, str) else value[:500]
    return str(value)[:500]
