"""The SNMP devices and their uplinks: each one's state now and over the last 24 hours.

A device's state is what the availability engine counts for it (``device:<name>`` and
``device:<name>/if:<ifName>`` intervals polled from the server's vantage point, held for
``availability.devices.grace``: ``timeline.from_rows``, as ``Estate`` builds device timelines),
and which sites and services need it (``availability.devices``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from threenines.availability.devices import component_ids, grace, service_components
from threenines.availability.store import load_intervals
from threenines.availability.timeline import NO_DATA, from_rows, state_at
from threenines.collectors.config import snmp_config
from threenines.console.service_view import DAY, Span, strip

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config


@dataclass(frozen=True, slots=True)
class Component:
    label: str  # the device, or "uplink ge0"
    component: str
    state: str
    spans: tuple[Span, ...]
    needed_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceView:
    name: str
    site: str
    address: str
    parts: tuple[Component, ...]


def devices(engine: Engine, cfg: Config, now: float | None = None) -> list[DeviceView]:
    now = time.time() if now is None else now
    start = now - DAY
    snmp = snmp_config(cfg)
    needs: dict[str, list[str]] = {}
    for site in cfg.sites:
        for c in component_ids(site.devices):
            needs.setdefault(c, []).append(f"site {site.name}")
    for svc in cfg.services:
        for c in service_components(cfg, svc):
            if f"site {svc.site}" not in needs.get(c, []):
                needs.setdefault(c, []).append(svc.name)
    keys = []
    for dev in snmp.devices:
        keys += [(c, cfg.server.vantage) for c in component_ids([dev.name, *(
            f"{dev.name}/if:{u}" for u in dev.uplinks)])]  # fmt: skip
    rows = load_intervals(engine, keys, start, now) if keys else {}

    def fmt(t: float) -> str:
        return datetime.fromtimestamp(t, cfg.tz).strftime("%H:%M")

    out = []
    for dev in snmp.devices:
        parts = []
        for label, ref in [(dev.name, dev.name), *((f"uplink {u}", f"{dev.name}/if:{u}")
                                                    for u in dev.uplinks)]:  # fmt: skip
            cid = component_ids([ref])[-1]
            tl = from_rows(rows.get((cid, cfg.server.vantage), ()), now, grace(cfg, cid))
            seg = state_at(tl, now - 1e-3)
            state = seg.state if seg else NO_DATA
            spans = strip(tl, start, now, fmt)
            parts.append(Component(label, cid, state, spans, tuple(needs.get(cid, ()))))
        out.append(DeviceView(dev.name, dev.site, dev.address, tuple(parts)))
    return out
