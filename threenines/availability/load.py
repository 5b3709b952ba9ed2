"""The I/O edge of availability: load an ``Estate`` from the store, write daily summaries.

Everything here reads or writes the database and then hands over to the pure engine in
``threenines.availability``. Call it from a thread (``asyncio.to_thread``) in the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Engine

from threenines.availability import devices
from threenines.availability.engine import Estate, Inputs
from threenines.availability.history import DRILLS, exclusions_config, windows
from threenines.availability.incidents import incident_counts
from threenines.availability.periods import local_days, local_midnight
from threenines.availability.store import (
    DailySummary,
    drill_periods,
    load_intervals,
    maintenance_windows,
    write_daily,
)
from threenines.availability.timeline import Timeline
from threenines.core.config.schema import Config


def interval_keys(cfg: Config, services: list[str] | None = None) -> list[tuple[str, str]]:
    """Every (check_id, vantage) the configuration measures (for ``services`` only if given),
    and the SNMP device results (polled from the server's vantage) its sites and services need.
    """
    checks = [
        (f"{svc.name}/{check.name}", vantage)
        for svc, check in cfg.iter_checks()
        if services is None or svc.name in services
        for vantage in cfg.vantages_for(check)
    ]
    wanted = [s for s in cfg.services if services is None or s.name in services]
    parts = dict.fromkeys(c for s in wanted for c in devices.service_components(cfg, s))
    if services is None:
        parts.update(dict.fromkeys(devices.all_components(cfg)))
    return checks + [(c, cfg.server.vantage) for c in parts]


def load_estate(
    engine: Engine,
    cfg: Config,
    start: float,
    end: float,
    now: float,
    *,
    components: Mapping[str, Timeline] | None = None,
    services: list[str] | None = None,
    as_of: float | None = None,
) -> Estate:
    """Load intervals, stored maintenance and drills for ``[start, end)`` and build timelines.

    ``services`` limits loading to those services (a single-service query stays cheap);
    ``components`` are device or link timelines from other sources (SNMP), by name;
    ``as_of``: the maintenance windows in effect at that time (an issued report's figures
    recomputed as they were), by default now.
    """
    if services is not None:
        wanted = set(services)
        for name in list(wanted):
            svc = cfg.service(name)
            site = cfg.site(svc.site) if svc else None
            deps = [*(site.depends_on if site else []), *(svc.depends_on if svc else [])]
            wanted.update(d for d in deps if cfg.service(d))
        cfg = cfg.model_copy(update={"services": [s for s in cfg.services if s.name in wanted]})
    policy = exclusions_config(cfg)
    rows = load_intervals(engine, interval_keys(cfg), start, min(end, now))
    inputs = Inputs(
        rows=rows,
        maintenance=windows(engine, maintenance_windows, policy, start, end, as_of),
        drills=windows(engine, drill_periods, DRILLS, start, end, as_of),
        components=dict(components or {}),
    )
    return Estate(cfg, inputs, start, end, now)


def summarise_days(engine: Engine, cfg: Config, first: date, last: date, now: float) -> int:
    """Compute and store daily summaries (per check and per service) for local days
    ``first..last``; days not yet over are skipped. Returns the number of rows written.
    """
    tz = cfg.tz
    start, end = local_midnight(first, tz), min(local_midnight(last, tz) + 90000, now)
    est = load_estate(engine, cfg, start, end, now)
    out: list[DailySummary] = []
    for day, a, b in local_days(start, end, tz):
        if day > last or b > now or b - a < 82800:  # partial day: not over yet
            continue
        figs = {n: est.service(n, a, b) for n in est.services}
        incidents = est.incidents(a, b, figs)
        counts = incident_counts(incidents, {name: [name] for name in est.services})
        for name, svc in est.services.items():
            out.append(_summary("service", name, day, figs[name], counts[name]))
            for check in svc.checks:
                f = est.check(name, check, a, b)
                out.append(_summary("check", f"{name}/{check}", day, f, 0))
    return write_daily(engine, out)


def _summary(kind: str, subject: str, day: date, f, incidents: int) -> DailySummary:
    return DailySummary(
        kind=kind,
        subject=subject,
        day=day.isoformat(),
        start=f.start,
        end=f.end,
        up=f.up,
        degraded=f.degraded,
        down=f.down,
        nodata=f.nodata,
        no_quorum=f.no_quorum,
        maintenance=f.maintenance,
        drill=f.drill,
        outside_hours=f.outside_hours,
        incidents=incidents,
    )
