"""The ``reports:`` configuration section: board reports sent on a schedule.

A schedule sends one period's report (the month, quarter or year just ended) on ``day`` at
``time`` of the month after the period ends, local to the top-level ``timezone``, to receivers
named in ``alerts.receivers`` (Apprise URLs: an email receiver gets the files attached).
Delivery reuses the alerts outbox settings (retries, backoff, lease), with report-sized
defaults: rendering a PDF and mailing it takes longer than an SMS.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from threenines.alerts.config import Outbox, alerts_config
from threenines.core.config.base import Name, StrictModel
from threenines.core.durations import Duration

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

Loc = tuple[str | int, ...]
PeriodKind = Literal["monthly", "quarterly", "yearly"]
Format = Literal["pdf", "html", "csv", "json"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _delivery_defaults() -> Outbox:
    return Outbox(
        max_attempts=10, backoff=60.0, backoff_max=3600.0, lease=900.0, poll_interval=60.0,
        timeout=120.0,
    )  # fmt: skip


class ReportSchedule(StrictModel):
    name: Name
    period: PeriodKind = Field("monthly", description="Which period each report covers")
    day: int = Field(
        1, ge=1, le=28, description="Day of the month after the period ends to send on (1-28)"
    )
    time: str = Field("07:00", description="Local time (HH:MM) to send at, in the top timezone")
    formats: list[Format] = Field(
        default_factory=lambda: list[Format](["pdf"]), min_length=1, description="Files attached"
    )
    site: Name | None = Field(None, description="Only this site or data centre (default: all)")
    receivers: list[Name] = Field(min_length=1, description="Names from alerts.receivers")
    catch_up: Duration = Field(
        7 * 86400.0,
        gt=0,
        description="A send missed while the service was down is still made this long after "
        "its time; older periods are skipped (send them with `threenines report send`)",
    )

    @field_validator("time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not HH:MM (00:00 to 23:59)")
        return value

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[Format]) -> list[Format]:
        if len(set(value)) != len(value):
            raise ValueError("a format is listed twice")
        return value

    @property
    def hour_minute(self) -> tuple[int, int]:
        hh, mm = self.time.split(":")
        return int(hh), int(mm)


class ReportsConfig(StrictModel):
    enabled: bool = True
    schedules: list[ReportSchedule] = Field(default_factory=list)
    delivery: Outbox = Field(
        default_factory=_delivery_defaults,
        description="Retries, backoff, lease and timeout for report deliveries",
    )

    def schedule(self, name: str) -> ReportSchedule | None:
        return next((s for s in self.schedules if s.name == name), None)


def cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    """Unknown receivers and sites, duplicate schedule names."""
    out: list[tuple[Loc, str]] = []
    receivers = {r.name for r in alerts_config(cfg).receivers}
    sites = {s.name for s in cfg.sites}
    seen: set[str] = set()
    for i, sched in enumerate(reports_config(cfg).schedules):
        if sched.name in seen:
            out.append((("reports", "schedules", i, "name"), f"duplicate name {sched.name!r}"))
        seen.add(sched.name)
        if sched.site is not None and sched.site not in sites:
            out.append((("reports", "schedules", i, "site"), f"unknown site {sched.site!r}"))
        for j, rec in enumerate(sched.receivers):
            if rec not in receivers:
                out.append(
                    (
                        ("reports", "schedules", i, "receivers", j),
                        f"unknown receiver {rec!r} (not in alerts.receivers)",
                    )
                )
    return out


def reports_config(cfg: Config) -> ReportsConfig:
    """The ``reports`` section of a composed configuration."""
    return cfg.section("reports", ReportsConfig)
