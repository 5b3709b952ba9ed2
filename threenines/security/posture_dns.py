"""DNS posture: answers for protected names drifting from what is expected (possible hijack).

Contract: ``check`` returns a ``RunResult``; a resolver that does not answer gives an incomplete
run (the DNS probe reports availability), NXDOMAIN or different records give a critical finding.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from threenines.core.config.base import Name, StrictModel
from threenines.security.findings import Finding, RunResult


class Config(StrictModel):
    type: Literal["dns"]
    name: Name
    qname: str
    rdtype: Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT"] = "A"
    expected: list[str] = Field(min_length=1, description="The complete expected answer set")
    resolver: str = Field(description="Resolver address to ask")
    port: int = Field(53, ge=1, le=65535)
    site: Name | None = None


def _norm(values: list[str]) -> list[str]:
    return sorted({v.strip().lower().rstrip(".") for v in values})


def judge(
    cfg: Config, answers: list[str] | None, check: str, rcode: str = "NOERROR"
) -> list[Finding]:
    """Pure: a finding when the answer set differs from ``expected`` (None = no such name)."""
    got = _norm(answers or [])
    want = _norm(cfg.expected)
    if answers is not None and got == want:
        return []
    return [
        Finding.make(
            "dns_drift",
            f"{cfg.qname}/{cfg.rdtype}",
            "critical",
            check,
            cfg.qname,
            f"{cfg.qname} {cfg.rdtype} answers {got or rcode}, expected {want}",
            {
                "qname": cfg.qname,
                "rdtype": cfg.rdtype,
                "expected": want,
                "answers": got,
                "rcode": rcode,
                "resolver": f"{cfg.resolver}:{cfg.port}",
            },
            site=cfg.site,
        )
    ]


async def check(cfg: Config, *, timeout: float, now: float) -> RunResult:
    import dns.asyncquery
    import dns.exception
    import dns.message
    import dns.rcode

    name = f"posture:{cfg.name}"
    query = dns.message.make_query(cfg.qname, cfg.rdtype)
    try:
        resp = await dns.asyncquery.udp(query, cfg.resolver, timeout=timeout, port=cfg.port)
    except (dns.exception.DNSException, OSError) as exc:
        return RunResult(name, [], complete=False, error=f"{type(exc).__name__}: {exc}")
    rcode = dns.rcode.to_text(resp.rcode())
    if rcode == "NXDOMAIN":
        return RunResult(name, judge(cfg, None, name, rcode))
    if rcode != "NOERROR":
        return RunResult(name, [], complete=False, error=f"resolver answered {rcode}")
    values = [
        rd.to_text().strip('"')
        for rrset in resp.answer
        if rrset.rdtype == query.question[0].rdtype
        for rd in rrset
    ]
    return RunResult(name, judge(cfg, values, name), facts={"answers": values})
