"""Cross-checks of the availability fields: maintenance scopes, weights, quorum, devices.

The models themselves are the core's (``threenines.core.config.calendar`` and the service's
state-rule fields in ``threenines.core.config.schema``): every area reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from threenines.availability.devices import cross_check as devices_cross_check
from threenines.core.config.base import StrictModel
from threenines.core.durations import Duration

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

Loc = tuple[str | int, ...]


def cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    """Names used by maintenance windows and service availability fields must exist."""
    out: list[tuple[Loc, str]] = []
    sites = {s.name for s in cfg.sites}
    services = {s.name for s in cfg.services}
    for i, win in enumerate(cfg.maintenance):
        out += _unknown(("maintenance", i, "services"), win.services, services, "service")
        out += _unknown(("maintenance", i, "sites"), win.sites, sites, "site")
    for i, svc in enumerate(cfg.services):
        checks = {c.name for c in svc.checks}
        for name in svc.weights:
            if name not in checks:
                out.append((("services", i, "weights", name), f"unknown check {name!r}"))
        if svc.weights and svc.combine != "weighted":
            out.append((("services", i, "weights"), "weights need combine: weighted"))
        if svc.quorum is not None:
            for j, check in enumerate(svc.checks):
                n = len(cfg.vantages_for(check))
                if svc.quorum > n:
                    msg = f"quorum {svc.quorum} is more than the {n} vantage point(s) of this check"
                    out.append((("services", i, "checks", j, "vantage"), msg))
    return out + devices_cross_check(cfg)


def _unknown(loc: Loc, names: list[str], known: set[str], what: str) -> list[tuple[Loc, str]]:
    return [((*loc, k), f"unknown {what} {n!r}") for k, n in enumerate(names) if n not in known]


class ExclusionsConfig(StrictModel):
    """``exclusions:``: how retroactive maintenance windows take effect."""

    retroactive: Literal["second_admin", "none"] = Field(
        "second_admin",
        description="second_admin: a window made after its start counts only once a second "
        "person with the admin role approves it; none: at once (still marked retroactive)",
    )
    grace: Duration = Field(
        60.0, ge=0, le=3600, description="A window starting this little before it is made is "
        "not retroactive (typing takes time)",
    )  # fmt: skip


def exclusions_config(cfg: Config) -> ExclusionsConfig:
    return cfg.section("exclusions", ExclusionsConfig)
