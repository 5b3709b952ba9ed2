"""Who depends on whom, for suppressing children while a parent is down, and default severities.

Dedup keys are ``<kind>:<name>``: ``service:payroll``, ``site:library-north``,
``datacentre:dc-main``, ``device:core-sw1``, ``check:payroll/http``. A service's parents are the
services it ``depends_on``, its site's ``depends_on`` (the WAN link), and its site (or data
centre); a site's parents are its ``depends_on``; a check's parent is its service. Edges that
would close a cycle are dropped so a loop can never hide every alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from threenines.alerts.model import ConditionUpdate, Severity, severity_rank

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

_CRITICALITY: dict[str, Severity] = {
    "critical": "critical",
    "high": "major",
    "medium": "major",
    "low": "minor",
}
_KIND: dict[str, Severity] = {
    "datacentre": "critical",
    "site": "critical",
    "device": "major",
    "check": "minor",
}


@dataclass(frozen=True)
class Topology:
    parents: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    criticality: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(
        cls, parents: Mapping[str, tuple[str, ...] | list[str]], **kw: Mapping[str, str]
    ) -> Topology:
        return cls(MappingProxyType(_acyclic({k: tuple(v) for k, v in parents.items()})), **kw)

    def ancestors(self, key: str) -> list[str]:
        """Parents, grandparents... nearest first, each once."""
        out: list[str] = []
        todo = list(self.parents.get(key, ()))
        while todo:
            cur = todo.pop(0)
            if cur == key or cur in out:
                continue
            out.append(cur)
            todo.extend(self.parents.get(cur, ()))
        return out


def site_key(cfg: Config, site: str) -> str:
    s = cfg.site(site)
    return f"datacentre:{site}" if s is not None and s.kind == "datacentre" else f"site:{site}"


def _dep_key(cfg: Config, name: str) -> str:
    return f"service:{name}" if cfg.service(name) is not None else f"device:{name}"


def from_config(cfg: Config) -> Topology:
    parents: dict[str, list[str]] = {}
    for site in cfg.sites:
        parents[site_key(cfg, site.name)] = [_dep_key(cfg, d) for d in site.depends_on]
    for svc in cfg.services:
        key = f"service:{svc.name}"
        home = cfg.site(svc.site)
        deps = [f"service:{d}" for d in svc.depends_on]
        deps += [_dep_key(cfg, d) for d in (home.depends_on if home else []) if d != svc.name]
        deps.append(site_key(cfg, svc.site))
        parents[key] = deps
        for check in svc.checks:
            parents[f"check:{svc.name}/{check.name}"] = [key]
    crit = {f"service:{s.name}": s.criticality for s in cfg.services}
    return Topology.of(parents, criticality=MappingProxyType(crit))


def _acyclic(parents: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Drop (deterministically, in key order) every edge that closes a cycle."""
    kept: dict[str, list[str]] = {}

    def reaches(src: str, dst: str) -> bool:
        todo, seen = [src], set()
        while todo:
            cur = todo.pop()
            if cur == dst:
                return True
            if cur not in seen:
                seen.add(cur)
                todo.extend(kept.get(cur, ()))
        return False

    for child in sorted(parents):
        for parent in parents[child]:
            if parent != child and not reaches(parent, child):
                kept.setdefault(child, []).append(parent)
    return {k: tuple(v) for k, v in kept.items()}


def severity_for(update: ConditionUpdate, topo: Topology) -> Severity:
    """Explicit severity wins; else by kind (service: by criticality); degraded is one lower."""
    if update.severity is not None:
        return update.severity
    if update.kind == "service":
        sev = _CRITICALITY.get(topo.criticality.get(update.key, "medium"), "major")
    else:
        sev = _KIND.get(update.kind, "major")
    if update.status == "degraded":
        sev = ("critical", "major", "minor", "info", "info")[severity_rank(sev) + 1]
    return sev
