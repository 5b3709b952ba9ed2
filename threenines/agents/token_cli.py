"""``threenines token create|list|revoke``: API tokens for agents, viewers, operators, admins."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from threenines.core.cli import (
    ConfigOption,
    JsonOption,
    LocalByOption,
    err,
    load_or_exit,
    local_actor,
    open_store,
    out,
    print_json,
    rows_json,
)
from threenines.core.client import ServerOption, TokenFileOption, connect, note_by

if TYPE_CHECKING:  # SQLAlchemy only for the commands that use it: --help stays fast
    from threenines.agents.tokens import TokenStore

# threenines.agents.tokens.ROLES for --help (tests/test_cli_help.py checks the two agree).
ROLE_HELP = "agent, viewer, operator, admin"

app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


def _store(config: Path) -> TokenStore:
    from threenines.agents.tokens import TokenStore

    return TokenStore(open_store(load_or_exit(config)))


@app.command()
def create(
    role: str = typer.Option(..., "--role", help=f"One of: {ROLE_HELP}"),
    vantage: str | None = typer.Option(None, "--vantage", help="Vantage point (agent tokens)"),
    name: str = typer.Option("", "--name", help="Who or what holds it (shown in audit trails)"),
    by: str | None = LocalByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Create a token and print it once (only its hash is stored). With --server, through
    the API with an admin token."""
    from threenines.agents.tokens import TokenError

    client = connect(server, token_file)
    if client is not None:
        note_by(by)
        made = client.post("/api/v1/tokens", {"role": role, "name": name, "vantage": vantage})
        err.print(f"created {role} token id={made['id']}" + (f" for {vantage}" if vantage else ""))
        err.print("store it now: it is not shown again", style="bold")
        print(made["token"])
        return
    cfg = load_or_exit(config)
    known = {v.name for v in cfg.vantage_points} | {cfg.server.vantage}
    if vantage is not None and vantage not in known:
        err.print(f"--vantage: {vantage!r} is not a vantage point in {config}", style="red")
        raise typer.Exit(2)
    try:
        principal, plain = _store(config).create(
            role, now=time.time(), vantage=vantage, name=name, by=local_actor(by)
        )
    except TokenError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    err.print(f"created {role} token id={principal.id}" + (f" for {vantage}" if vantage else ""))
    err.print("store it now: it is not shown again", style="bold")
    print(plain)


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


@app.command("list")
def list_(
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """List tokens (never their values)."""
    client = connect(server, token_file)
    rows = client.get("/api/v1/tokens") if client is not None else _store(config).list()
    if as_json:
        print_json(rows_json(rows))
        return
    table = Table(title="API tokens", title_justify="left")
    for col in ("id", "name", "role", "vantage", "created", "last used", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["name"], r["role"], r["vantage"] or "", _when(r["created"]),
                      _when(r["last_used"]), _when(r["revoked"]))  # fmt: skip
    out.print(table)


@app.command()
def revoke(
    token_id: str = typer.Argument(..., help="The token's id"),
    by: str | None = LocalByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Revoke a token: every request with it is refused (401) from now on."""
    client = connect(server, token_file)
    if client is not None:
        from urllib.parse import quote

        note_by(by)
        client.delete(f"/api/v1/tokens/{quote(token_id, safe='')}")
        out.print(f"revoked {token_id}")
        return
    if not _store(config).revoke(token_id, now=time.time(), by=local_actor(by)):
        err.print(f"no active token with id {token_id!r}", style="red", markup=False)
        raise typer.Exit(2)  # a refused input: as through the server (its 404)
    out.print(f"revoked {token_id}")
