"""``threenines user add|list|disable``: local console accounts (viewer, operator, admin),
in the database or, with ``--server``, through the users API with an admin token."""

from __future__ import annotations

import getpass
import time
from pathlib import Path

import typer

from threenines.core.cli import (
    ConfigOption,
    JsonOption,
    LocalByOption,
    err,
    load_or_exit,
    local_actor,
    open_store,
    out,
)
from threenines.core.client import ServerOption, TokenFileOption, connect, note_by

app = typer.Typer(help="Console user accounts: add, list, disable.", no_args_is_help=True)


def _password(file: Path | None) -> str:
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err.print(f"--password-file: cannot read {file}: {type(exc).__name__}", markup=False)
            raise typer.Exit(2) from None
        return text.rstrip("\r\n")
    try:
        first = getpass.getpass("Password: ")
        again = getpass.getpass("Again: ")
    except (EOFError, KeyboardInterrupt):
        err.print("no password given (type it at the prompt, or use --password-file)")
        raise typer.Exit(2) from None
    if again != first:
        err.print("the two passwords differ")
        raise typer.Exit(2)
    return first


@app.command()
def add(
    name: str = typer.Argument(..., help="The user's sign-in name (shown in the audit log)"),
    role: str = typer.Option(..., "--role", help="One of: viewer, operator, admin"),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="Read the password from this file (default: prompt)"
    ),
    by: str | None = LocalByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Add a console user; the password is stored as an argon2id hash only."""
    from threenines.console.identity import UserError, UserStore

    client = connect(server, token_file)
    if client is not None:
        note_by(by)
        password = _password(password_file)
        client.post("/api/v1/users", {"name": name, "role": role, "password": password})
        err.print(f"added {role} {name}", markup=False)
        return
    cfg = load_or_exit(config)
    password = _password(password_file)
    try:
        UserStore(open_store(cfg)).add(name, role, password, now=time.time(), by=local_actor(by))
    except UserError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    err.print(f"added {role} {name}", markup=False)


@app.command("list")
def list_(
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Local console accounts (never their passwords), oldest first."""
    from datetime import datetime

    from rich.table import Table

    from threenines.core.cli import print_json

    client = connect(server, token_file)
    if client is not None:
        rows = client.get("/api/v1/users")
    else:
        from threenines.console.identity import UserStore

        rows = UserStore(open_store(load_or_exit(config))).users()
    if as_json:
        print_json(rows)
        return

    def when(ts: float | None) -> str:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"

    table = Table("name", "role", "created", "disabled", title="Console users",
                  title_justify="left")  # fmt: skip
    for r in rows:
        table.add_row(r["name"], r["role"], when(r["created"]), when(r["disabled"]))
    out.print(table)


@app.command()
def disable(
    name: str = typer.Argument(..., help="The user's sign-in name"),
    by: str | None = LocalByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Disable an account: its sign-ins are refused and its sessions end now."""
    from urllib.parse import quote

    client = connect(server, token_file)
    if client is not None:
        note_by(by)
        client.post(f"/api/v1/users/{quote(name, safe='')}/disable")
    else:
        from threenines.console.identity import UserStore

        if not UserStore(open_store(load_or_exit(config))).disable(
            name, now=time.time(), by=local_actor(by)
        ):
            err.print(f"no enabled user {name!r}", markup=False)
            raise typer.Exit(2)
    out.print(f"disabled {name}", markup=False)
