"""Device references on sites and services: ``core-sw1`` or ``wan-rtr/if:ge0``.

Part of the core's service model: what a service cannot work without is an input of the
service-state rule. Which devices exist is the collectors' business (their cross-check).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from threenines.core.config.base import _NAME

PREFIX = "device:"  # check_id prefix of SNMP availability results (collectors/snmp_poll.py)
IF = "/if:"


def _ref(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a device reference is a string: DEVICE or DEVICE/if:IFNAME")
    ref = value.removeprefix(PREFIX)  # "device:core-sw1" (as in /metrics and status) is fine too
    name, sep, ifname = ref.partition(IF)
    if not _NAME.match(name) or (sep and not ifname.strip()):
        raise ValueError(
            f"{value!r} is not a device reference: use DEVICE or DEVICE/if:IFNAME "
            "(e.g. core-sw1 or wan-rtr/if:ge0), DEVICE being a name in snmp.devices"
        )
    return ref


DeviceRef = Annotated[str, BeforeValidator(_ref)]
