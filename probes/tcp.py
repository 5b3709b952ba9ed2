"""TCP probe: connect (Happy Eyeballs over every address), then an optional dialogue.

The dialogue is ``query_response``, a list of steps, each one of ``send`` (text, sent as
written), ``expect`` (a regex) or ``starttls: true`` (upgrade the connection to TLS, for SMTP,
IMAP, POP3 STARTTLS). ``tls: true`` speaks TLS from the start (IMAPS, POP3S, SMTPS). The
shorthand ``send``/``expect`` is the dialogue ``[send, expect]``.

An ``expect`` reads line by line until a line matches (``re.search`` on the line without its
line ending), so a banner split over several packets, and multi-line greetings (``220-...``
then ``220 ...`` against ``^220 ``), pass. It fails with ``expect_mismatch`` when the server
closes first (the unterminated last line is tried too) or after ``max_lines`` lines, and with
``timeout`` when the deadline passes while waiting. Lines longer than ``MAX_LINE`` bytes fail.

Contract: ``probe`` returns a ProbeResult for every outcome (dns, refused, unreachable,
connect_timeout, timeout, expect_mismatch, protocol, TLS codes); it never raises for a
failing target. ``details``: ``address`` (the one that answered), ``failed_addresses``,
``banner`` (the first line received) and ``tls_version`` when TLS was used.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from typing import Any, Literal

from pydantic import Field, model_validator

from threenines.core.config.base import CheckBase, StrictModel
from threenines.core.results import ProbeResult
from threenines.probes import _connect, _tls
from threenines.probes._common import Regex, first_ssl_error, guarded
from threenines.probes._connect import AddressOptions

MAX_LINE = 64 * 1024  # asyncio's StreamReader limit: a longer "line" is not a protocol line


class Step(StrictModel):
    """Exactly one of ``send``, ``expect``, ``starttls``."""

    send: str | None = Field(None, description='Text to send, e.g. "EHLO probe\\r\\n"')
    expect: Regex | None = Field(None, description="Regex a line received must match")
    starttls: bool = Field(False, description="Upgrade to TLS here (after the server's go-ahead)")

    @model_validator(mode="after")
    def _one(self) -> Step:
        if sum((self.send is not None, self.expect is not None, self.starttls)) != 1:
            raise ValueError("a step is exactly one of send, expect, starttls: true")
        return self


class Config(CheckBase, AddressOptions, _tls.TlsOptions):
    type: Literal["tcp"]
    host: str
    port: int = Field(ge=1, le=65535)
    send: str | None = Field(None, description="Shorthand: sent first (then expect)")
    expect: Regex | None = Field(None, description="Shorthand: a line received must match")
    query_response: list[Step] = Field(default_factory=list, description="The dialogue steps")
    tls: bool = Field(False, description="TLS from the first byte (IMAPS, POP3S, SMTPS)")
    max_lines: int = Field(100, ge=1, le=10_000, description="Lines one expect reads at most")

    @model_validator(mode="after")
    def _dialogue(self) -> Config:
        if self.query_response and (self.send is not None or self.expect is not None):
            raise ValueError("give send/expect or query_response, not both")
        return self

    def steps(self) -> list[Step]:
        if self.query_response:
            return self.query_response
        out = [Step(send=self.send)] if self.send is not None else []
        return out + ([Step(expect=self.expect)] if self.expect is not None else [])

    def target(self) -> str:
        return self.host


def from_target(target: str, name: str = "adhoc", **options: Any) -> Config:
    host, _, port = target.rpartition(":")
    data = {"type": "tcp", "name": name, "host": host.strip("[]") or target, "port": port or 0}
    return Config.model_validate({**data, **options})


class _Mismatch(Exception):
    """An expectation failed: (error code, reason)."""


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    run = _Run(cfg, start)
    where = f"{cfg.host}:{cfg.port}"
    try:
        async with asyncio.timeout(timeout):
            try:
                addrs = await _connect.resolve(cfg.host, cfg.port, *cfg.resolve_with())
            except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: IDNA-invalid name
                return run.down("dns", f"{cfg.host}: {exc}")
            run.phases["dns"] = time.perf_counter() - start
            t = time.perf_counter()
            # a plain connect check (no TLS, nothing sent or expected) needs no asyncio stream:
            # the connected socket is closed at once (a transport and its protocol per probe
            # were most of the Python work of a TCP probe)
            plain = not (cfg.tls or cfg.query_response or cfg.send or cfg.expect)
            try:
                if plain:
                    sock = await _connect.connect(addrs, cfg.port, run.attempts)
                else:
                    reader, writer = await _connect.open_stream(addrs, cfg.port, run.attempts)
            except OSError as exc:
                cause = exc.__cause__ if isinstance(exc, _connect.AllFailed) else exc
                code = "refused" if isinstance(cause, ConnectionRefusedError) else "unreachable"
                what = "connection refused by " if code == "refused" else ""
                return run.down(code, f"{what}{where}{_tried(run.attempts, cause)}")
            run.phases["connect"] = time.perf_counter() - t
            if plain:
                sock.close()
                return run.up(f"connected to {cfg.host}:{cfg.port}")
            try:
                return await run.converse(reader, writer)
            except _Mismatch as exc:
                return run.down(*exc.args)
            except ssl.SSLError as exc:
                return run.down(*_tls.classify(exc))
            except OSError as exc:  # reset while talking: the service is there but broken
                ssl_error = first_ssl_error(exc)
                if ssl_error is not None:
                    return run.down(*_tls.classify(ssl_error))
                return run.down(
                    "protocol", f"{where} dropped the connection: {exc.strerror or exc}"
                )
            finally:
                writer.transport.abort()
    except TimeoutError:
        if "connect" not in run.phases:
            return run.down("connect_timeout", f"no connection to {where} within {timeout:g}s")
        waited = run.waiting or "an answer"
        if run.unmatched is not None:  # lines came, none matched: the answer is wrong, not late
            why = f"no {waited} from {where} within {timeout:g}s (last line {run.unmatched!r})"
            return run.down("expect_mismatch", why)
        return run.down("timeout", f"waited for {waited} from {where}: none in {timeout:g}s")


class _Run:
    """One probe's state: phases, addresses tried, what is being waited for."""

    def __init__(self, cfg: Config, start: float):
        self.cfg, self.start = cfg, start
        self.phases: dict[str, float] = {}
        self.attempts = _connect.Attempts()
        self.details: dict[str, object] = {}
        self.waiting: str | None = None
        self.unmatched: str | None = None  # the last line the current expect did not match

    async def converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> ProbeResult:
        cfg = self.cfg
        if cfg.tls:
            await self._tls(writer)
        for i, step in enumerate(cfg.steps()):
            if step.send is not None:
                self.waiting, self.unmatched = None, None
                writer.write(step.send.encode())
                await writer.drain()
            elif step.starttls:
                await self._tls(writer)
            elif step.expect is not None:
                t = time.perf_counter()
                await self._expect(reader, step.expect, i)
                self.phases.setdefault("banner", time.perf_counter() - t)
        return self.up(f"connected to {cfg.host}:{cfg.port}")

    async def _tls(self, writer: asyncio.StreamWriter) -> None:
        cfg = self.cfg
        self.waiting, self.unmatched = "TLS handshake", None
        t = time.perf_counter()
        await writer.start_tls(cfg.tls_context(), server_hostname=cfg.server_name or cfg.host)
        self.phases["tls"] = self.phases.get("tls", 0.0) + time.perf_counter() - t
        self.details["tls_version"] = writer.get_extra_info("ssl_object").version()

    async def _expect(self, reader: asyncio.StreamReader, regex: re.Pattern[str], i: int) -> None:
        self.waiting = f"line matching /{regex.pattern}/"
        self.unmatched = None
        last = ""
        for _ in range(self.cfg.max_lines):
            try:
                raw = await reader.readline()
            except ValueError:  # LimitOverrunError: no line end within MAX_LINE bytes
                raise _Mismatch("expect_mismatch", f"a line longer than {MAX_LINE} bytes") from None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if raw and "banner" not in self.details:
                self.details["banner"] = line[:200]
            if raw and regex.search(line):
                self.unmatched = None
                return
            if not raw.endswith(b"\n"):  # end of stream (an unterminated last line was tried)
                seen = line or last
                tail = f", last line {seen[:60]!r}" if seen else ", nothing received"
                why = f"connection closed before a line matched /{regex.pattern}/{tail}"
                raise _Mismatch("expect_mismatch", f"step {i + 1}: {why}")
            last = self.unmatched = line[:60]
        why = f"none of {self.cfg.max_lines} lines matched /{regex.pattern}/ (last {last[:60]!r})"
        raise _Mismatch("expect_mismatch", f"step {i + 1}: {why}")

    def _finish(self) -> float:
        total = time.perf_counter() - self.start
        self.phases["total"] = total
        self.details |= _addresses(self.attempts)
        return total

    def up(self, reason: str) -> ProbeResult:
        total = self._finish()
        return ProbeResult.up(total, reason, phases=self.phases, details=self.details)

    def down(self, code: str, reason: str) -> ProbeResult:
        total = self._finish()
        return ProbeResult.down(total, code, reason, phases=self.phases, details=self.details)


def _tried(attempts: _connect.Attempts, cause: BaseException | None) -> str:
    if len(attempts.failed) > 1:
        return " (" + "; ".join(f"{a}: {_connect.describe(e)}" for a, e in attempts.failed) + ")"
    if isinstance(cause, ConnectionRefusedError) or cause is None:
        return ""
    return f": {_connect.describe(cause)}"


def _addresses(attempts: _connect.Attempts) -> dict[str, object]:
    details: dict[str, object] = {}
    if attempts.address or attempts.failed:
        details["address"] = attempts.address or attempts.failed[0][0]
    if attempts.failed:
        details["failed_addresses"] = attempts.summary()
    return details
