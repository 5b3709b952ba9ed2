"""TLS posture: expiry, self-signed/untrusted chains, hostname, old protocols, weak ciphers.

Contract: ``check`` returns a ``RunResult``; when the server cannot be reached at all the run is
incomplete (its earlier findings are left as they are), never an exception. Old protocols are
tried with ``@SECLEVEL=0``; when the local OpenSSL cannot even offer a protocol or cipher
class, the evidence says so instead of claiming the server refused it.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from typing import Literal

from pydantic import Field

from threenines.collectors.udpsock import is_ip
from threenines.core.config.base import Name, StrictModel
from threenines.security.findings import Finding, RunResult

WEAK_CLASSES = ("NULL", "aNULL", "EXPORT", "RC4", "DES", "3DES", "MD5")
OLD = {"TLSv1.0": "TLSv1", "TLSv1.1": "TLSv1_1"}


class Config(StrictModel):
    type: Literal["tls"]
    name: Name
    host: str
    port: int = Field(443, ge=1, le=65535)
    server_name: str | None = Field(None, description="SNI and hostname to verify (default host)")
    ca_file: str | None = Field(None, description="Extra trusted CA bundle (private PKI)")
    warn_days: int = Field(30, ge=0)
    critical_days: int = Field(7, ge=0)
    old_protocols: bool = True
    weak_ciphers: bool = True
    site: Name | None = None


def weak_cipher_string() -> tuple[str, list[str]]:
    """The OpenSSL cipher string of the weak classes this OpenSSL can offer, and those it cannot."""
    ok, missing = [], []
    for cls in WEAK_CLASSES:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(f"{cls}:@SECLEVEL=0")
            ok.append(cls)
        except ssl.SSLError:
            missing.append(cls)
    return ":".join(ok) + ":@SECLEVEL=0" if ok else "", missing


def _insecure(
    low: str | None = None, high: str | None = None, ciphers: str | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():  # TLSv1/1.1 enum members are deprecated, on purpose here
        warnings.simplefilter("ignore", DeprecationWarning)
        if ciphers or low:
            ctx.set_ciphers(ciphers or "ALL:@SECLEVEL=0")
        if low:
            ctx.minimum_version = getattr(ssl.TLSVersion, low)
        if high:
            ctx.maximum_version = getattr(ssl.TLSVersion, high)
    return ctx


async def _handshake(cfg: Config, ctx: ssl.SSLContext, timeout: float) -> ssl.SSLObject:
    sni = cfg.server_name or cfg.host
    async with asyncio.timeout(timeout):
        _r, writer = await asyncio.open_connection(
            cfg.host, cfg.port, ssl=ctx, server_hostname=None if is_ip(sni) else sni
        )
    obj = writer.get_extra_info("ssl_object")
    writer.close()
    return obj


async def _accepts(cfg: Config, ctx: ssl.SSLContext, timeout: float) -> tuple[bool | None, str]:
    """True if the handshake succeeds, False if refused, None if this side could not offer it."""
    try:
        obj = await _handshake(cfg, ctx, timeout)
        cipher = obj.cipher()
        return True, f"{obj.version()} {cipher[0] if cipher else ''}".strip()
    except ssl.SSLError as exc:
        if "NO_PROTOCOLS_AVAILABLE" in str(exc) or "NO_CIPHERS_AVAILABLE" in str(exc):
            return None, str(exc.reason or exc)
        return False, str(exc.reason or exc)
    except (OSError, TimeoutError) as exc:
        return False, str(exc) or type(exc).__name__


async def _verify(cfg: Config, timeout: float) -> tuple[int, str]:
    """(0, "") when the chain verifies against the system store (+ ca_file), else OpenSSL's code."""
    ctx = ssl.create_default_context(cafile=cfg.ca_file)
    ctx.check_hostname = False  # hostname is judged separately, so both problems are reported
    try:
        await _handshake(cfg, ctx, timeout)
        return 0, ""
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_code, exc.verify_message
    except (ssl.SSLError, OSError, TimeoutError) as exc:
        return -1, str(exc)


async def check(cfg: Config, *, timeout: float, now: float) -> RunResult:
    from threenines.security import tls_cert

    name = f"posture:{cfg.name}"
    try:
        obj = await _handshake(cfg, _insecure(), timeout)
    except (ssl.SSLError, OSError, TimeoutError) as exc:
        return RunResult(name, [], complete=False, error=f"TLS handshake failed: {exc}")
    der = obj.getpeercert(binary_form=True)
    if der is None:
        return RunResult(name, [], complete=False, error="server sent no certificate")
    subject = f"{cfg.host}:{cfg.port}"
    out = tls_cert.cert_findings(cfg, der, await _verify(cfg, timeout), now, name, subject)
    facts: dict[str, str] = {}
    if cfg.old_protocols:
        for label, member in OLD.items():
            ok, detail = await _accepts(cfg, _insecure(member, member), timeout)
            # None: this OpenSSL could not offer the protocol, so the server was not tested.
            facts[label] = {True: "accepted", False: "refused", None: "untestable here"}[ok]
            if ok:
                out.append(
                    Finding.make(
                        "tls_old_protocol",
                        f"{subject}/{label}",
                        "major",
                        name,
                        subject,
                        f"{subject} accepts {label}",
                        {"negotiated": detail},
                        site=cfg.site,
                    )
                )
    if cfg.weak_ciphers:
        out += await _weak(cfg, timeout, name, subject)
    return RunResult(name, out, facts=facts)


async def _weak(cfg: Config, timeout: float, name: str, subject: str) -> list[Finding]:
    ciphers, untestable = weak_cipher_string()
    if not ciphers:
        return []
    ok, detail = await _accepts(cfg, _insecure("TLSv1", "TLSv1_2", ciphers), timeout)
    if not ok:
        return []
    return [
        Finding.make(
            "tls_weak_cipher",
            subject,
            "major",
            name,
            subject,
            f"{subject} accepts a weak cipher suite: {detail}",
            {"negotiated": detail, "untestable_here": untestable},
            site=cfg.site,
        )
    ]
