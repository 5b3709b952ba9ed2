"""Pure judgement of one server certificate: expiry, trust, self-signature, hostname.

Certificate facts and RFC 6125 hostname matching are the tls probe's (``probes._tls``); this
module only turns them into findings.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509

from threenines.probes._tls import cert_facts, hostname_matches
from threenines.security.findings import Finding

DAY = 86400.0
SELF_SIGNED_CODES = {
    18,
    19,
}  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, ..._SELF_SIGNED_CERT_IN_CHAIN
EXPIRED_CODE = 10


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except Exception:  # wrong signature, or a key type that cannot verify itself
        return False


def cert_findings(
    cfg: Any, der: bytes, verify: tuple[int, str], now: float, check: str, subject: str
) -> list[Finding]:
    """Findings for the certificate ``der`` presented by ``subject``; ``verify`` is the chain
    verification outcome (OpenSSL code, message; 0 when trusted, -1 when it could not run)."""
    cert = x509.load_der_x509_certificate(der)
    host = cfg.server_name or cfg.host
    facts = cert_facts(der, now)
    left = facts["days_left"]
    ev: dict[str, Any] = {k: facts[k] for k in ("subject", "issuer", "not_after_iso", "names")}
    ev["days_left"] = left
    out: list[Finding] = []

    def add(kind: str, severity: str, message: str, **extra: Any) -> None:
        out.append(
            Finding.make(
                kind, subject, severity, check, subject, message, {**ev, **extra}, site=cfg.site
            )
        )

    if left <= 0:
        add("tls_expired", "critical", f"certificate for {subject} expired {-left:.0f} days ago")
    elif left <= cfg.critical_days:
        add("tls_expiring", "critical", f"certificate for {subject} expires in {left:.1f} days")
    elif left <= cfg.warn_days:
        add("tls_expiring", "minor", f"certificate for {subject} expires in {left:.0f} days")
    code, message = verify
    if _self_signed(cert) or code in SELF_SIGNED_CODES:
        add(
            "tls_self_signed",
            "major",
            f"{subject} serves a self-signed certificate",
            verify_code=code,
            verify_message=message,
        )
    elif code not in (0, -1, EXPIRED_CODE):
        add(
            "tls_untrusted",
            "major",
            f"{subject}: certificate chain not trusted ({message})",
            verify_code=code,
            verify_message=message,
        )
    if not hostname_matches(der, host):
        add(
            "tls_hostname",
            "major",
            f"certificate for {subject} does not cover {host}",
            expected=host,
        )
    return out
