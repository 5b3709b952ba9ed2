"""environment: temperature and humidity sensors from ENTITY-SENSOR-MIB (RFC 3433)."""

from __future__ import annotations

from typing import Any

from threenines.collectors.snmp_profiles.base import (
    Context,
    Fetched,
    MetricSpec,
    Outcome,
    Profile,
    num,
)

# -- environment (ENTITY-SENSOR-MIB, RFC 3433) ----------------------------------------------

# entPhySensorScale -> power of ten (the MIB lists exa before peta)
_SCALE = {1: -24, 2: -21, 3: -18, 4: -15, 5: -12, 6: -9, 7: -6, 8: -3, 9: 0}
_SCALE |= {10: 3, 11: 6, 12: 9, 13: 12, 14: 18, 15: 15, 16: 21, 17: 24}
_SENSOR_METRIC = {8: "sensor_celsius", 9: "sensor_humidity_percent"}  # celsius, percentRH
_SENSOR_OK = 1


def sensor_value(raw: float, scale: int | None, precision: int | None) -> float:
    """entPhySensorValue x 10^scale / 10^precision (RFC 3433 section 4)."""
    return raw * 10.0 ** _SCALE.get(scale or 9, 0) / 10.0 ** (precision or 0)


def _environment(f: Fetched, ctx: Context, state: Any) -> Outcome:
    out = Outcome()
    for index, row in sorted(f.rows.items()):
        metric = _SENSOR_METRIC.get(row.get("type"))  # type: ignore[arg-type]
        raw = num(row.get("value"))
        if metric is None or raw is None or row.get("status", _SENSOR_OK) != _SENSOR_OK:
            continue
        name = str(row.get("entPhysicalName") or f"sensor{index}")[:100]
        out.readings.append((metric, name, sensor_value(raw, row.get("scale"), row.get("prec"))))
    return out


ENVIRONMENT = Profile(
    name="environment",
    scalars={},
    columns={
        "type": "1.3.6.1.2.1.99.1.1.1.1",
        "scale": "1.3.6.1.2.1.99.1.1.1.2",
        "prec": "1.3.6.1.2.1.99.1.1.1.3",
        "value": "1.3.6.1.2.1.99.1.1.1.4",
        "status": "1.3.6.1.2.1.99.1.1.1.5",
        "entPhysicalName": "1.3.6.1.2.1.47.1.1.1.1.7",
    },
    metrics=(
        MetricSpec("sensor_celsius", "ENTITY-SENSOR-MIB temperature", "sensor"),
        MetricSpec("sensor_humidity_percent", "ENTITY-SENSOR-MIB relative humidity", "sensor"),
    ),
    interpret=_environment,
)
