"""The composition root: the one list of areas, and what each brings.

Everything that needs "all the areas" (the configuration root, the Alembic version locations,
the CLI, the API, the run loop) is built from ``AREAS`` here. An area's own ``area.py`` says
what it brings; this module only lists them, in the order their hooks run.
"""

from __future__ import annotations

from pathlib import Path

from threenines.agents.area import AREA as AGENTS
from threenines.alerts.area import AREA as ALERTS
from threenines.availability.area import AREA as AVAILABILITY
from threenines.collectors.area import AREA as COLLECTORS
from threenines.console.area import AREA as CONSOLE
from threenines.core.area import Area, Composition
from threenines.failover.area import AREA as FAILOVER
from threenines.lab.area import AREA as LAB
from threenines.probes.area import AREA as PROBES
from threenines.reports.area import AREA as REPORTS
from threenines.security.area import AREA as SECURITY

AREAS: tuple[Area, ...] = (
    PROBES,
    COLLECTORS,
    AGENTS,
    AVAILABILITY,
    ALERTS,
    SECURITY,
    FAILOVER,
    REPORTS,
    LAB,
    CONSOLE,
)
CORE_MIGRATIONS = Path(__file__).resolve().parent.parent / "core" / "migrations" / "versions"
COMPOSITION = Composition(AREAS, CORE_MIGRATIONS)
