"""The agent's HTTP client: fetch its config (ETag) and post result batches.

Never raises for a server problem: every call returns what happened, so the caller decides to
delete (``OK``), drop exactly the refused results (``REFUSED`` with indices), shrink the batch
(``TOO_LARGE``) or keep everything and retry later (``RETRY``: unreachable, 5xx, 401/403).
The token is sent as a bearer header and never logged.
"""

from __future__ import annotations

import enum
import json
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("threenines.agent.sender")


class Outcome(enum.Enum):
    OK = "ok"
    REFUSED = "refused"  # 400: the batch (or named results in it) can never be accepted
    TOO_LARGE = "too_large"  # 413: send fewer at once
    RETRY = "retry"  # unreachable, 5xx, 401/403 (a token can be fixed): keep and retry


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


class AgentClient:
    def __init__(
        self,
        server: str,
        vantage: str,
        token: str,
        *,
        ca_file: str | None = None,
        timeout: float = 30.0,
    ):
        self.vantage = vantage
        verify: ssl.SSLContext | bool = True
        if ca_file:
            verify = ssl.create_default_context(cafile=ca_file)
        self._http = httpx.AsyncClient(
            base_url=server.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "threenines-agent/1"},
            timeout=timeout,
            verify=verify,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def fetch_config(self, etag: str | None = None) -> ConfigResult:
        headers = {"If-None-Match": etag} if etag else {}
        try:
            resp = await self._http.get(
                "/api/v1/agent/config", params={"vantage": self.vantage}, headers=headers
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
            resp = await self._http.post(
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
        if code == 400:
            try:
                items = resp.json().get("rejected") or []
                refused = {int(x["index"]): str(x["reason"]) for x in items}
            except (ValueError, AttributeError, KeyError, TypeError):
                refused = {}
            return PostResult(Outcome.REFUSED, _message(resp), refused, code)
        return PostResult(Outcome.RETRY, _message(resp), status=code)
