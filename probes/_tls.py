"""TLS helpers shared by the http, journey and tls probes.

Client contexts are built once per option set (loading a CA bundle costs milliseconds, a probe
should not pay it every run). Certificates are read with ``cryptography`` from DER, so they can
be inspected even when verification failed.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import ssl
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from threenines.core.config.base import StrictModel
from threenines.core.config.secrets import Secret
from threenines.probes._common import CaFile

if TYPE_CHECKING:
    from cryptography import x509

TlsVersion = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
RANK = {name: i for i, name in enumerate(VERSIONS)}

# OpenSSL X509_V_ERR_* codes -> our error codes. Anything else that fails chain building
# (unknown CA, self-signed, bad signature, wrong purpose) is "tls_untrusted".
_EXPIRY_CODES = {9: "not yet valid", 10: "expired"}
_HOSTNAME_CODES = {62, 64}
_PROTOCOL_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
}
# Alerts a server sends when it wants a client certificate, or does not accept ours (mTLS)
_CLIENT_CERT_REASONS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_CERTIFICATE_REVOKED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "TLSV1_ALERT_UNKNOWN_CA",
    "TLSV1_ALERT_ACCESS_DENIED",
}


class TlsOptions(StrictModel):
    """The TLS client fields of the checks that speak TLS to a service (http, journey, tcp)."""

    verify: bool = Field(True, description="Verify the TLS certificate chain and host name")
    ca_file: CaFile | None = Field(None, description="CA bundle to trust instead of the system's")
    server_name: str | None = Field(
        None, description="SNI and the name the certificate must carry (default: the host)"
    )
    min_version: TlsVersion | None = Field(None, description="Refuse older TLS, e.g. TLSv1.2")
    client_cert: CaFile | None = Field(None, description="PEM client certificate (mTLS)")
    client_key: CaFile | None = Field(None, description="Its PEM key (default: in client_cert)")
    client_key_password: Secret | None = Field(None, description="${ENV} or file:; never echoed")

    @model_validator(mode="after")
    def _client_pair(self) -> TlsOptions:
        if self.client_cert is None:
            if self.client_key is not None or self.client_key_password is not None:
                raise ValueError("client_key needs client_cert")
            return self
        try:
            self.tls_context()
        except (ssl.SSLError, OSError) as exc:  # checked at load, never at the first probe
            why = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            raise ValueError(f"client_cert/client_key cannot be loaded: {why}") from None
        return self

    def tls_context(self, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
        password = self.client_key_password
        return client_context(
            self.verify,
            str(self.ca_file) if self.ca_file else None,
            min_version=self.min_version,
            client_cert=str(self.client_cert) if self.client_cert else None,
            client_key=str(self.client_key) if self.client_key else None,
            key_password=password.get_secret_value() if password else None,
            alpn=alpn,
        )


@functools.lru_cache(maxsize=64)
def client_context(
    verify: bool = True,
    ca_file: str | None = None,
    check_hostname: bool = True,
    min_version: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    key_password: str | None = None,
    alpn: tuple[str, ...] = (),
) -> ssl.SSLContext:
    """A client context; ``verify=False`` accepts any certificate (to read it, or by request)."""
    if verify:
        ctx = ssl.create_default_context(cafile=ca_file)
        ctx.check_hostname = check_hostname
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = VERSIONS[min_version]
    if client_cert is not None:
        ctx.load_cert_chain(client_cert, client_key, key_password)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def classify(exc: BaseException) -> tuple[str, str]:
    """Map an ssl exception to (error code, human reason).

    ``tls_client_cert``: the server's alert says it wants a (different) client certificate.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        message = exc.verify_message or str(exc)
        if code in _EXPIRY_CODES:
            return "tls_expired", f"certificate {_EXPIRY_CODES[code]} ({message})"
        if code in _HOSTNAME_CODES:
            return "tls_hostname", f"certificate does not match the host name ({message})"
        return "tls_untrusted", f"certificate not trusted: {message}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in _CLIENT_CERT_REASONS:
            what = reason.split("ALERT_", 1)[-1].lower().replace("_", " ")
            return "tls_client_cert", f"server refused the client certificate: {what}"
        if reason in _PROTOCOL_REASONS:
            return "tls_protocol", f"TLS version not agreed: {reason.lower().replace('_', ' ')}"
        return "tls_handshake", f"TLS handshake failed: {reason or exc}"
    return "tls_handshake", f"TLS handshake failed: {type(exc).__name__}: {exc}"


def _load(der: bytes) -> x509.Certificate:
    """A DER certificate, parsed by ``cryptography`` (imported here: a tenth of a second that
    ``validate`` and every other command but the probes would pay)."""
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


def cert_facts(der: bytes, now: float) -> dict[str, Any]:
    """JSON-friendly facts about a DER certificate: subject, issuer, validity, names."""
    cert = _load(der)
    not_after = cert.not_valid_after_utc.timestamp()
    return {
        "subject": _cn(cert.subject) or cert.subject.rfc4514_string(),
        "issuer": _cn(cert.issuer) or cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.timestamp(),
        "not_after": not_after,
        "not_after_iso": cert.not_valid_after_utc.isoformat(timespec="seconds"),
        "days_left": round((not_after - now) / 86400, 2),
        "self_signed": cert.issuer == cert.subject,
        "names": _names(cert),
    }


@functools.lru_cache(maxsize=256)
def expiry(der: bytes) -> tuple[float, str]:
    """A DER certificate's notAfter as (epoch seconds, ISO text), parsed once per certificate.

    The http probe reports expiry on every run; a target serves the same certificate for
    months, and parsing it was a twentieth of an https probe's CPU.
    """
    not_after = _load(der).not_valid_after_utc
    return not_after.timestamp(), not_after.isoformat(timespec="seconds")


def hostname_matches(der: bytes, host: str) -> bool:
    """RFC 6125 matching of ``host`` against the certificate's subjectAltName entries.

    Used by the tls probe to report hostname validity separately from chain validity.
    """
    names = _names(_load(der))
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return str(ip) in names
    host = host.rstrip(".").lower()
    for name in names:
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if rest == name[2:] and label:
                return True
    return False


def _names(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out: list[str] = list(san.get_values_for_type(x509.DNSName))
    out += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return out


def _cn(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode(errors="replace")


def utc_now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()
