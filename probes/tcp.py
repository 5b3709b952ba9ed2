"""TCP connect probe, with an optional payload to send and a banner regex to expect.

Contract: ``probe`` returns a ProbeResult for every outcome (refused, timeout, DNS failure,
banner mismatch); it never raises for a failing target.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Literal

from pydantic import Field, field_validator

from threenines.core.config.base import CheckBase
from threenines.core.results import ProbeResult
from threenines.probes import _connect
from threenines.probes._common import guarded
from threenines.probes._connect import AddressOptions


class Config(CheckBase, AddressOptions):
    type: Literal["tcp"]
    host: str
    port: int = Field(ge=1, le=65535)
    send: str | None = None
    expect: str | None = Field(None, description="Regex the first bytes received must match")

    @field_validator("expect")
    @classmethod
    def _compile(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from None
        return value

    def target(self) -> str:
        return self.host


def from_target(target: str, name: str = "adhoc") -> Config:
    host, _, port = target.rpartition(":")
    return Config(type="tcp", name=name, host=host.strip("[]") or target, port=int(port or 0))


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    phases: dict[str, float] = {}
    attempts = _connect.Attempts()
    where = f"{cfg.host}:{cfg.port}"
    try:
        async with asyncio.timeout(timeout):
            try:
                addrs = await _connect.resolve(
                    cfg.host, cfg.port, cfg.ip_protocol, cfg.ip_protocol_fallback
                )
            except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: IDNA-invalid name
                return ProbeResult.down(time.perf_counter() - start, "dns", f"{cfg.host}: {exc}")
            phases["dns"] = time.perf_counter() - start
            t = time.perf_counter()
            try:
                reader, writer = await _connect.open_stream(addrs, cfg.port, attempts)
            except OSError as exc:
                cause = exc.__cause__ if isinstance(exc, _connect.AllFailed) else exc
                code = "refused" if isinstance(cause, ConnectionRefusedError) else "unreachable"
                what = "connection refused by " if code == "refused" else ""
                reason = f"{what}{where}{_tried(attempts, cause)}"
                return _down(start, code, reason, phases, attempts)
            phases["connect"] = time.perf_counter() - t
            try:
                return await _converse(cfg, reader, writer, start, phases, attempts)
            except OSError as exc:  # reset while talking: the service is there but broken
                reason = f"{where} dropped the connection: {exc.strerror or exc}"
                return _down(start, "protocol", reason, phases, attempts)
            finally:
                writer.close()
    except TimeoutError:
        code = "connect_timeout" if "connect" not in phases else "timeout"
        reason = f"no answer from {where} within {timeout:g}s"
        return _down(start, code, reason, phases, attempts)


def _tried(attempts: _connect.Attempts, cause: BaseException | None) -> str:
    if len(attempts.failed) > 1:
        return " (" + "; ".join(f"{a}: {_connect.describe(e)}" for a, e in attempts.failed) + ")"
    if isinstance(cause, ConnectionRefusedError) or cause is None:
        return ""
    return f": {_connect.describe(cause)}"


def _details(attempts: _connect.Attempts) -> dict[str, object]:
    details: dict[str, object] = {}
    if attempts.address or attempts.failed:
        details["address"] = attempts.address or attempts.failed[0][0]
    if attempts.failed:
        details["failed_addresses"] = attempts.summary()
    return details


def _down(
    start: float, code: str, reason: str, phases: dict[str, float], attempts: _connect.Attempts
) -> ProbeResult:
    total = time.perf_counter() - start
    phases = {**phases, "total": total}
    return ProbeResult.down(total, code, reason, phases=phases, details=_details(attempts))


async def _converse(
    cfg: Config,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    start: float,
    phases: dict[str, float],
    attempts: _connect.Attempts,
) -> ProbeResult:
    details = _details(attempts)
    if cfg.send is not None:
        writer.write(cfg.send.encode())
        await writer.drain()
    if cfg.expect is not None:
        t = time.perf_counter()
        data = await reader.read(4096)
        phases["banner"] = time.perf_counter() - t
        text = data.decode("utf-8", "replace")
        details["banner"] = text[:200]
        if not re.search(cfg.expect, text):
            phases["total"] = time.perf_counter() - start
            return ProbeResult.down(
                phases["total"],
                "expect_mismatch",
                f"banner {text[:60]!r} does not match {cfg.expect!r}",
                phases=phases,
                details=details,
            )
    phases["total"] = time.perf_counter() - start
    return ProbeResult.up(
        phases["total"], f"connected to {cfg.host}:{cfg.port}", phases=phases, details=details
    )
