"""ICMP echo probe: RTT and loss over ``count`` packets (icmplib).

Raw sockets when running as root, otherwise the kernel's unprivileged ICMP sockets (Linux needs
``net.ipv4.ping_group_range`` to include the service's group).

Contract: ``probe`` never raises for a failing target. Loss >= ``loss_down`` -> ``down``
(``packet_loss``); loss >= ``loss_degraded`` -> ``degraded`` (``packet_loss``); average RTT above
``degraded_after`` -> ``degraded`` (``slow``). Details: rtt_min/avg/max (ms), loss, sent,
received.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any, Literal

import icmplib
from pydantic import Field, model_validator

from threenines.core.config.base import CheckBase
from threenines.core.config.loader import LocatedError
from threenines.core.durations import Duration
from threenines.core.results import ProbeResult
from threenines.probes._common import guarded
from threenines.probes._connect import AddressOptions, resolve


class Config(CheckBase, AddressOptions):
    """ICMP does not race addresses: the first that ``ip_protocol`` allows is pinged."""

    type: Literal["icmp"]
    host: str
    count: int = Field(3, ge=1, le=100)
    packet_interval: Duration = Field(0.2, ge=0.01, le=10, description="Gap between packets")
    loss_degraded: float = Field(0.2, gt=0, le=1, description="Loss fraction -> degraded")
    loss_down: float = Field(1.0, gt=0, le=1, description="Loss fraction -> down")
    degraded_after: Duration | None = Field(None, gt=0, description="Average RTT -> degraded")

    @model_validator(mode="after")
    def _thresholds(self) -> Config:
        if self.loss_degraded > self.loss_down:
            raise LocatedError(("loss_degraded",), "must not exceed loss_down")
        return self

    def target(self) -> str:
        return self.host


def from_target(target: str, name: str = "adhoc", **options: Any) -> Config:
    data = {"type": "icmp", "name": name, "host": target.strip("[]")}
    return Config.model_validate({**data, **options})


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    phases: dict[str, float] = {}
    try:
        addresses = resolve(cfg.host, 0, *cfg.resolve_with())
        address = (await asyncio.wait_for(addresses, timeout))[0]
    except (socket.gaierror, TimeoutError) as exc:
        reason = f"cannot resolve {cfg.host}: {getattr(exc, 'strerror', None) or 'timed out'}"
        return ProbeResult.down(time.perf_counter() - start, "dns", reason)
    phases["dns"] = time.perf_counter() - start
    # icmplib waits for each reply in turn: share what the gaps between packets leave of the
    # deadline, so a dead host gives a packet_loss result rather than a timeout.
    budget = timeout - phases["dns"] - cfg.packet_interval * (cfg.count - 1)
    per_packet = max(0.05, min(2.0, budget * 0.9 / cfg.count))
    try:
        async with asyncio.timeout(timeout):
            host = await icmplib.async_ping(
                address,
                count=cfg.count,
                interval=cfg.packet_interval,
                timeout=per_packet,
                privileged=os.geteuid() == 0,
            )
    except TimeoutError:
        reason = f"{cfg.count} pings to {cfg.host} not done within {timeout:g}s"
        return ProbeResult.down(time.perf_counter() - start, "timeout", reason, phases=phases)
    except icmplib.SocketPermissionError:
        reason = "ICMP sockets not permitted: run as root or widen net.ipv4.ping_group_range"
        return ProbeResult.down(time.perf_counter() - start, "internal", reason, phases=phases)
    except icmplib.ICMPLibError as exc:
        reason = f"ping {cfg.host}: {type(exc).__name__}: {exc}"
        return ProbeResult.down(time.perf_counter() - start, "unreachable", reason, phases=phases)
    return _judge(cfg, host, address, start, phases)


def _judge(
    cfg: Config, host: Any, address: str, start: float, phases: dict[str, float]
) -> ProbeResult:
    total = time.perf_counter() - start
    rtt = {"rtt": host.avg_rtt / 1000} if host.packets_received else {}
    phases = {**phases, **rtt, "total": total}
    details = {
        "address": address,
        "sent": host.packets_sent,
        "received": host.packets_received,
        "loss": round(host.packet_loss, 4),
        "rtt_min": host.min_rtt,
        "rtt_avg": host.avg_rtt,
        "rtt_max": host.max_rtt,
    }
    summary = (
        f"{host.packets_received}/{host.packets_sent} replies from {cfg.host}, "
        f"loss {host.packet_loss:.0%}, rtt avg {host.avg_rtt:.2f} ms"
    )
    kw: dict[str, Any] = {"phases": phases, "details": details}
    if host.packet_loss >= cfg.loss_down:
        return ProbeResult.down(total, "packet_loss", summary, **kw)
    if host.packet_loss >= cfg.loss_degraded:
        return ProbeResult.degraded(total, "packet_loss", summary, **kw)
    if cfg.degraded_after is not None and host.avg_rtt / 1000 > cfg.degraded_after:
        return ProbeResult.degraded(total, "slow", summary, **kw)
    return ProbeResult.up(total, summary, **kw)
