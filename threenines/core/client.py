"""The CLI's way to act through a running server's API instead of the database.

Every area's command that can run remotely takes ``--server URL`` (or ``THREENINES_SERVER``)
and ``--token-file PATH`` (or ``THREENINES_TOKEN_FILE``; the token itself may also be in
``THREENINES_TOKEN``). With a server, the command asks the API (``connect`` gives a ``Client``)
and prints what the local mode prints, from the same rows; without one, ``connect`` gives
``None`` and the command reads the database as before. So an operator needs a token, never the
database's credentials.

A refusal is one line on stderr naming the status and the server's reason (which never holds
the token), and exit 1 (2 when the token cannot be read); the token is never printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from threenines.core.config.schema import Config

SERVER_ENV = "THREENINES_SERVER"
TOKEN_FILE_ENV = "THREENINES_TOKEN_FILE"
TOKEN_ENV = "THREENINES_TOKEN"
TIMEOUT = 60.0  # seconds: a report renders within it
INPUT_REFUSED = (404, 409, 422)  # the input is wrong or refused by a rule: exit 2

ServerOption = typer.Option(
    None,
    "--server",
    envvar=SERVER_ENV,
    help="Act through this running server's API (e.g. http://127.0.0.1:8080), not the database",
)
TokenFileOption = typer.Option(
    None,
    "--token-file",
    envvar=TOKEN_FILE_ENV,
    help=f"File holding the API token for --server (or {TOKEN_ENV})",
)


WaitJobOption = typer.Option(
    900.0,
    "--wait",
    min=1,
    help="With --server: follow the server's job this many seconds at most (it goes on after)",
)
POLL = 0.5  # seconds between looks at a job
T = TypeVar("T")


class ApiError(Exception):
    """The server refused (``status`` is its HTTP status) or could not be reached (0)."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _fail(line: str, code: int) -> typer.Exit:
    from threenines.core.cli import err

    err.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def read_token(token_file: Path | None) -> str:
    """The token from ``token_file``, else ``THREENINES_TOKEN``; "" if neither gives one."""
    if token_file is None:
        return os.environ.get(TOKEN_ENV, "").strip()
    try:
        return token_file.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not a text file"
        raise _fail(f"--token-file: cannot read {token_file}: {why}", 2) from None


def _detail(body: Any) -> str:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # a 422: each field and why
        parts = []
        for d in detail[:5]:
            if isinstance(d, dict):
                loc = ".".join(str(x) for x in d.get("loc", []) if x not in ("body", "query"))
                parts.append(f"{loc}: {d.get('msg', '')}" if loc else str(d.get("msg", "")))
        return "; ".join(parts)
    return str(detail) if detail else ""


