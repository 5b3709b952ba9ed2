"""interfaces (IF-MIB ifTable + ifXTable): status, bit rates, errors and discards per second.

64-bit HC octet counters are used when the agent has them, 32-bit ones otherwise (a change of
width gives no rate for that poll). Rates go through ``counters.counter_rate``: wraps are
handled, restarts and impossible jumps give no rate rather than a spike. Named uplinks become
availability results ``device:<name>/if:<ifName>``; an uplink that is administratively up but
operationally down raises a ``link_down`` event (and ``link_up`` when it recovers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from threenines.collectors.counters import CounterSample, counter_rate, link_max_bps
from threenines.collectors.snmp_profiles.base import (
    Context,
    Fetched,
    MetricSpec,
    Outcome,
    Profile,
    num,
)
from threenines.core.results import ProbeResult

UP, DOWN = 1, 2
OPER = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent"}
OPER |= {7: "lowerLayerDown"}
MIN_FRAME_BITS = 64 * 8  # an interface cannot pass more frames than speed / minimum frame
# (metric, 64-bit column, 32-bit column, multiplier)
RATES = (
    ("if_in_bps", "ifHCInOctets", "ifInOctets", 8),
    ("if_out_bps", "ifHCOutOctets", "ifOutOctets", 8),
    ("if_in_errors_ps", None, "ifInErrors", 1),
    ("if_out_errors_ps", None, "ifOutErrors", 1),
    ("if_in_discards_ps", None, "ifInDiscards", 1),
    ("if_out_discards_ps", None, "ifOutDiscards", 1),
)


@dataclass(slots=True)
class InterfacesState:
    counters: dict[tuple[str, str], CounterSample] = field(default_factory=dict)
    uplink_down: dict[str, bool] = field(default_factory=dict)


def interface_name(index: str, row: Any) -> str:
    return str(row.get("ifName") or row.get("ifDescr") or f"if{index}")


def speed_bps(row: Any) -> float | None:
    high = num(row.get("ifHighSpeed"))
    if high:
        return high * 1_000_000
    return num(row.get("ifSpeed"))


def _sample(row: Any, hc: str | None, low: str, ts: float) -> CounterSample | None:
    disc = row.get("ifCounterDiscontinuityTime")
    disc = disc if isinstance(disc, int) else None
    if hc is not None and isinstance(row.get(hc), int):
        return CounterSample(row[hc], 64, ts, disc)
    if isinstance(row.get(low), int):
        return CounterSample(row[low], 32, ts, disc)
    return None


def rates(
    name: str, row: Any, ts: float, prev: InterfacesState, new: InterfacesState, restart: bool
) -> list[tuple[str, str, float]]:
    """Rates for one interface; records this poll's samples in ``new``."""
    out = []
    speed = speed_bps(row)
    for metric, hc, low, mult in RATES:
        sample = _sample(row, hc, low, ts)
        if sample is None:
            continue
        new.counters[(name, metric)] = sample
        before = None if restart else prev.counters.get((name, metric))
        cap = link_max_bps(speed)
        if cap is not None and mult == 1:
            cap /= MIN_FRAME_BITS
        elif cap is not None:
            cap /= mult
        rate = counter_rate(before, sample, max_rate=cap)
        if rate is not None:
            out.append((metric, name, rate * mult))
    return out


def _uplink(name: str, row: Any, ctx: Context, prev: InterfacesState, out: Outcome) -> bool:
    admin, oper = row.get("ifAdminStatus"), row.get("ifOperStatus")
    check = f"{ctx.check_id}/if:{name}"
    down = admin == UP and oper != UP
    if oper == UP:
        result = ProbeResult.up(0.0, f"{name} is up")
    elif admin != UP:
        result = ProbeResult.down(0.0, "admin_down", f"{name} is administratively down")
    else:
        state = OPER.get(oper, str(oper))
        result = ProbeResult.down(0.0, "link_down", f"{name} is {state} (admin up)")
    out.results.append((check, result))
    was_down = prev.uplink_down.get(name)
    if down and not was_down:
        out.events.append(ctx.event("link_down", "major", name, f"uplink {name}: {result.reason}"))
    elif not down and was_down:
        out.events.append(ctx.event("link_up", "info", name, f"uplink {name} is up again"))
    return down


