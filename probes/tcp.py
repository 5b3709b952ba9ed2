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
from threenines.probes._common import guarded


class Config(CheckBase):
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


async def _resolve(host: str, port: int) -> list[tuple[int, tuple[str, int]]]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(family, addr[:2]) for family, _, _, _, addr in infos]  # type: ignore[misc]


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    phases: dict[str, float] = {}
    try:
        async with asyncio.timeout(timeout):
            try:
                addrs = await _resolve(cfg.host, cfg.port)
            except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: IDNA-invalid name
                return ProbeResult.down(time.perf_counter() - start, "dns", f"{cfg.host}: {exc}")
            phases["dns"] = time.perf_counter() - start
            t = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection(addrs[0][1][0], cfg.port)
            except ConnectionRefusedError:
                return ProbeResult.down(
                    time.perf_counter() - start,
                    "refused",
                    f"connection refused by {cfg.host}:{cfg.port}",
                    phases=phases,
                )
            except OSError as exc:
                return ProbeResult.down(
                    time.perf_counter() - start,
                    "unreachable",
                    f"{cfg.host}:{cfg.port}: {exc.strerror or exc}",
                    phases=phases,
                )
            phases["connect"] = time.perf_counter() - t
            try:
                return await _converse(cfg, reader, writer, start, phases)
            except OSError as exc:  # reset while talking: the service is there but broken
                reason = f"{cfg.host}:{cfg.port} dropped the connection: {exc.strerror or exc}"
                return ProbeResult.down(
                    time.perf_counter() - start, "protocol", reason, phases=phases
                )
            finally:
                writer.close()
    except TimeoutError:
        code = "connect_timeout" if "connect" not in phases else "timeout"
        return ProbeResult.down(
            time.perf_counter() - start,
            code,
            f"no answer from {cfg.host}:{cfg.port} within {timeout:g}s",
            phases=phases,
        )


async def _converse(
    cfg: Config,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    start: float,
    phases: dict[str, float],
) -> ProbeResult:
    details: dict[str, object] = {"address": writer.get_extra_info("peername")[0]}
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
