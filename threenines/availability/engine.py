"""The availability engine: configuration + interval rows + exclusions -> figures.

``Estate`` builds every timeline once over a span (by the state rule, ``availability.state``:
quorum per check, combination and devices per service; then exclusions per service) and then
answers figures for any window inside that span, cheaply:
the monthly report, its daily heatmap and its burn rates all reuse one ``Estate``. Pure: the
caller loads the rows (``threenines.availability.store``) and passes ``now``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from threenines.availability import devices
from threenines.availability.accounting import Figures, account, pool
from threenines.availability.incidents import Downtime, Incident, derive
from threenines.availability.intervals import IntervalSet, buckets, clip
from threenines.availability.schedule import Exclusion, excluded_for, expand_all, outside_hours
from threenines.availability.state import (
    ServiceSpec,
    check_timelines,
    grace,
    require,
    service_timeline,
    spec_for,
)
from threenines.availability.timeline import IntervalRow, Timeline, combine_components, from_rows

if TYPE_CHECKING:
    from threenines.core.config.schema import Config, Service

BURN_WINDOWS = {"1h": 3600.0, "6h": 6 * 3600.0, "1d": 86400.0, "3d": 3 * 86400.0}


def target_for(cfg: Config, svc: Service) -> float:
    """A service's availability target in percent: its own, else the configuration's default."""
    return svc.availability_target or cfg.target


@dataclass(frozen=True)
class Inputs:
    """Everything loaded from the store for a span.

    ``rows`` maps ``(check_id, vantage)`` to that key's interval rows. ``maintenance`` and
    ``drills`` are concrete windows from the database (config windows are expanded here).
    ``components`` are timelines of non-service things (devices, links) that sites and
    services may depend on; ``site_components`` adds such timelines to a site's own state.
    The SNMP devices that sites and services list (``devices:``) are read from ``rows`` under
    ``(device:<name>[/if:<ifName>], <server vantage>)``, unless ``components`` has them.
    """

    rows: Mapping[tuple[str, str], Sequence[IntervalRow]]
    maintenance: Sequence[Exclusion] = ()
    drills: Sequence[Exclusion] = ()
    components: Mapping[str, Timeline] = field(default_factory=dict)
    site_components: Mapping[str, Mapping[str, Timeline]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Svc:
    config: Service
    spec: ServiceSpec
    timeline: Timeline
    checks: dict[str, Timeline]
    maintenance: IntervalSet
    drills: IntervalSet
    outside: IntervalSet
    ends: list[float] = field(default_factory=list)  # segment ends, for bisecting a window

    def window(self, start: float, end: float) -> Timeline:
        """The segments overlapping ``[start, end)`` without scanning the whole span."""
        i = bisect_right(self.ends, start)
        out = []
        for seg in self.timeline[i:]:
            if seg.start >= end:
                break
            out.append(seg)
        return out


class Estate:
    """Timelines of every service over ``[start, end)`` as known at ``now``."""

    def __init__(self, cfg: Config, inputs: Inputs, start: float, end: float, now: float):
        self.cfg = cfg
        self.inputs = inputs
        self.start = start
        self.end = min(end, now)
        self.now = now
        config_windows = expand_all(cfg.maintenance, cfg.tz, start, end)
        maint = [*config_windows, *inputs.maintenance]
        self.maintenance_windows = sorted(maint, key=lambda e: e.start)
        self.devices = self._devices()
        self.services: dict[str, _Svc] = {}
        for svc in cfg.services:
            self.services[svc.name] = self._build(svc, maint)

    def _devices(self) -> dict[str, Timeline]:
        """Timelines of the devices the configuration refers to (one vantage: the server)."""
        out = {}
        for cid in devices.all_components(self.cfg):
            given = self.inputs.components.get(cid)
            if given is None:
                rows = self.inputs.rows.get((cid, self.cfg.server.vantage), ())
                given = from_rows(rows, self.end, grace(self.cfg, cid))
            out[cid] = given
        return out

    def _build(self, svc: Service, maint: Sequence[Exclusion]) -> _Svc:
        spec = spec_for(self.cfg, svc)
        checks = check_timelines(spec, self.inputs.rows, self.end)
        tl = service_timeline(spec, checks, self.devices)
        tl = [s for s in tl if s.end > self.start and s.start < self.end]
        return _Svc(
            config=svc,
            spec=spec,
            timeline=tl,
            ends=[s.end for s in tl],
            checks=checks,
            maintenance=excluded_for(maint, svc.name, svc.site),
            drills=excluded_for(self.inputs.drills, svc.name, svc.site),
            outside=outside_hours(svc.hours, self.cfg.tz, self.start, self.end),
        )

    # -- figures --------------------------------------------------------------------------

    def target(self, service: str) -> float:
        return target_for(self.cfg, self.services[service].config)

    def _window(self, start: float | None, end: float | None) -> tuple[float, float]:
        a = self.start if start is None else max(start, self.start)
        b = self.end if end is None else min(end, self.end)
        return a, max(a, b)

    def service(self, name: str, start: float | None = None, end: float | None = None) -> Figures:
        s = self.services[name]
        a, b = self._window(start, end)
        return account(
            s.window(a, b),
            a,
            b,
            self.target(name),
            maintenance=clip(s.maintenance, a, b),
            drills=clip(s.drills, a, b),
            outside_hours=clip(s.outside, a, b),
            degraded_is_up=s.config.degraded_is_up,
        )

    def check(
        self, service: str, check: str, start: float | None = None, end: float | None = None
    ) -> Figures:
        """A single check's figures under its service's exclusions."""
        s = self.services[service]
        a, b = self._window(start, end)
        return account(
            s.checks[check],
            a,
            b,
            self.target(service),
            maintenance=s.maintenance,
            drills=s.drills,
            outside_hours=s.outside,
            degraded_is_up=s.config.degraded_is_up,
        )

    def site_services(self, site: str) -> list[str]:
        return [n for n, s in self.services.items() if s.config.site == site]

    def pooled(
        self, names: Sequence[str], start: float | None = None, end: float | None = None
    ) -> Figures:
        """Service-time pooled figures of ``names`` against the default target."""
        a, b = self._window(start, end)
        return pool((self.service(n, a, b) for n in names), a, b, self.cfg.target)

    def daily(
        self, figures: Mapping[str, Figures], edges: Sequence[float]
    ) -> list[tuple[float, float]]:
        """Pooled (good, bad) seconds per bucket ``[edges[i], edges[i+1])`` from the window
        figures of some services: one linear pass per service instead of one per day."""
        good = [0.0] * (len(edges) - 1)
        bad = [0.0] * (len(edges) - 1)
        for f in figures.values():
            for i, v in enumerate(buckets(f.good_spans, edges)):
                good[i] += v
            for i, v in enumerate(buckets(f.bad_spans, edges)):
                bad[i] += v
        return list(zip(good, bad, strict=True))

    def site(self, name: str, start: float | None = None, end: float | None = None) -> Figures:
        return self.pooled(self.site_services(name), start, end)

    def overall(self, start: float | None = None, end: float | None = None) -> Figures:
        return self.pooled(list(self.services), start, end)

    def site_timeline(self, name: str) -> Timeline:
        """Whole-site state (partial outages are degraded) from services and components."""
        parts = {n: self.services[n].timeline for n in self.site_services(name)}
        parts.update(self.inputs.site_components.get(name, {}))
        tl = combine_components(parts)
        site = self.cfg.site(name)
        needed = {c: self.devices[c] for c in devices.component_ids(site.devices if site else [])}
        # The site's own devices (its WAN uplink) are required: one down is the site down.
        return require(tl, needed, measured=bool(parts)) if needed else tl

    def burn_rates(self, service: str) -> dict[str, float | None]:
        """Burn rate over the last 1h/6h/1d/3d before the end of the span."""
        return {
            label: self.service(service, self.end - secs, self.end).burn_rate
            for label, secs in BURN_WINDOWS.items()
        }

    # -- incidents ------------------------------------------------------------------------

    def dependencies(self, service: str) -> tuple[str, ...]:
        svc = self.services[service].config
        site = self.cfg.site(svc.site)
        # Devices first: when a router is down, it (not a service behind it) is the cause.
        deps = [
            *devices.service_components(self.cfg, svc),
            *(site.depends_on if site else []),
            *svc.depends_on,
        ]
        return tuple(dict.fromkeys(d for d in deps if d != service))

    def incidents(
        self,
        start: float | None = None,
        end: float | None = None,
        figures: Mapping[str, Figures] | None = None,
    ) -> list[Incident]:
        """Incidents in the window; pass ``figures`` (name -> Figures) to reuse them."""
        a, b = self._window(start, end)
        figs: Mapping[str, Figures] = figures or {n: self.service(n, a, b) for n in self.services}
        downtime = {
            name: Downtime(list(figs[name].bad_spans), s.timeline, self.dependencies(name))
            for name, s in self.services.items()
        }
        return derive(downtime, {**self.inputs.components, **self.devices}, a, b)
