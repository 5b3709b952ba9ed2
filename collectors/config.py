"""The ``snmp:`` config section: devices to poll, credentials, and the trap receiver.

Credentials are either inline on a device (``auth: {version: v2c, community: ...}``) or named
once under ``snmp.credentials`` and referenced by name (``auth: core-v3``), because a council's
estate shares a handful of credential sets across dozens of devices. SNMPv3 is authPriv by
default; noAuthNoPriv is refused unless ``allow_noauth: true`` says it is deliberate.

This module is imported by the config schema, so it stays light: no pysnmp import here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

import os
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from threenines.core.config.base import Name, StrictModel, first_named
from threenines.core.config.secrets import Secret, is_unset
from threenines.core.durations import Duration

Loc = tuple[str | int, ...]
ProfileName = Literal["system", "interfaces", "host-resources", "ucd", "ups", "environment"]
Severity = Literal["critical", "major", "minor", "info"]
Level = Literal["authPriv", "authNoPriv", "noAuthNoPriv"]
_OID = re.compile(r"^\.?[0-2](\.\d+)+$")


def _oid(value: str) -> str:
    """A numeric OID, or a MIB name (``IF-MIB::linkDown``, ``sysUpTime.0``) resolved to one."""
    if _OID.match(value):
        return value.lstrip(".")
    from threenines.collectors.snmp_mibs import shared  # pysnmp only when a name is used

    oid = shared().resolve(value)  # a MibError is a ValueError: reported at its line
    if not _OID.match(oid):
        raise ValueError(f"{value!r} is not an OID (e.g. 1.3.6.1.2.1.1.3.0 or sysUpTime.0)")
    return oid


Oid = Annotated[str, AfterValidator(_oid)]


class V2c(StrictModel):
    version: Literal["v2c"]
    community: Secret


class UsmUser(StrictModel):
    """SNMPv3 USM user. Keys are pass phrases of at least 8 characters (RFC 3414)."""

    user: str = Field(min_length=1, max_length=32)
    level: Level = "authPriv"
    auth_protocol: Literal["SHA", "SHA-256"] = "SHA-256"
    auth_key: Secret | None = None
    priv_protocol: Literal["AES", "AES-128", "AES-256", "AES-256-C"] = "AES"
    priv_key: Secret | None = None
    allow_noauth: bool = Field(False, description="Permit noAuthNoPriv (not recommended)")

    @model_validator(mode="after")
    def _level(self) -> UsmUser:
        if self.level == "noAuthNoPriv" and not self.allow_noauth:
            raise ValueError(
                "noAuthNoPriv sends everything in clear with no authentication; "
                "use authPriv, or set allow_noauth: true if this is deliberate"
            )
        needs = {"authPriv": ("auth_key", "priv_key"), "authNoPriv": ("auth_key",)}
        for key in needs.get(self.level, ()):
            secret = getattr(self, key)
            if secret is None:
                raise ValueError(f"{key} is required for level {self.level}")
            if not is_unset(secret) and len(secret.get_secret_value()) < 8:
                raise ValueError(f"{key} must be at least 8 characters (RFC 3414)")
        return self

    def fingerprint(self) -> tuple[str, ...]:
        """Identity of the key material, for "same user, different keys" checks (not logged)."""
        return (
            self.level,
            self.auth_protocol,
            self.auth_key.get_secret_value() if self.auth_key else "",
            self.priv_protocol,
            self.priv_key.get_secret_value() if self.priv_key else "",
        )


class V3(UsmUser):
    version: Literal["v3"]


Credentials = Annotated[V2c | V3, Field(discriminator="version")]


def _default_profiles() -> list[ProfileName]:
    return ["system", "interfaces"]


class Device(StrictModel):
    """One SNMP agent. ``uplinks`` are interfaces whose state counts for availability."""

    name: Name
    address: str = Field(min_length=1)
    port: int = Field(161, ge=1, le=65535)
    site: Name
    auth: Credentials | Name = Field(description="Inline credentials or a snmp.credentials name")
    profiles: list[ProfileName] = Field(default_factory=_default_profiles)
    interval: Duration | None = Field(None, gt=0)
    timeout: Duration | None = Field(None, gt=0)
    retries: int | None = Field(None, ge=0, le=5)
    max_repetitions: int | None = Field(None, ge=1, le=200)
    uplinks: list[str] = Field(
        default_factory=list,
        description="ifName (or ifDescr) of interfaces whose state is an availability result",
    )
    interfaces: list[str] | None = Field(
        None, description="Glob patterns of interfaces to export (default: all)"
    )

    @field_validator("profiles")
    @classmethod
    def _system_first(cls, value: list[ProfileName]) -> list[ProfileName]:
        # Reachability and restart detection come from the system profile: always polled.
        return ["system", *[p for p in dict.fromkeys(value) if p != "system"]]


class PollDefaults(StrictModel):
    interval: Duration = Field(60.0, gt=0)
    timeout: Duration = Field(2.0, gt=0)
    retries: int = Field(1, ge=0, le=5)
    max_repetitions: int = Field(25, ge=1, le=200)
    concurrency: int = Field(64, ge=1, le=10_000, description="Devices polled at once")
    summary_period: Duration = Field(300.0, ge=60, description="Stored readings are averaged")


class TrapMapping(StrictModel):
    """A notification OID (snmpTrapOID) that becomes an event of this kind and severity."""

    oid: Oid
    kind: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    severity: Severity = "minor"
    category: Literal["availability", "security", "capacity"] = "availability"
    message: str = ""


def default_trap_listen() -> str:
    return "0.0.0.0:162" if os.geteuid() == 0 else "0.0.0.0:10162"


class Traps(StrictModel):
    enabled: bool = False
    listen: str = Field(default_factory=default_trap_listen)
    communities: list[Secret] = Field(default_factory=list)
    users: list[UsmUser] = Field(default_factory=list)
    mappings: list[TrapMapping] = Field(default_factory=list)
    store_unknown: bool = Field(True, description="Store unmapped notifications as info events")
    queue_size: int = Field(20_000, ge=10, le=10_000_000, description="Datagrams held in a burst")
    max_datagram: int = Field(16_384, ge=484, le=65_535, description="Bigger ones are dropped")
    max_engines: int = Field(4096, ge=1, description="Sender engine IDs learnt for v3 users")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value


class SnmpConfig(StrictModel):
    defaults: PollDefaults = Field(default_factory=PollDefaults)
    credentials: dict[Name, Credentials] = Field(default_factory=dict)
    devices: list[Device] = Field(default_factory=list)
    traps: Traps = Field(default_factory=Traps)

    def auth_for(self, device: Device) -> V2c | V3:
        if isinstance(device.auth, str):
            return self.credentials[device.auth]
        return device.auth

    def device(self, name: str) -> Device | None:
        found: Device | None = first_named(self, "devices", name)
        return found


def cross_check(snmp: SnmpConfig, sites: set[str]) -> list[tuple[Loc, str]]:
    """Problems spanning sections: unknown sites and credential names, duplicate devices, one
    v3 user name with two different key sets (pysnmp keys USM users by name)."""
    out: list[tuple[Loc, str]] = []
    seen: set[str] = set()
    v3_keys: dict[str, tuple[str, ...]] = {}
    for i, dev in enumerate(snmp.devices):
        loc: Loc = ("snmp", "devices", i)
        if dev.name in seen:
            out.append(((*loc, "name"), f"duplicate device name {dev.name!r}"))
        seen.add(dev.name)
        if dev.site not in sites:
            out.append(((*loc, "site"), f"unknown site {dev.site!r}"))
        if isinstance(dev.auth, str) and dev.auth not in snmp.credentials:
            out.append(((*loc, "auth"), f"unknown credentials {dev.auth!r} (see snmp.credentials)"))
            continue
        auth = snmp.auth_for(dev)
        if isinstance(auth, V3):
            fp = auth.fingerprint()
            if v3_keys.setdefault(auth.user, fp) != fp:
                out.append(
                    ((*loc, "auth"), f"v3 user {auth.user!r} is used elsewhere with other keys")
                )
    return out


GAP_POLLS = 2  # a device result holds this many poll intervals before it is "no data"
POLL_GAP_RULE = f"{GAP_POLLS} x the poll interval"


def poll_max_gap(interval: float) -> float:
    """How long a device result holds without a newer one (``POLL_GAP_RULE``): the write
    path's ``max_gap`` for device results and the state rule's grace for them."""
    return GAP_POLLS * interval


def snmp_config(cfg: Config) -> SnmpConfig:
    """The ``snmp`` section of a composed configuration."""
    return cfg.section("snmp", SnmpConfig)
