"""SNMP profiles, one module per profile, one registry keyed by the config name.

Each profile is a ``Profile`` (see ``base``): the OIDs it fetches, the metrics it produces and a
pure ``interpret``. ``system`` is always polled first (reachability and restart detection).
"""

from __future__ import annotations

from threenines.collectors.snmp_profiles.base import Context, Fetched, MetricSpec, Outcome, Profile
from threenines.collectors.snmp_profiles.environment import ENVIRONMENT
from threenines.collectors.snmp_profiles.hosts import HOST_RESOURCES, UCD
from threenines.collectors.snmp_profiles.interfaces import INTERFACES
from threenines.collectors.snmp_profiles.system import SYSTEM
from threenines.collectors.snmp_profiles.ups import UPS

PROFILES: dict[str, Profile] = {
    "system": SYSTEM,
    "interfaces": INTERFACES,
    "host-resources": HOST_RESOURCES,
    "ucd": UCD,
    "ups": UPS,
    "environment": ENVIRONMENT,
}

__all__ = ["PROFILES", "Context", "Fetched", "MetricSpec", "Outcome", "Profile"]
