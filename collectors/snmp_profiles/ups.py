"""ups (UPS-MIB, RFC 1628): on battery, battery status, minutes remaining, output load.

Transitions become events: mains lost (critical), mains back (info), battery low (critical).
"""

from __future__ import annotations

from dataclasses import dataclass

from threenines.collectors.snmp_profiles.base import (
    Context,
    Fetched,
    MetricSpec,
    Outcome,
    Profile,
    num,
)

ON_BATTERY = 5  # upsOutputSource: battery(5)
BATTERY_LOW = (3, 4)  # upsBatteryStatus: batteryLow(3), batteryDepleted(4)
BATTERY_STATUS = {1: "unknown", 2: "normal", 3: "low", 4: "depleted"}


@dataclass(frozen=True, slots=True)
class UpsState:
    on_battery: bool | None = None
    battery_low: bool | None = None


def _ups(f: Fetched, ctx: Context, state: UpsState | None) -> Outcome:
    source, status = f.scalars.get("upsOutputSource"), f.scalars.get("upsBatteryStatus")
    if source is None and status is None:
        return Outcome(state=state)  # not a UPS (or the agent lacks UPS-MIB)
    prev = state or UpsState()
    on_battery = source == ON_BATTERY if source is not None else None
    low = status in BATTERY_LOW if status is not None else None
    out = Outcome(state=UpsState(on_battery, low))
    minutes = num(f.scalars.get("upsEstimatedMinutesRemaining"))
    if on_battery is not None:
        out.readings.append(("ups_on_battery", "", float(on_battery)))
    for metric, key in (
        ("ups_battery_status", "upsBatteryStatus"),
        ("ups_minutes_remaining", "upsEstimatedMinutesRemaining"),
        ("ups_charge_percent", "upsEstimatedChargeRemaining"),
        ("ups_seconds_on_battery", "upsSecondsOnBattery"),
        ("ups_battery_temperature_celsius", "upsBatteryTemperature"),
    ):
        value = num(f.scalars.get(key))
        if value is not None:
            out.readings.append((metric, "", value))
    for line, row in sorted(f.rows.items()):
        load = num(row.get("upsOutputPercentLoad"))
        if load is not None:
            out.readings.append(("ups_output_load_percent", line, load))
    left = f" ({minutes:g} minutes of battery left)" if minutes is not None else ""
    if on_battery and not prev.on_battery:
        out.events.append(
            ctx.event("ups_on_battery", "critical", None, f"{ctx.device} is on battery{left}")
        )
    elif on_battery is False and prev.on_battery:
        out.events.append(ctx.event("ups_on_mains", "info", None, f"{ctx.device} back on mains"))
    if low and not prev.battery_low:
        text = BATTERY_STATUS.get(status, "low")  # type: ignore[arg-type]
        out.events.append(
            ctx.event("ups_battery_low", "critical", None, f"{ctx.device} battery {text}{left}")
        )
    return out


UPS = Profile(
    name="ups",
    scalars={
        "upsBatteryStatus": "1.3.6.1.2.1.33.1.2.1.0",
        "upsSecondsOnBattery": "1.3.6.1.2.1.33.1.2.2.0",
        "upsEstimatedMinutesRemaining": "1.3.6.1.2.1.33.1.2.3.0",
        "upsEstimatedChargeRemaining": "1.3.6.1.2.1.33.1.2.4.0",
        "upsBatteryTemperature": "1.3.6.1.2.1.33.1.2.7.0",
        "upsOutputSource": "1.3.6.1.2.1.33.1.4.1.0",
    },
    columns={"upsOutputPercentLoad": "1.3.6.1.2.1.33.1.4.4.1.5"},
    metrics=(
        MetricSpec("ups_on_battery", "1 when upsOutputSource is battery"),
        MetricSpec("ups_battery_status", "upsBatteryStatus: 1 unknown 2 normal 3 low 4 depleted"),
        MetricSpec("ups_minutes_remaining", "upsEstimatedMinutesRemaining"),
        MetricSpec("ups_charge_percent", "upsEstimatedChargeRemaining"),
        MetricSpec("ups_seconds_on_battery", "upsSecondsOnBattery"),
        MetricSpec("ups_battery_temperature_celsius", "upsBatteryTemperature"),
        MetricSpec("ups_output_load_percent", "upsOutputPercentLoad per output line", "line"),
    ),
    interpret=_ups,
)
