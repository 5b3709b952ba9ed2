"""HTTP posture: security headers on public services, and content drift (defacement).

Contract: ``check`` returns a ``RunResult``; an unreachable page gives an incomplete run (the
availability probes report the outage), never an exception. HSTS is only required on https
URLs: browsers ignore it over plain http.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, HttpUrl

from threenines.core.config.base import Name, StrictModel
from threenines.security.findings import Finding, RunResult

DEFAULT_HEADERS = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "X-Frame-Options",
]


class Config(StrictModel):
    type: Literal["http"]
    name: Name
    url: HttpUrl
    required_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_HEADERS))
    required_text: list[str] = Field(
        default_factory=list, description="Text the page must contain (defacement check)"
    )
    expected_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the body, for static pages"
    )
    verify_tls: bool = True
    ca_file: str | None = None
    site: Name | None = None


def judge(
    cfg: Config, status: int, headers: dict[str, str], body: bytes, check: str
) -> list[Finding]:
    """Pure: findings for one response (``headers`` keys lower-cased)."""
    url = str(cfg.url)
    https = url.startswith("https:")
    out: list[Finding] = []
    for name in cfg.required_headers:
        if name.lower() == "strict-transport-security" and not https:
            continue
        if name.lower() not in headers:
            out.append(
                Finding.make(
                    "http_header_missing",
                    f"{url}/{name.lower()}",
                    "minor",
                    check,
                    url,
                    f"{url} lacks the {name} header",
                    {"header": name, "status": status},
                    site=cfg.site,
                )
            )
    digest = hashlib.sha256(body).hexdigest()
    if cfg.expected_sha256 and digest != cfg.expected_sha256:
        out.append(
            Finding.make(
                "http_content_drift",
                f"{url}/sha256",
                "critical",
                check,
                url,
                f"{url} content changed (possible defacement)",
                {
                    "expected_sha256": cfg.expected_sha256,
                    "sha256": digest,
                    "status": status,
                    "excerpt": body[:200].decode("utf-8", "replace"),
                },
                site=cfg.site,
            )
        )
    text = body.decode("utf-8", "replace")
    missing = [t for t in cfg.required_text if t not in text]
    if missing:
        out.append(
            Finding.make(
                "http_content_drift",
                f"{url}/text",
                "critical",
                check,
                url,
                f"{url} no longer contains {missing[0]!r} (possible defacement)",
                {"missing": missing, "sha256": digest, "status": status},
                site=cfg.site,
            )
        )
    return out


async def check(cfg: Config, *, timeout: float, now: float) -> RunResult:
    import httpx

    name = f"posture:{cfg.name}"
    verify: bool | str = cfg.ca_file if (cfg.verify_tls and cfg.ca_file) else cfg.verify_tls
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout, follow_redirects=True) as c:
            resp = await c.get(str(cfg.url))
            body = resp.content[: 5 * 1024 * 1024]
    except httpx.HTTPError as exc:
        return RunResult(name, [], complete=False, error=f"{type(exc).__name__}: {exc}")
    headers = {k.lower(): v for k, v in resp.headers.items()}
    facts = {"status": resp.status_code, "sha256": hashlib.sha256(body).hexdigest()}
    return RunResult(name, judge(cfg, resp.status_code, headers, body, name), facts=facts)
