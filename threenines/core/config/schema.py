"""The core of the configuration: organisation, sites, vantage points, services and checks.

This root knows no area. The composition root (``threenines.app.config``) subclasses it: it adds
each area's section (``alerts:``, ``failover:``, ...) and narrows ``Service.checks`` to the union
of the check kinds the areas register. Areas read their section with ``cfg.section(name,
Model)``. Cross-references (a service's site, a check's vantage points, a mirror's data centre)
are checked in ``cross_check``, which then runs each area's own cross-check, so each problem can
name its own YAML path and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

from threenines.core.config.base import CheckBase, Name, StrictModel, first_named
from threenines.core.config.calendar import HoursRule, MaintenanceWindow
from threenines.core.config.devices import DeviceRef
from threenines.core.durations import Duration

T = TypeVar("T", bound=BaseModel)
Loc = tuple[str | int, ...]


class Site(StrictModel):
    name: Name
    kind: Literal["datacentre", "site"] = "site"
    mirror_of: Name | None = Field(None, description="For a mirror data centre: the one it mirrors")
    description: str = ""
    depends_on: list[Name] = Field(
        default_factory=list,
        description="Services or devices this site needs (e.g. its WAN link); their downtime is "
        "attributed as the cause of this site's outages",
    )
    devices: list[DeviceRef] = Field(
        default_factory=list,
        description="SNMP devices (core-sw1) or uplinks (wan-rtr/if:ge0) that every service at "
        "this site needs: while one is down, so are they, with the device named as the cause",
    )


class VantagePoint(StrictModel):
    name: Name
    site: Name
    description: str = ""


class PublicListing(StrictModel):
    """How a service appears on the public status page (``/status``): never its internal name,
    addresses or checks, only this."""

    group: str = Field("Services", min_length=1, max_length=80, description="Heading it is under")
    title: str | None = Field(
        None, min_length=1, max_length=120, description="Name shown to the public (default: name)"
    )


class Service(StrictModel):
    name: Name
    site: Name
    description: str = ""
    target: str | None = None
    criticality: Literal["critical", "high", "medium", "low"] = "medium"
    availability_target: float | None = Field(None, gt=0, le=100)
    checks: list[CheckBase] = Field(
        default_factory=list, description="Checks (the kinds are the areas' check kinds)"
    )
    depends_on: list[Name] = Field(default_factory=list)
    devices: list[DeviceRef] = Field(
        default_factory=list,
        description="SNMP devices or uplinks this service needs (counted like a check that "
        "must pass); see also the site's devices",
    )
    tags: list[str] = Field(default_factory=list)
    public: PublicListing | None = Field(
        None, description="List it on the public status page (`true`, or `{group, title}`)"
    )
    # Availability accounting (threenines.availability)
    quorum: int | None = Field(
        None, ge=1, description="Vantage points that must see a check down (default: majority)"
    )
    combine: Literal["all", "any", "weighted"] = Field(
        "all", description="How check states make the service state"
    )
    weights: dict[Name, float] = Field(
        default_factory=dict, description="Check name -> weight (combine: weighted)"
    )
    weighted_threshold: float = Field(0.5, gt=0, le=1)
    degraded_is_up: bool = Field(True, description="Degraded counts as available (reported)")
    hours: list[HoursRule] | None = Field(None, description="Service hours (default 24x7)")

    @field_validator("public", mode="before")
    @classmethod
    def _public_flag(cls, v: Any) -> Any:
        if v is True:
            return {}
        return None if v is False else v


class Storage(StrictModel):
    url: str = "sqlite:///data/threenines.db"
    raw_retention: Duration = Field(90 * 86400.0, gt=0)
    batch_size: int = Field(500, ge=1, le=100_000)
    flush_interval: Duration = Field(1.0, gt=0)
    buffer_limit: int = Field(
        1_000_000, ge=1000, description="Results held in memory while the database is unavailable"
    )
    spool: str = Field(
        "data/unwritten-results.db",
        description="A durable queue on disk for results the database cannot take yet: written "
        "at once during an outage, emptied into the database when it is back (also at start)",
    )


class Promote(StrictModel):
    """What a standby node runs when no writable store answers it (``threenines.core.ha``)."""

    command: list[str] = Field(
        ...,
        description="argv that promotes this node's store replica when that is safe, and "
        "refuses (non-zero exit) when not: e.g. ansible-playbook playbooks/promote_store.yml",
        json_schema_extra={"minItems": 1},  # the validator below says why, in its own words
    )  # fmt: skip
    after: Duration = Field(
        10.0, gt=0, le=3600,
        description="Seconds without a writable store before the command runs (and between runs)",
    )  # fmt: skip
    timeout: Duration = Field(120.0, gt=0, le=3600, description="The command's time limit")

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str]) -> list[str]:
        if not value or not value[0].strip():
            raise ValueError("needs a program to run, e.g. [ansible-playbook, promote_store.yml]")
        return value


class Release(StrictModel):
    """What the active node runs when a lease renewal has waited too long for the store's
    synchronous standby, and again once that standby streams while not synchronous
    (``threenines.core.ha``)."""

    command: list[str] = Field(
        ...,
        description="argv that stops the store's primary waiting for a synchronous standby "
        "that is lost (refusing, non-zero exit, unless that is safe) and arms it again once it "
        "streams: e.g. ansible-playbook playbooks/store_sync.yml",
        json_schema_extra={"minItems": 1},
    )  # fmt: skip
    after: Duration = Field(
        20.0, gt=0, le=3600,
        description="Seconds a renewal waits before the command runs (and between runs); keep "
        "it above the promotion's limit on the standby's replay age",
    )  # fmt: skip
    timeout: Duration = Field(120.0, gt=0, le=3600, description="The command's time limit")

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str]) -> list[str]:
        if not value or not value[0].strip():
            raise ValueError("needs a program to run, e.g. [ansible-playbook, store_sync.yml]")
        return value


class HA(StrictModel):
    """Several ``threenines run`` nodes on one store (``threenines.core.ha``)."""

    lease: Duration = Field(
        10.0, ge=3, le=600,
        description="The failover delay: a standby node takes over the singleton work (alerts, "
        "failover, reports, scans) this long after the active node was last heard from",
    )  # fmt: skip
    heartbeat: Duration = Field(
        2.0, gt=0, le=60, description="How often every node renews its heartbeat (and the "
        "active node its lease); at most a third of the lease",
    )  # fmt: skip
    promote: Promote | None = Field(
        None, description="A store replicated to another data centre: how this node promotes "
        "its replica when the primary is lost (none: it waits for a writable store)",
    )  # fmt: skip
    release: Release | None = Field(
        None, description="A primary that waits for a synchronous standby: how the active node "
        "releases a lost standby and re-arms it (none: a lost standby stops the lease)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _beats_per_lease(self) -> HA:
        if self.heartbeat * 3 > self.lease:
            raise ValueError(
                f"heartbeat {self.heartbeat:g}s is more than a third of the lease {self.lease:g}s"
            )
        return self


class Server(StrictModel):
    listen: str = "127.0.0.1:9339"
    vantage: Name = Field(
        "central",
        description="The vantage point this server probes from; also this node's name in a "
        "high-availability pair (each node its own)",
    )
    ha: HA = Field(default_factory=HA)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value


class Scheduler(StrictModel):
    max_concurrency: int = Field(500, ge=1, le=100_000)
    per_target: int = Field(8, ge=1, le=1000)
    jitter: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Fraction of the interval over which check start times are spread, by a "
        "hash of the check id: 1 spreads them evenly (no bursts at 10,000 checks), 0 starts all "
        "at once",
    )
    shutdown_grace: Duration = Field(
        30.0, gt=0, description="On SIGTERM, how long in-flight probes may take to finish"
    )


class Config(StrictModel):
    organisation: str = "threenines"
    target: float = Field(99.9, gt=0, le=100, description="Default availability target, percent")
    timezone: str = "Europe/London"
    storage: Storage = Field(default_factory=Storage)
    server: Server = Field(default_factory=Server)
    scheduler: Scheduler = Field(default_factory=Scheduler)
    sites: list[Site] = Field(default_factory=list)
    vantage_points: list[VantagePoint] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    # Set by the composition root on the composed root: each area's cross-check.
    #: the discriminated union of the areas' check kinds (set by the composition root)
    check_type: ClassVar[Any] = CheckBase
    area_checks: ClassVar[tuple[Callable[[Any], list[tuple[Loc, str]]], ...]] = ()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/London)") from None
        return value

    # -- helpers used across the code base -------------------------------------------------

    def section(self, name: str, kind: type[T]) -> T:
        """An area's section (``cfg.section("alerts", AlertsConfig)``), checked for its type."""
        value = getattr(self, name, None)
        if not isinstance(value, kind):
            raise LookupError(f"configuration has no {name!r} section of type {kind.__name__}")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def iter_checks(self) -> Iterator[tuple[Service, CheckBase]]:
        for service in self.services:
            for check in service.checks:
                yield service, check

    def vantages_for(self, check: CheckBase) -> list[str]:
        return list(check.vantage) if check.vantage else [self.server.vantage]

    def site(self, name: str) -> Site | None:
        found: Site | None = first_named(self, "sites", name)
        return found

    def service(self, name: str) -> Service | None:
        found: Service | None = first_named(self, "services", name)
        return found

    def cross_check(self) -> list[tuple[Loc, str]]:
        """Problems that span sections, each with the loc of the offending value."""
        out: list[tuple[Loc, str]] = []
        sites = {s.name: s for s in self.sites}
        vantages = {v.name for v in self.vantage_points} | {self.server.vantage}
        services = {s.name for s in self.services}
        out += _duplicates("sites", [s.name for s in self.sites])
        out += _duplicates("vantage_points", [v.name for v in self.vantage_points])
        out += _duplicates("services", [s.name for s in self.services])
        for i, site in enumerate(self.sites):
            if site.mirror_of is not None:
                other = sites.get(site.mirror_of)
                if other is None or other.kind != "datacentre":
                    out.append(
                        (
                            ("sites", i, "mirror_of"),
                            f"{site.mirror_of!r} is not a datacentre defined in sites",
                        )
                    )
        for i, vp in enumerate(self.vantage_points):
            if vp.site not in sites:
                out.append((("vantage_points", i, "site"), f"unknown site {vp.site!r}"))
        for i, svc in enumerate(self.services):
            if svc.site not in sites:
                out.append((("services", i, "site"), f"unknown site {svc.site!r}"))
            for dep in svc.depends_on:
                if dep not in services:
                    out.append((("services", i, "depends_on"), f"unknown service {dep!r}"))
            out += _duplicates(("services", i, "checks"), [c.name for c in svc.checks])
            for j, check in enumerate(svc.checks):
                for k, v in enumerate(check.vantage or []):
                    if v not in vantages:
                        out.append(
                            (
                                ("services", i, "checks", j, "vantage", k),
                                f"unknown vantage point {v!r}",
                            )
                        )
        for area_check in type(self).area_checks:
            out += area_check(self)
        return out


def _duplicates(where: str | Loc, names: list[str]) -> list[tuple[Loc, str]]:
    base: Loc = (where,) if isinstance(where, str) else where
    seen: set[str] = set()
    out: list[tuple[Loc, str]] = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(((*base, i, "name"), f"duplicate name {name!r}"))
        seen.add(name)
    return out
