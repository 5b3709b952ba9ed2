"""The agent's HTTP client: fetch its config (ETag), post result batches, probe the server.

Never raises for a server problem: every call returns what happened, so the caller decides to
delete (``OK``), drop exactly the refused results (``REFUSED`` with indices), shrink the batch
(``TOO_LARGE``), keep everything and retry later (``RETRY``: unreachable, 5xx, 401/403), or
keep the results the server will not take *yet* (``EARLY``, 425: dated in the server's
future; the server decides, the agent never drops them). The token is sent as a bearer
header and never logged.

Every request carries the host's clock (``X-Threenines-Sent``) and the agent's own state
(``X-Threenines-Agent``: queue depth and age, queue errors, results held in memory): the
server records them and ``threenines status`` and ``/api/v1/agents`` show them. Every answer's
``X-Threenines-Time`` goes to the clock.

Several server URLs (the nodes of an HA pair) may be given: every request goes to the current
one; when it cannot be reached or answers 5xx (a standby answers 503), the same request goes
to the next, and the first that answers otherwise becomes the current one (it sticks until it
fails). A batch re-sent to the next server after a timeout may have been stored by the first
already: ingest is idempotent on (check, vantage, ts), so it is stored once either way.
"""

from __future__ import annotations

import enum
import json
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from threenines.agents.clock import ServerClock

log = logging.getLogger("threenines.agent.sender")


class Outcome(enum.Enum):
    OK = "ok"
    REFUSED = "refused"  # 400: the batch (or named results in it) can never be accepted
    TOO_LARGE = "too_large"  # 413: send fewer at once
    EARLY = "early"  # 425: named results are dated in the server's future: keep, send later
    RETRY = "retry"  # unreachable, 5xx, 401/403 (a token can be fixed): keep and retry


SENT, STATE, SERVER_TIME = "X-Threenines-Sent", "X-Threenines-Agent", "X-Threenines-Time"


@dataclass(frozen=True, slots=True)
class PostResult:
    outcome: Outcome
    message: str = ""
    refused: dict[int, str] = field(default_factory=dict)
    status: int | None = None


@dataclass(frozen=True, slots=True)
class ConfigResult:
    status: int | None  # None: unreachable
    doc: dict[str, Any] | None = None
    etag: str | None = None
    message: str = ""


def _message(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = resp.text[:300]
    return f"HTTP {resp.status_code}: {detail}"


def server_urls(servers: str | Sequence[str]) -> list[str]:
    """The server URLs in order: each item may itself be a comma-separated list."""
    items = [servers] if isinstance(servers, str) else list(servers)
    urls = [u.strip().rstrip("/") for item in items for u in item.split(",")]
    urls = list(dict.fromkeys(u for u in urls if u))
    if not urls:
        raise ValueError("no server URL given")
    return urls


class AgentClient:
    def __init__(
        self,
        server: str | Sequence[str],
        vantage: str,
        token: str,
        *,
        ca_file: str | None = None,
        timeout: float = 30.0,
    ):
        self.vantage = vantage
        self.servers = server_urls(server)
        self.current = 0  # index in ``servers`` of the one in use
        self.clock = ServerClock()
        self.clock_moved = False  # the clock's anchor changed since the agent last saved it
        self.state: Callable[[], dict[str, Any]] | None = None  # the agent's, for the server
        verify: ssl.SSLContext | bool = True
        if ca_file:
            verify = ssl.create_default_context(cafile=ca_file)
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}", "User-Agent": "threenines-agent/1"},
            timeout=timeout,
            verify=verify,
        )

    @property
    def server(self) -> str:
        """The server URL in use."""
        return self.servers[self.current]

    async def close(self) -> None:
        await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        headers = {SENT: f"{time.time():.3f}"}
        if self.state is not None:
            headers[STATE] = json.dumps(self.state(), separators=(",", ":"))
        return headers

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """``path`` on the current server, else on the next ones in turn (see the module's
        docstring); the last server's answer or error when none answered below 500."""
        n = len(self.servers)
        for i in range(n):
            index = (self.current + i) % n
            last = i == n - 1
            try:
                resp = await self._send_to(self.servers[index], method, path, **kw)
            except httpx.HTTPError as exc:
                if last:
                    raise
                why = f"unreachable: {type(exc).__name__}"
            else:
                if resp.status_code < 500 or last:
                    self._use(index, resp.status_code < 500)
                    return resp
                why = f"HTTP {resp.status_code}"
            log.debug("server %s: %s; trying %s", self.servers[index], why,
                      self.servers[(index + 1) % n])  # fmt: skip
        raise AssertionError("unreachable")  # the loop returns or raises on its last server

    def _use(self, index: int, answered: bool) -> None:
        if answered and index != self.current:
            log.warning("server %s did not answer; now using %s", self.servers[self.current],
                        self.servers[index])  # fmt: skip
            self.current = index

    async def _send_to(self, base: str, method: str, path: str, **kw: Any) -> httpx.Response:
        kw["headers"] = {**self._headers(), **kw.get("headers", {})}
        sent = time.monotonic()
        resp = await self._http.request(method, base + path, **kw)
        try:
            server_time = float(resp.headers.get(SERVER_TIME, "nan"))
        except ValueError:
            return resp
        self.clock_moved |= self.clock.observe(server_time, sent, time.monotonic())
        return resp

    async def probe(self) -> bool:
        """Is the server there and storing? (``/healthz``: cheap, no token needed)"""
        try:
            resp = await self._send("GET", "/healthz", timeout=5.0)
            return resp.status_code == 200 and resp.json().get("database") == "up"
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    async def fetch_config(self, etag: str | None = None) -> ConfigResult:
        headers = {"If-None-Match": etag} if etag else {}
        try:
            resp = await self._send(
                "GET", "/api/v1/agent/config", params={"vantage": self.vantage}, headers=headers
            )
        except httpx.HTTPError as exc:
            return ConfigResult(None, message=f"unreachable: {type(exc).__name__}")
        if resp.status_code == 304:
            return ConfigResult(304, etag=etag)
        if resp.status_code != 200:
            return ConfigResult(resp.status_code, message=_message(resp))
        try:
            doc = resp.json()
        except ValueError:
            return ConfigResult(resp.status_code, message="config response is not JSON")
        return ConfigResult(200, doc, resp.headers.get("etag"))

    def body(self, results: list[str]) -> bytes:
        """The ingest body for already-encoded ``WireResult`` JSON texts (no re-encoding)."""
        head = json.dumps({"vantage": self.vantage})[:-1]
        return f'{head},"results":[{",".join(results)}]}}'.encode()

    async def post(self, results: list[str]) -> PostResult:
        try:
            resp = await self._send(
                "POST",
                "/api/v1/ingest",
                content=self.body(results),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            return PostResult(Outcome.RETRY, f"unreachable: {type(exc).__name__}: {exc}")
        code = resp.status_code
        if code == 200:
            return PostResult(Outcome.OK, status=code)
        if code == 413:
            return PostResult(Outcome.TOO_LARGE, _message(resp), status=code)
        if code in (400, 425):
            outcome = Outcome.REFUSED if code == 400 else Outcome.EARLY
            return PostResult(outcome, _message(resp), _named(resp), code)
        return PostResult(Outcome.RETRY, _message(resp), status=code)


def _named(resp: httpx.Response) -> dict[int, str]:
    """The results a 400 or 425 names, by index in the batch."""
    try:
        items = resp.json().get("rejected") or []
        return {int(x["index"]): str(x["reason"]) for x in items}
    except (ValueError, AttributeError, KeyError, TypeError):
        return {}
