"""system (SNMPv2-MIB): reachability, sysUpTime (a decrease is a reboot), sysName/sysDescr.

Always polled first: its answer is the device's availability result (``device:<name>``) and
its sysUpTime tells the other profiles whether counters restarted since the last poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from threenines.collectors.counters import restarted
from threenines.collectors.snmp_profiles.base import (
    Context,
    Fetched,
    MetricSpec,
    Outcome,
    Profile,
    num,
)
from threenines.core.durations import format_duration
from threenines.core.results import ProbeResult, Status


@dataclass(frozen=True, slots=True)
class SystemState:
    uptime_ticks: int | None = None
    ts: float | None = None
    sys_name: str = ""


def did_restart(f: Fetched, state: SystemState | None) -> bool:
    """Pure: did sysUpTime go backwards (not a 497-day wrap) since ``state``?"""
    ticks = f.scalars.get("sysUpTime")
    if state is None or state.ts is None or not isinstance(ticks, int):
        return False
    return restarted(state.uptime_ticks, ticks, f.ts - state.ts)


def _system(f: Fetched, ctx: Context, state: SystemState | None) -> Outcome:
    ticks = f.scalars.get("sysUpTime")
    name = str(f.scalars.get("sysName") or "")
    out = Outcome(state=SystemState(ticks if isinstance(ticks, int) else None, f.ts, name))
    uptime = num(ticks)
    if uptime is not None:
        out.readings.append(("uptime_seconds", "", uptime / 100))
    if ctx.restarted and state is not None and state.uptime_ticks is not None:
        before = format_duration(round(state.uptime_ticks / 100))
        after = format_duration(round((uptime or 0) / 100))
        out.events.append(
            ctx.event(
                "reboot",
                "major",
                None,
                f"{ctx.device} restarted: sysUpTime went from {before} to {after}",
                details={"previous_ticks": state.uptime_ticks, "ticks": ticks},
            )
        )
    reason = f"answered ({name or 'no sysName'}, up {format_duration(round((uptime or 0) / 100))})"
    details = {"sys_name": name, "sys_descr": str(f.scalars.get("sysDescr") or "")[:200]}
    out.results.append((ctx.check_id, ProbeResult.up(0.0, reason, details=details)))
    return out


def device_down(ctx: Context, code: str, message: str, duration: float) -> Outcome:
    """The outcome of a poll that got no usable answer: the device is down for availability,
    and its uplinks are unknown (we cannot see them, which is not the same as down)."""
    out = Outcome()
    out.results.append((ctx.check_id, ProbeResult.down(duration, code, message)))
    for uplink in ctx.uplinks:
        out.results.append(
            (
                f"{ctx.check_id}/if:{uplink}",
                ProbeResult.make(
                    Status.UNKNOWN, duration, code, f"device {ctx.device} not answering: {message}"
                ),
            )
        )
    return out


SYSTEM = Profile(
    name="system",
    scalars={
        "sysDescr": "1.3.6.1.2.1.1.1.0",
        "sysUpTime": "1.3.6.1.2.1.1.3.0",
        "sysName": "1.3.6.1.2.1.1.5.0",
    },
    columns={},
    metrics=(
        MetricSpec("up", "1 if the device answered its last poll"),
        MetricSpec("uptime_seconds", "sysUpTime of the agent"),
    ),
    interpret=_system,
)
