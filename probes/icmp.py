"""ICMP echo probe: RTT and loss over ``count`` packets (icmplib).

Raw sockets when running as root, otherwise the kernel's unprivileged ICMP sockets (Linux needs
``net.ipv4.ping_group_range`` to include the service's group).

Contract: ``probe`` never raises for a failing target. Loss >= ``loss_down`` -> ``down``
(``packet_loss``); loss >= ``loss_degraded`` -> ``degraded`` (``packet_loss``); average RTT above
``degraded_after`` -> ``degraded`` (``slow``). Details: rtt_min/avg/max (ms), loss, sent,
received.

Addresses: every address of the name that ``ip_protocol`` allows is pinged in turn (families
interleaved, as ``_connect.resolve`` orders them): the next one when the one before got no reply
or could not be pinged at all, the first that replies is the result (``details.address``; the
ones before it in ``details.failed_addresses``). An echo request that cannot be sent (icmplib
then counts 0 sent) is ``unreachable``, never "0/0 replies, loss 0 %" up.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import time
from asyncio import staggered
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
    """Each address ``ip_protocol`` allows is pinged in turn until one replies."""

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


class _NoReply(Exception):
    """Every echo request to this address went unanswered (its statistics kept)."""

    def __init__(self, host: Any):
        super().__init__(f"no reply to {host.packets_sent} pings")
        self.host = host


class _NotSent(OSError):
    """No echo request could be sent to this address (no route, filtered, no such address)."""


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    phases: dict[str, float] = {}
    try:
        addresses = await asyncio.wait_for(resolve(cfg.host, 0, *cfg.resolve_with()), timeout)
    except (socket.gaierror, TimeoutError) as exc:
        reason = f"cannot resolve {cfg.host}: {getattr(exc, 'strerror', None) or 'timed out'}"
        return ProbeResult.down(time.perf_counter() - start, "dns", reason)
    phases["dns"] = time.perf_counter() - start
    # icmplib waits for each reply in turn: share what the gaps between packets leave of the
    # deadline over every address, so a dead host gives a packet_loss result, not a timeout.
    gaps = cfg.packet_interval * (cfg.count - 1) * len(addresses)
    budget = timeout - phases["dns"] - gaps
    per_packet = max(0.05, min(2.0, budget * 0.9 / (cfg.count * len(addresses))))
    attempts = [functools.partial(_ping, cfg, a, per_packet) for a in addresses]
    try:
        async with asyncio.timeout(timeout):
            host, index, errors = await staggered.staggered_race(attempts, None)
    except TimeoutError:
        reason = f"{cfg.count} pings to {cfg.host} not done within {timeout:g}s"
        return ProbeResult.down(time.perf_counter() - start, "timeout", reason, phases=phases)
    failed = [(a, e) for a, e in zip(addresses, errors, strict=False) if e is not None]
    for _address, error in failed:
        if isinstance(error, icmplib.SocketPermissionError):
            reason = "ICMP sockets not permitted: run as root or widen net.ipv4.ping_group_range"
            return ProbeResult.down(time.perf_counter() - start, "internal", reason, phases=phases)
    tried = [{"address": a, "error": str(e) or type(e).__name__} for a, e in failed]
    if host is not None and index is not None:
        return _judge(cfg, host, addresses[index], start, phases, tried)
    address, first = failed[0]
    if isinstance(first, _NoReply):  # loss statistics of the first address, as before
        return _judge(cfg, first.host, address, start, phases, tried)
    total = time.perf_counter() - start
    reason = f"ping {cfg.host}: " + "; ".join(f"{t['address']}: {t['error']}" for t in tried)
    details: dict[str, Any] = {"address": address, "failed_addresses": tried}
    return ProbeResult.down(total, "unreachable", reason, phases=phases, details=details)


async def _ping(cfg: Config, address: str, per_packet: float) -> Any:
    try:
        host = await icmplib.async_ping(
            address,
            count=cfg.count,
            interval=cfg.packet_interval,
            timeout=per_packet,
            privileged=os.geteuid() == 0,
        )
    except icmplib.SocketPermissionError:
        raise
    except icmplib.ICMPLibError as exc:
        raise _NotSent(f"{type(exc).__name__}: {exc}") from exc
    if host.packets_sent == 0:
        raise _NotSent("no echo request could be sent")
    if host.packets_received == 0:
        raise _NoReply(host)
    return host


def _judge(
    cfg: Config,
    host: Any,
    address: str,
    start: float,
    phases: dict[str, float],
    tried: list[dict[str, str]] | None = None,
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
    if tried:
        details["failed_addresses"] = tried
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
