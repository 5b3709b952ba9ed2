"""``threenines audit verify`` (walk the hash chain) and ``threenines audit log``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from threenines.core.cli import ConfigOption, err, load_or_exit, open_store, out
from threenines.core.client import ServerOption, TokenFileOption, connect

app = typer.Typer(help="The hash-chained audit log of decisions about the record.",
                  no_args_is_help=True)  # fmt: skip


@app.command("verify")
def audit_verify(
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Check every row against its hash and its predecessor, and the newest against the head
    record and the heads issued reports saw. Exit 1 if a row was edited or deleted (each
    problem on its own line). With --server, the server checks (an admin token)."""
    client = connect(server, token_file)
    if client is not None:
        found = client.get("/api/v1/audit/verify")
        ok, rows, problems = found["ok"], found["rows"], found["problems"]
        seq, digest = found["seq"], found["hash"]
    else:
        from threenines.core.audit import verify
        from threenines.core.cli import composition

        cfg = load_or_exit(config)
        engine = open_store(cfg)
        try:
            check = verify(engine, composition().anchors(engine))
        finally:
            engine.dispose()
        ok, rows, problems = check.ok, check.rows, list(check.problems)
        seq, digest = check.head
    for problem in problems:
        err.print(f"audit log: {problem}", markup=False)
    if not ok:
        raise typer.Exit(1)
    out.print(f"audit log intact: {rows} rows, head {seq} {digest[:16]}", markup=False)


@app.command("log")
def audit_log(
    config: Path = ConfigOption,
    subject: str = typer.Option("", "--subject", help="Only subjects starting with this"),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """The newest audit rows, one JSON object a line. With --server, an admin token."""
    client = connect(server, token_file)
    if client is not None:
        found = client.get("/api/v1/audit/log", subject=subject, limit=limit)
    else:
        from threenines.core.audit import rows

        cfg = load_or_exit(config)
        engine = open_store(cfg)
        try:
            found = rows(engine, subject, limit)
        finally:
            engine.dispose()
    for r in found:
        print(json.dumps(r, sort_keys=True))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")
