"""host-resources (HOST-RESOURCES-MIB) and ucd (UCD-SNMP-MIB): CPU, storage, load, memory."""

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

# -- host-resources (HOST-RESOURCES-MIB) ----------------------------------------------------

HR_STORAGE_RAM = "1.3.6.1.2.1.25.2.1.2"


def _host_resources(f: Fetched, ctx: Context, state: Any) -> Outcome:
    out = Outcome()
    loads = []
    for index, row in sorted(f.rows.items()):
        load = num(row.get("hrProcessorLoad"))
        if load is not None:
            loads.append(load)
            out.readings.append(("cpu_load_percent", index, load))
        size, used, unit = (num(row.get(k)) for k in ("hrStorageSize", "hrStorageUsed", "units"))
        descr = row.get("hrStorageDescr")
        if size and used is not None and unit and descr:
            name = str(descr)[:100]
            out.readings.append(("storage_size_bytes", name, size * unit))
            out.readings.append(("storage_used_bytes", name, used * unit))
            out.readings.append(("storage_used_ratio", name, used / size))
    if loads:
        out.readings.append(("cpu_load_avg_percent", "", sum(loads) / len(loads)))
    return out


HOST_RESOURCES = Profile(
    name="host-resources",
    scalars={},
    columns={
        "hrProcessorLoad": "1.3.6.1.2.1.25.3.3.1.2",
        "hrStorageDescr": "1.3.6.1.2.1.25.2.3.1.3",
        "units": "1.3.6.1.2.1.25.2.3.1.4",
        "hrStorageSize": "1.3.6.1.2.1.25.2.3.1.5",
        "hrStorageUsed": "1.3.6.1.2.1.25.2.3.1.6",
    },
    metrics=(
        MetricSpec("cpu_load_percent", "hrProcessorLoad per processor", "cpu"),
        MetricSpec("cpu_load_avg_percent", "Mean hrProcessorLoad over processors"),
        MetricSpec("storage_size_bytes", "hrStorageSize x allocation units", "storage"),
        MetricSpec("storage_used_bytes", "hrStorageUsed x allocation units", "storage"),
        MetricSpec("storage_used_ratio", "hrStorageUsed / hrStorageSize", "storage"),
    ),
    interpret=_host_resources,
)

# -- ucd (UCD-SNMP-MIB, net-snmp agents) ----------------------------------------------------

_UCD_MEMORY = {
    "memTotalReal": ("1.3.6.1.4.1.2021.4.5.0", "total"),
    "memAvailReal": ("1.3.6.1.4.1.2021.4.6.0", "free"),
    "memBuffer": ("1.3.6.1.4.1.2021.4.14.0", "buffers"),
    "memCached": ("1.3.6.1.4.1.2021.4.15.0", "cached"),
    "memTotalSwap": ("1.3.6.1.4.1.2021.4.3.0", "swap_total"),
    "memAvailSwap": ("1.3.6.1.4.1.2021.4.4.0", "swap_free"),
}
_LOAD_MINUTES = {"1": "1", "2": "5", "3": "15"}


def _ucd(f: Fetched, ctx: Context, state: Any) -> Outcome:
    out = Outcome()
    for index, row in sorted(f.rows.items()):
        load = num(row.get("laLoad"))
        if load is not None and index in _LOAD_MINUTES:
            out.readings.append(("load_average", _LOAD_MINUTES[index], load))
    kb = {name: num(f.scalars.get(name)) for name in _UCD_MEMORY}
    for name, (_oid, kind) in _UCD_MEMORY.items():
        if kb[name] is not None:
            out.readings.append(("memory_bytes", kind, kb[name] * 1024))  # type: ignore[operator]
    total, free = kb["memTotalReal"], kb["memAvailReal"]
    if total and free is not None:
        used = total - free - (kb["memBuffer"] or 0) - (kb["memCached"] or 0)
        out.readings.append(("memory_used_ratio", "", max(0.0, used) / total))
    return out


UCD = Profile(
    name="ucd",
    scalars={name: oid for name, (oid, _k) in _UCD_MEMORY.items()},
    columns={"laLoad": "1.3.6.1.4.1.2021.10.1.3"},
    metrics=(
        MetricSpec("load_average", "UCD laLoad", "minutes"),
        MetricSpec("memory_bytes", "UCD memory (total, free, buffers, cached, swap)", "kind"),
        MetricSpec("memory_used_ratio", "Real memory in use, excluding buffers and cache"),
    ),
    interpret=_ucd,
)
