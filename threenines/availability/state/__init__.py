"""The one rule that decides a check's and a service's state, used by every consumer.

Availability (figures and incidents), ``threenines status`` and ``/api/v1/status``, the alert
composer, the failover trigger, its pre-flight and the drills all call this package; nothing
else computes service state. The rule itself is written out in ``state.rule``; the text that
states it to people (the README's "How it counts", the board report's rules) is
``availability.accounting.RULES``, built from the constants the rule and the write path use.

- ``rule``: the decisions at one instant (check quorum, combination, devices) and the same
  decisions swept over timelines;
- ``spec``: what the rule needs of a service, from the configuration (``spec_for``), and the
  freshness ``grace`` of each check;
- ``evaluate``: the rule on store rows, over an interval (``timeline_of``) or at an instant
  (``service_state_at``).
"""

from threenines.availability.state.evaluate import (
    LABELS,
    CheckNow,
    Rows,
    ServiceNow,
    VantageNow,
    check_timelines,
    service_state_at,
    service_timeline,
    timeline_of,
)
from threenines.availability.state.rule import (
    check_state,
    combine,
    combine_checks,
    default_quorum,
    quorum,
    quorum_for,
    require,
    require_parts,
)
from threenines.availability.state.spec import (
    CheckSpec,
    PartSpec,
    ServiceSpec,
    grace,
    spec_for,
    specs,
)
from threenines.availability.timeline import DEGRADED, DOWN, NO_DATA, NO_QUORUM, UP

__all__ = [
    "DEGRADED",
    "DOWN",
    "LABELS",
    "NO_DATA",
    "NO_QUORUM",
    "UP",
    "CheckNow",
    "CheckSpec",
    "PartSpec",
    "Rows",
    "ServiceNow",
    "ServiceSpec",
    "VantageNow",
    "check_state",
    "check_timelines",
    "combine",
    "combine_checks",
    "default_quorum",
    "grace",
    "quorum",
    "quorum_for",
    "require",
    "require_parts",
    "service_state_at",
    "service_timeline",
    "spec_for",
    "specs",
    "timeline_of",
]
