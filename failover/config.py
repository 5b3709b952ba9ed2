"""Failover plans: when to move users from a primary data centre to its mirror, and how.

One optional section on ``Config``::

    failover:
      plans:
        - name: dc-main-to-mirror
          primary: dc-main
          mirror: dc-mirror
          trigger: {datacentre: dc-main, confirm_for: 30s, quorum: 2}
          preflight: {min_vantage_points: 2, rpo: 5m, replication_lag: {command: [...]}}
          guards: {mode: approve, cooldown: 1h, max_runs_per_day: 2, approval_ttl: 15m}
          playbook: {path: failover.yml, inventory: inventory/lab.yml}
          verification: {checks: [portal/front-door-http], within: 2m}
          failback: {path: failback.yml}

Playbook paths are relative to ``failover.project_dir``. Failback is never automatic: it runs
only from ``threenines failover failback`` or at the end of a drill.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from threenines.core.config.base import Name, StrictModel
from threenines.core.config.secrets import Secret
from threenines.core.durations import Duration

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

Loc = tuple[str | int, ...]
#: the playbooks shipped in the package (a link to the repository's playbooks/ in a checkout)
PLAYBOOKS = Path(__file__).parent / "playbooks"


class Trigger(StrictModel):
    """What must be down, for how long, and seen by how many vantage points.

    A trigger service is down only when the state rule (``threenines.availability.state``)
    says so, as availability and alerts count it; ``quorum``, ``majority``, ``vantage_points``
    and ``fresh_within`` can only ask for more on top of it (see ``failover.quorum``).
    """

    services: list[Name] = Field(default_factory=list, description="Services that trigger")
    datacentre: Name | None = Field(None, description="Every service of this site triggers")
    require: Literal["all", "any"] = Field(
        "all", description="All trigger services down (a data-centre outage), or any one"
    )
    confirm_for: Duration = Field(
        30.0, ge=0, description="The quorum must be seen holding this long (by its results)"
    )
    quorum: int = Field(
        2, ge=1, le=100,
        description="Vantage points that must see a down check down (besides the state rule)",
    )  # fmt: skip
    majority: bool = Field(
        True, description="Also require a majority of each check's vantage points (those counted)"
    )
    vantage_points: list[Name] | None = Field(
        None, description="Which count towards `quorum` (default: all); the rule counts all"
    )
    fresh_within: Duration = Field(
        60.0, gt=0,
        description="Results older than this do not count towards `quorum`, never as down",
    )  # fmt: skip

    @model_validator(mode="after")
    def _something(self) -> Trigger:
        if not self.services and self.datacentre is None:
            raise ValueError("a trigger needs `services` or `datacentre`")
        return self


class ReplicationLag(StrictModel):
    """A check returning the mirror's replication lag in seconds (a number on stdout or a row)."""

    command: list[str] | None = Field(None, description="argv; prints the lag in seconds")
    sql: str | None = Field(None, description="A query returning one number: the lag in seconds")
    db_url: Secret | None = Field(None, description="Database to run `sql` on")
    timeout: Duration = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _one(self) -> ReplicationLag:
        if (self.command is None) == (self.sql is None):
            raise ValueError("give exactly one of `command` or `sql`")
        if self.sql is not None and self.db_url is None:
            raise ValueError("`sql` needs `db_url`")
        if self.command is not None and not self.command:
            raise ValueError("`command` is empty")
        return self


class Capacity(StrictModel):
    """The share of users the mirror can serve: stated, or measured by a command (0..1)."""

    share: float | None = Field(None, ge=0, le=1, description="Stated share, e.g. 0.6")
    command: list[str] | None = Field(None, description="argv; prints the share (0..1)")
    required: float = Field(0.5, gt=0, le=1, description="Minimum share of users (default 50%)")
    timeout: Duration = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _one(self) -> Capacity:
        if (self.share is None) == (self.command is None):
            raise ValueError("give exactly one of `share` or `command`")
        return self


class Preflight(StrictModel):
    mirror_services: list[Name] | None = Field(
        None, description="Must be healthy on the mirror (default: every service of the mirror)"
    )
    min_vantage_points: int = Field(2, ge=1, description="Vantage points seeing each one up")
    replication_lag: ReplicationLag | None = None
    rpo: Duration | None = Field(None, gt=0, description="Maximum acceptable replication lag")
    capacity: Capacity | None = None

    @model_validator(mode="after")
    def _rpo(self) -> Preflight:
        if self.replication_lag is not None and self.rpo is None:
            raise ValueError("`replication_lag` needs `rpo`")
        return self


class Guards(StrictModel):
    mode: Literal["auto", "approve", "off"] = Field(
        "approve", description="auto: run on decision; approve: an operator must approve"
    )
    cooldown: Duration = Field(3600.0, ge=0, description="No automatic run this soon after one")
    max_runs_per_day: int = Field(2, ge=1, le=100, description="Rolling 24 h, any outcome")
    approval_ttl: Duration = Field(900.0, gt=0, description="An approval expires after this")


