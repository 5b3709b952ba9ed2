"""``threenines user add``: local console accounts (viewer, operator, admin)."""

from __future__ import annotations

import getpass
import time
from pathlib import Path

import typer

from threenines.core.cli import ConfigOption, err, load_or_exit, open_store

app = typer.Typer(help="Console user accounts: add.", no_args_is_help=True)


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
    config: Path = ConfigOption,
) -> None:
    """Add a console user; the password is stored as an argon2id hash only."""
    from threenines.console.identity import UserError, UserStore

    cfg = load_or_exit(config)
    password = _password(password_file)
    try:
        UserStore(open_store(cfg)).add(name, role, password, now=time.time())
    except UserError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    err.print(f"added {role} {name}", markup=False)
