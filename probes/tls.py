"""TLS probe: handshake, certificate expiry, chain and host-name validity, protocol version.

Chain validity and host-name validity are judged and reported separately: the handshake
verifies the chain (host-name check off), and the host name is matched against the
certificate's subjectAltNames here. When the chain fails, a second, non-verifying handshake
fetches the certificate so its expiry and names are still reported.

Contract: ``probe`` never raises for a failing target. Down: ``tls_expired`` (or not yet valid),
``tls_untrusted``, ``tls_hostname``, ``tls_protocol`` (negotiated version below
``min_version``), ``tls_handshake``, plus the connection codes. Degraded: ``expiring`` when
fewer than ``warn_days`` days are left.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any, Literal

from pydantic import Field

from threenines.core.config.base import CheckBase
from threenines.core.results import ProbeResult
from threenines.probes import _connect, _tls
from threenines.probes._common import CaFile, guarded
from threenines.probes._connect import AddressOptions


class Config(CheckBase, AddressOptions):
    type: Literal["tls"]
    host: str
    port: int = Field(443, ge=1, le=65535)
    server_name: str | None = Field(None, description="SNI and name to check (default: host)")
    warn_days: float = Field(14, ge=0, description="Fewer days left than this: degraded")
    min_version: _tls.TlsVersion | None = Field(None, description="e.g. TLSv1.2")
    verify: bool = Field(True, description="Judge the chain against the trusted CAs")
    check_hostname: bool = True
    ca_file: CaFile | None = None

    def target(self) -> str:
        return f"{self.host}:{self.port}"


def from_target(target: str, name: str = "adhoc", **options: Any) -> Config:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or (host.count(":") and not host.endswith("]")):
        host, port = target, "443"
    data = {"type": "tls", "name": name, "host": host.strip("[]"), "port": int(port)}
    return Config.model_validate({**data, **options})


async def _handshake(
    addresses: list[str],
    port: int,
    ctx: ssl.SSLContext,
    sni: str,
    phases: dict[str, float],
    details: dict[str, Any],
) -> dict[str, Any]:
    """Connect and handshake, timing both into ``phases``; return what was negotiated."""
    t = time.perf_counter()
    attempts = _connect.Attempts()
    try:
        _reader, writer = await _connect.open_stream(addresses, port, attempts)
    except _connect.AllFailed as exc:
        details["address"] = attempts.failed[0][0]
        if len(attempts.failed) > 1:
            details["failed_addresses"] = attempts.summary()
        raise exc.__cause__ or exc from None
    details["address"] = attempts.address
    if attempts.failed:
        details["failed_addresses"] = attempts.summary()
    try:
        phases["connect"] = time.perf_counter() - t
        t = time.perf_counter()
        await writer.start_tls(ctx, server_hostname=sni)
        phases["tls"] = time.perf_counter() - t
        obj = writer.get_extra_info("ssl_object")
        cipher = obj.cipher()
        return {
            "der": obj.getpeercert(binary_form=True),
            "protocol": obj.version(),
            "cipher": cipher[0] if cipher else None,
        }
    finally:
        writer.close()


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    sni = cfg.server_name or cfg.host
    phases: dict[str, float] = {}
    details: dict[str, Any] = {}
    ca = str(cfg.ca_file) if cfg.ca_file else None
    try:
        async with asyncio.timeout(timeout):
            addresses = await _connect.resolve(cfg.host, cfg.port, *cfg.resolve_with())
            phases["dns"] = time.perf_counter() - start
            try:
                ctx = _tls.client_context(cfg.verify, ca, check_hostname=False)
                session = await _handshake(addresses, cfg.port, ctx, sni, phases, details)
                details["chain_valid"] = True if cfg.verify else None
            except ssl.SSLCertVerificationError as exc:
                details["chain_valid"] = False
                details["chain_error"] = exc.verify_message
                details["chain_code"] = _tls.classify(exc)[0]
                ctx = _tls.client_context(verify=False)
                session = await _handshake(
                    [details["address"]], cfg.port, ctx, sni, phases, details
                )
    except TimeoutError:
        code = "timeout" if "connect" in phases else "connect_timeout"
        code = code if "dns" in phases else "dns"
        reason = f"{cfg.host}:{cfg.port} did not complete a handshake within {timeout:g}s"
        return _down(start, code, reason, phases, details)
    except socket.gaierror as exc:
        return _down(start, "dns", f"cannot resolve {cfg.host}: {exc.strerror}", phases, details)
    except ssl.SSLError as exc:
        return _down(start, *_tls.classify(exc), phases, details)
    except ConnectionRefusedError:
        reason = f"connection refused by {cfg.host}:{cfg.port}"
        return _down(start, "refused", reason, phases, details)
    except (ConnectionError, EOFError) as exc:
        reason = f"{cfg.host}:{cfg.port} closed the connection during the handshake ({exc})"
        return _down(start, "tls_handshake", reason, phases, details)
    except OSError as exc:
        reason = f"{cfg.host}:{cfg.port}: {exc.strerror or exc}"
        return _down(start, "unreachable", reason, phases, details)
    return _judge(cfg, sni, session, start, phases, details)


def _judge(
    cfg: Config,
    sni: str,
    session: dict[str, Any],
    start: float,
    phases: dict[str, float],
    details: dict[str, Any],
) -> ProbeResult:
    cert = _tls.cert_facts(session["der"], _tls.utc_now()) if session["der"] else {}
    details |= {"protocol": session["protocol"], "cipher": session["cipher"], **cert}
    details["hostname_valid"] = bool(session["der"]) and _tls.hostname_matches(session["der"], sni)
    days = cert.get("days_left", 0.0)
    now = _tls.utc_now()
    if not cert:
        return _down(start, "tls_handshake", "server sent no certificate", phases, details)
    if cert["not_after"] < now or cert["not_before"] > now:
        what = "expired" if cert["not_after"] < now else "is not yet valid"
        reason = f"certificate {what} ({cert['not_after_iso']}, {days:.1f} days)"
        return _down(start, "tls_expired", reason, phases, details)
    if details["chain_valid"] is False:
        reason = f"certificate chain not trusted: {details['chain_error']}"
        return _down(start, details["chain_code"], reason, phases, details)
    if cfg.check_hostname and not details["hostname_valid"]:
        reason = f"certificate names {cert['names'][:4]} do not cover {sni!r}"
        return _down(start, "tls_hostname", reason, phases, details)
    proto = session["protocol"]
    if cfg.min_version and _tls.RANK.get(proto, -1) < _tls.RANK[cfg.min_version]:
        reason = f"negotiated {proto}, below min_version {cfg.min_version}"
        return _down(start, "tls_protocol", reason, phases, details)
    total = time.perf_counter() - start
    phases["total"] = total
    summary = f"{proto}, certificate valid for {days:.0f} more days (until {cert['not_after_iso']})"
    if days < cfg.warn_days:
        return ProbeResult.degraded(
            total,
            "expiring",
            summary + f", under warn_days {cfg.warn_days:g}",
            phases=phases,
            details=details,
        )
    return ProbeResult.up(total, summary, phases=phases, details=details)


def _down(
    start: float, code: str, reason: str, phases: dict[str, float], details: dict[str, Any]
) -> ProbeResult:
    total = time.perf_counter() - start
    return ProbeResult.down(total, code, reason, phases={**phases, "total": total}, details=details)