class PlaybookRun(StrictModel):
    path: str = Field(description="Playbook, relative to failover.project_dir")
    inventory: str | None = Field(None, description="Inventory file, relative to project_dir")
    extravars: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration = Field(600.0, gt=0)


class Verification(StrictModel):
    checks: list[str] = Field(
        default_factory=list, description="`service/check` ids that must pass through the mirror"
    )
    within: Duration = Field(120.0, gt=0)
    interval: Duration = Field(2.0, gt=0)


class Objectives(StrictModel):
    """What drills are measured against."""

    rto: Duration = Field(1800.0, gt=0, description="Fault to all user journeys green")
    rpo: Duration | None = Field(None, gt=0, description="Default: preflight.rpo")
    capacity: float = Field(0.5, gt=0, le=1, description="Share of users the mirror must serve")


class DrillFaults(StrictModel):
    """Fault injection outside the lab: a playbook per scenario (and one that clears it)."""

    dc_cut: PlaybookRun | None = None
    service_stop: PlaybookRun | None = None
    clear: PlaybookRun | None = None


class Plan(StrictModel):
    name: Name
    description: str = ""
    primary: Name
    mirror: Name
    trigger: Trigger
    preflight: Preflight = Field(default_factory=Preflight)
    guards: Guards = Field(default_factory=Guards)
    playbook: PlaybookRun
    verification: Verification = Field(default_factory=Verification)
    failback: PlaybookRun
    objectives: Objectives = Field(default_factory=Objectives)
    faults: DrillFaults = Field(default_factory=DrillFaults)
    drill_tag: str = Field("drill", description="Tag on drill events so alerts use the drill route")


class FailoverConfig(StrictModel):
    plans: list[Plan] = Field(default_factory=list)
    project_dir: str = Field(
        default_factory=lambda: str(PLAYBOOKS),
        description="Where playbooks and roles live (default: the playbooks in the package)",
    )
    data_dir: str = Field("data/failover", description="ansible-runner artifacts")
    lease_ttl: Duration = Field(30.0, ge=1, description="A crashed run's lease expires after this")
    evaluate_every: Duration = Field(5.0, gt=0)

    def plan(self, name: str) -> Plan | None:
        return next((p for p in self.plans if p.name == name), None)


def trigger_services(plan: Plan, cfg: Config) -> list[str]:
    """The services whose state triggers ``plan`` (a data centre expands to its services)."""
    names = list(plan.trigger.services)
    if plan.trigger.datacentre is not None:
        names += [s.name for s in cfg.services if s.site == plan.trigger.datacentre]
    return list(dict.fromkeys(names))


def mirror_services(plan: Plan, cfg: Config) -> list[str]:
    if plan.preflight.mirror_services is not None:
        return list(plan.preflight.mirror_services)
    return [s.name for s in cfg.services if s.site == plan.mirror]


def cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    """Failover references to sites, services, vantage points and checks."""
    out: list[tuple[Loc, str]] = []
    sites = {s.name: s for s in cfg.sites}
    services = {s.name for s in cfg.services}
    vantages = {v.name for v in cfg.vantage_points} | {cfg.server.vantage}
    checks = {f"{svc.name}/{c.name}" for svc, c in cfg.iter_checks()}
    seen: set[str] = set()
    for i, plan in enumerate(failover_config(cfg).plans):
        base: Loc = ("failover", "plans", i)
        if plan.name in seen:
            out.append(((*base, "name"), f"duplicate name {plan.name!r}"))
        seen.add(plan.name)
        for key in ("primary", "mirror"):
            site = sites.get(getattr(plan, key))
            if site is None or site.kind != "datacentre":
                out.append(((*base, key), f"{getattr(plan, key)!r} is not a datacentre in sites"))
        if plan.primary == plan.mirror:
            out.append(((*base, "mirror"), "the mirror must differ from the primary"))
        trig = plan.trigger
        if trig.datacentre is not None and trig.datacentre not in sites:
            out.append(((*base, "trigger", "datacentre"), f"unknown site {trig.datacentre!r}"))
        for j, name in enumerate(trig.services):
            if name not in services:
                out.append(((*base, "trigger", "services", j), f"unknown service {name!r}"))
        for j, name in enumerate(trig.vantage_points or []):
            if name not in vantages:
                out.append(
                    ((*base, "trigger", "vantage_points", j), f"unknown vantage point {name!r}")
                )
        for j, name in enumerate(plan.preflight.mirror_services or []):
            if name not in services:
                out.append(
                    ((*base, "preflight", "mirror_services", j), f"unknown service {name!r}")
                )
        for j, check in enumerate(plan.verification.checks):
            if check not in checks:
                out.append(
                    (
                        (*base, "verification", "checks", j),
                        f"unknown check {check!r} (service/check)",
                    )
                )
        if not trigger_services(plan, cfg) and trig.datacentre is not None:
            out.append(((*base, "trigger", "datacentre"), "this site has no services to watch"))
    return out


def failover_config(cfg: Config) -> FailoverConfig:
    """The ``failover`` section of a composed configuration."""
    return cfg.section("failover", FailoverConfig)
