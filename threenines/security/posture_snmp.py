"""SNMP posture: agents answering default communities, or v1/v2c where v3 is required.

One GET of sysDescr.0 per (community, version), with pysnmp 7's asyncio API. Only GETs: a
SET would prove write access but changes the device, so ``private`` answering is judged
critical on its reputation (it is the classic read-write default) rather than tested.
Contract: ``check`` returns a ``RunResult`` and never raises for a silent or refusing agent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from threenines.core.config.base import Name, StrictModel
from threenines.security.findings import Finding, RunResult

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
VERSIONS = {"v1": 0, "v2c": 1}


def _ipv4(value: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IPv4 address (scope is checked by address)"
        ) from None


class Config(StrictModel):
    type: Literal["snmp"]
    name: Name
    host: Annotated[str, AfterValidator(_ipv4)]
    port: int = Field(161, ge=1, le=65535)
    communities: list[str] = Field(default_factory=lambda: ["public", "private"], min_length=1)
    v3_required: bool = Field(False, description="Any v1/v2c answer is then a finding")
    site: Name | None = None


async def _answers(
    engine: Any, host: str, port: int, community: str, mp: int, timeout: float
) -> str | None:
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        UdpTransportTarget,
        get_cmd,
    )

    target = await UdpTransportTarget.create((host, port), timeout=timeout, retries=0)
    err, status, _idx, binds = await get_cmd(
        engine,
        CommunityData(community, mpModel=mp),
        target,
        ContextData(),
        ObjectType(ObjectIdentity(SYS_DESCR)),
    )
    if err or status:
        return None
    return str(binds[0][1])[:200] if binds else ""


async def check(cfg: Config, *, timeout: float, now: float) -> RunResult:
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    name, subject = f"posture:{cfg.name}", f"{cfg.host}:{cfg.port}"
    engine = SnmpEngine()
    answered: dict[str, list[str]] = {}
    descr = ""
    try:
        for community in cfg.communities:
            for version, mp in VERSIONS.items():
                got = await _answers(engine, cfg.host, cfg.port, community, mp, timeout)
                if got is not None:
                    answered.setdefault(community, []).append(version)
                    descr = descr or got
    finally:
        engine.close_dispatcher()
    out: list[Finding] = []
    for community, versions in answered.items():
        sev = "critical" if community == "private" else "major"
        out.append(
            Finding.make(
                "snmp_default_community",
                f"{subject}/{community}",
                sev,
                name,
                subject,
                f"{subject} answers SNMP community {community!r} ({'/'.join(versions)})",
                {"community": community, "versions": versions, "sysDescr": descr},
                site=cfg.site,
            )
        )
    if cfg.v3_required and answered:
        versions = sorted({v for vs in answered.values() for v in vs})
        out.append(
            Finding.make(
                "snmp_v1v2c_answering",
                subject,
                "major",
                name,
                subject,
                f"{subject} answers {'/'.join(versions)} where SNMPv3 is required",
                {"versions": versions},
                site=cfg.site,
            )
        )
    return RunResult(name, out)