@dataclass
class Client:
    """A server's API with one token; every call gives the JSON body or raises ``ApiError``."""

    base: str
    token: str

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        raw: bool = False,
        accept: tuple[int, ...] = (),
    ) -> Any:
        """The answer's JSON (``raw``: the response); a status of 400 or more raises
        ``ApiError`` unless it is in ``accept`` (a route whose refusal has a body of its own)."""
        import httpx

        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            r = httpx.request(
                method, f"{self.base}{path}", params=query, json=json, timeout=TIMEOUT,
                headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach the server at {self.base}: "
                              f"{type(exc).__name__}") from None  # fmt: skip
        if r.status_code >= 400 and r.status_code not in accept:
            try:
                why = _detail(r.json())
            except ValueError:
                why = ""
            raise ApiError(r.status_code, why or r.reason_phrase)
        if raw:
            return r
        try:
            return r.json()
        except ValueError:
            raise ApiError(r.status_code, "the server's answer is not JSON") from None

    def ask(
        self, method: str, path: str, body: Any = None, exits: dict[int, int] | None = None,
        **params: Any,
    ) -> Any:  # fmt: skip
        """``call`` for commands: a refusal of the input (404, 409, 422) is the server's reason
        alone and exit 2, as the local mode tells it (``exits`` maps a status to another exit
        code where the local mode has one); any other is one line and exit 1."""
        codes = {status: 2 for status in INPUT_REFUSED} | (exits or {})
        try:
            return self.call(method, path, params=params, json=body)
        except ApiError as exc:
            if exc.status in codes:
                raise _fail(exc.detail, codes[exc.status]) from None
            raise refused(exc) from None

    def get(self, path: str, **params: Any) -> Any:
        return self.ask("GET", path, **params)

    def download(self, path: str, **params: Any) -> bytes:
        """A GET whose answer is a file (a report), refused as ``ask`` refuses."""
        try:
            return bytes(self.call("GET", path, params=params, raw=True).content)
        except ApiError as exc:
            if exc.status in INPUT_REFUSED:
                raise _fail(exc.detail, 2) from None
            raise refused(exc) from None

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.ask("POST", path, body, **params)

    def delete(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.ask("DELETE", path, body, **params)


def connect(server: str | None, token_file: Path | None) -> Client | None:
    """The server's client for ``--server``/``--token-file``; None without a server (the
    command then uses the database). No token at all is one line and exit 2."""
    if not server:
        return None
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise _fail(f"--server: {server!r} is not an http:// or https:// URL", 2)
    token = read_token(token_file)
    if not token:
        raise _fail(
            f"--server needs an API token: --token-file PATH, {TOKEN_FILE_ENV} or {TOKEN_ENV}", 2
        )
    return Client(base, token)


def refused(exc: ApiError) -> typer.Exit:
    """``exc`` as one line on stderr, and the exit to raise (1)."""
    if exc.status == 0:
        return _fail(exc.detail, 1)
    return _fail(f"the server refused: {exc.status} {exc.detail}", 1)


def note_by(by: str | None) -> None:
    """Through a server the token's name is who acted: a ``--by`` given too is only noted."""
    if by:
        from threenines.core.cli import err

        err.print("note: with --server the token's name is recorded as who acted, not --by")


def follow_job(client: Client, job: dict[str, Any], wait: float) -> dict[str, Any]:
    """Poll a job the server started (``threenines.core.jobs``) until it ends; its document.
    Past ``wait`` seconds: one line saying where to follow it, and exit 1 (it goes on)."""
    import time

    deadline = time.monotonic() + wait
    while job["state"] == "running":
        if time.monotonic() >= deadline:
            raise _fail(f"job {job['id']} still runs after {wait:g}s; follow it at "
                        f"{client.base}/api/v1/jobs/{job['id']}", 1)  # fmt: skip
        time.sleep(POLL)
        job = client.get(f"/api/v1/jobs/{job['id']}")
    return job


def run_job(client: Client, path: str, body: Any, wait: float) -> dict[str, Any]:
    """A long operation through the server: POST ``path`` (its route answers 202 with a job),
    say so on stderr, follow the job until it ends and give its result document (the one the
    local mode prints from). A failed job is one line and exit 1."""
    from threenines.core.cli import err

    job = client.post(path, body)
    err.print(f"job {job['id']}: {job['kind']} {job['key']} started on the server", markup=False)
    doc = follow_job(client, job, wait)
    if doc["state"] == "failed":
        raise _fail(f"job {doc['id']} failed: {doc['error']}", 1)
    result: dict[str, Any] = doc["result"]
    return result


def document(
    server: str | None,
    token_file: Path | None,
    config: Path,
    remote: Callable[[Client], T],
    local: Callable[[Config, Engine], T],
    refusals: tuple[type[Exception], ...] = (),
) -> T:
    """What a command prints, through ``--server`` or locally: ``remote`` asks the server's API
    (its refusals as ``Client.ask`` tells them); without a server, ``local`` builds the same
    document from the database (the config loaded, the store opened, migrated and closed), and
    an exception of ``refusals`` is its message alone and exit 2, as the server's 404/409/422.
    So the command has one document and one rendering for both paths."""
    client = connect(server, token_file)
    if client is not None:
        return remote(client)
    from threenines.core.cli import load_or_exit, open_store

    cfg = load_or_exit(config)
    engine = open_store(cfg)
    try:
        return local(cfg, engine)
    except refusals as exc:
        raise _fail(str(exc), 2) from None
    finally:
        engine.dispose()
