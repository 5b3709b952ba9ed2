"""SNMP devices and uplinks as parts of a site's or service's availability.

``devices: [core-sw1, wan-rtr/if:ge0]`` on a site or a service names what it cannot work
without: a device's reachability (``core-sw1``) or a named interface's state
(``wan-rtr/if:ge0``, which must be one of the device's ``uplinks``). The SNMP poller stores
these as results ``device:<name>`` and ``device:<name>/if:<ifName>`` from the server's vantage
point, in the same state intervals as probes, so the engine reads them like any check.

Semantics (see ``state.rule.require_parts``): a service is down while one of its devices (its
own and its site's) is down, and the incident names the device as the cause. An uplink reference
also requires its device: a router that does not answer cannot be forwarding. This module is
imported by the config schema, so it stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from threenines.collectors.config import poll_max_gap, snmp_config
from threenines.core.config.devices import IF, PREFIX

if TYPE_CHECKING:
    from threenines.collectors.config import SnmpConfig
    from threenines.core.config.schema import Config, Service

Loc = tuple[str | int, ...]


def component_ids(refs: list[str]) -> list[str]:
    """Store check ids for ``refs``, an uplink's device first, without duplicates."""
    out: list[str] = []
    for ref in refs:
        name, sep, _ = ref.partition(IF)
        out += [PREFIX + name, PREFIX + ref] if sep else [PREFIX + ref]
    return list(dict.fromkeys(out))


def service_components(cfg: Config, svc: Service) -> list[str]:
    """The device components a service needs: its site's, then its own."""
    site = cfg.site(svc.site)
    return component_ids([*(site.devices if site else []), *svc.devices])


def all_components(cfg: Config) -> list[str]:
    """Every device component that a site or service of ``cfg`` refers to."""
    refs = [r for s in cfg.sites for r in s.devices] + [r for s in cfg.services for r in s.devices]
    return component_ids(refs)


def grace(cfg: Config, component: str) -> float:
    """How long a device result holds without a newer one: ``poll_max_gap`` of its interval."""
    name = component.removeprefix(PREFIX).partition(IF)[0]
    dev = snmp_config(cfg).device(name)
    interval = (dev.interval if dev else None) or snmp_config(cfg).defaults.interval
    return poll_max_gap(interval)


def _problem(snmp: SnmpConfig, ref: str) -> str | None:
    name, sep, ifname = ref.partition(IF)
    dev = snmp.device(name)
    if dev is None:
        known = ", ".join(d.name for d in snmp.devices) or "none configured"
        return f"unknown device {name!r} (snmp.devices: {known})"
    if sep and ifname not in dev.uplinks:
        return (
            f"interface {ifname!r} is not in the uplinks of device {name!r} "
            "(only uplinks get an availability state: add it to snmp.devices[].uplinks)"
        )
    if sep and "interfaces" not in dev.profiles:
        return f"device {name!r} does not poll the interfaces profile, so {ifname!r} has no state"
    return None


def cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    """Every ``devices`` entry of a site or service names a device (and uplink) in ``snmp``."""
    refs: list[tuple[Loc, str]] = []
    for i, site in enumerate(cfg.sites):
        refs += [(("sites", i, "devices", k), ref) for k, ref in enumerate(site.devices)]
    for i, svc in enumerate(cfg.services):
        refs += [(("services", i, "devices", k), ref) for k, ref in enumerate(svc.devices)]
    problems = ((loc, _problem(snmp_config(cfg), ref)) for loc, ref in refs)
    return [(loc, p) for loc, p in problems if p is not None]
