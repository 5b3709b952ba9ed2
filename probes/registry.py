"""The probe registry: one module per kind, one line each here.

Each module exports ``Config`` (a ``CheckBase`` subclass with ``type: Literal["<kind>"]``),
``async def probe(cfg, *, timeout) -> ProbeResult`` and ``from_target(target, name)`` for the
one-off ``threenines check`` command. Adding a kind is one module and one line here; the
composition root merges this registry with the other areas' kinds (``host`` is the collectors').
"""

from __future__ import annotations

from types import ModuleType

from threenines.probes import browser, dns, http, icmp, journey, tcp, tls

PROBES: dict[str, ModuleType] = {
    "http": http,
    "journey": journey,
    "browser": browser,
    "tcp": tcp,
    "dns": dns,
    "icmp": icmp,
    "tls": tls,
}