def _wanted(name: str, row: Any, ctx: Context) -> bool:
    if ctx.include is None:
        return True
    return any(fnmatchcase(name, pat) for pat in ctx.include)


def _interfaces(f: Fetched, ctx: Context, state: InterfacesState | None) -> Outcome:
    prev = state or InterfacesState()
    new = InterfacesState()
    out = Outcome(state=new)
    seen: dict[str, Any] = {}
    for index, row in sorted(f.rows.items(), key=lambda kv: int(kv[0].split(".")[0])):
        name = interface_name(index, row)
        if name in seen:
            name = f"{name}#{index}"  # duplicate names happen (e.g. sub-interfaces)
        seen[name] = row
        for alias in {name, str(row.get("ifDescr") or "")} & set(ctx.uplinks):
            new.uplink_down[alias] = _uplink(alias, row, ctx, prev, out)
        if not (_wanted(name, row, ctx) or name in ctx.uplinks):
            continue
        out.readings.append(("if_oper_up", name, float(row.get("ifOperStatus") == UP)))
        out.readings.append(("if_admin_up", name, float(row.get("ifAdminStatus") == UP)))
        speed = speed_bps(row)
        if speed is not None:
            out.readings.append(("if_speed_bps", name, speed))
        out.readings += rates(name, row, f.ts, prev, new, ctx.restarted)
    for missing in set(ctx.uplinks) - set(new.uplink_down):
        reason = f"no interface named {missing!r} on {ctx.device}"
        out.results.append(
            (f"{ctx.check_id}/if:{missing}", ProbeResult.down(0.0, "no_interface", reason))
        )
    return out


INTERFACES = Profile(
    name="interfaces",
    scalars={},
    columns={
        "ifDescr": "1.3.6.1.2.1.2.2.1.2",
        "ifSpeed": "1.3.6.1.2.1.2.2.1.5",
        "ifAdminStatus": "1.3.6.1.2.1.2.2.1.7",
        "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
        "ifInOctets": "1.3.6.1.2.1.2.2.1.10",
        "ifInDiscards": "1.3.6.1.2.1.2.2.1.13",
        "ifInErrors": "1.3.6.1.2.1.2.2.1.14",
        "ifOutOctets": "1.3.6.1.2.1.2.2.1.16",
        "ifOutDiscards": "1.3.6.1.2.1.2.2.1.19",
        "ifOutErrors": "1.3.6.1.2.1.2.2.1.20",
        "ifName": "1.3.6.1.2.1.31.1.1.1.1",
        "ifHCInOctets": "1.3.6.1.2.1.31.1.1.1.6",
        "ifHCOutOctets": "1.3.6.1.2.1.31.1.1.1.10",
        "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15",
        "ifCounterDiscontinuityTime": "1.3.6.1.2.1.31.1.1.1.19",
    },
    metrics=(
        MetricSpec("if_oper_up", "1 if ifOperStatus is up", "ifName"),
        MetricSpec("if_admin_up", "1 if ifAdminStatus is up", "ifName"),
        MetricSpec("if_speed_bps", "ifHighSpeed (or ifSpeed) in bits per second", "ifName"),
        MetricSpec("if_in_bps", "Received bits per second", "ifName"),
        MetricSpec("if_out_bps", "Sent bits per second", "ifName"),
        MetricSpec("if_in_errors_ps", "Inbound errors per second", "ifName"),
        MetricSpec("if_out_errors_ps", "Outbound errors per second", "ifName"),
        MetricSpec("if_in_discards_ps", "Inbound discards per second", "ifName"),
        MetricSpec("if_out_discards_ps", "Outbound discards per second", "ifName"),
    ),
    interpret=_interfaces,
)
