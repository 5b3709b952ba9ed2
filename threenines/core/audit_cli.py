"""``threenines audit verify`` (walk the hash chain) and ``threenines audit log``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from threenines.core.cli import ConfigOption, err, load_or_exit, open_store, out

app = typer.Typer(help="The hash-chained audit log of decisions about the record.",
                  no_args_is_help=True)  # fmt: skip


@app.command("verify")
def audit_verify(config: Path = ConfigOption) -> None:
    """Check every row against its hash and its predecessor. Exit 1 if a row was edited or
    deleted (each problem on its own line)."""
    from threenines.core.audit import verify

    cfg = load_or_exit(config)
    engine = open_store(cfg)
    try:
        check = verify(engine)
    finally:
        engine.dispose()
    for problem in check.problems:
        err.print(f"audit log: {problem}", markup=False)
    if not check.ok:
        raise typer.Exit(1)
    seq, digest = check.head
    out.print(f"audit log intact: {check.rows} rows, head {seq} {digest[:16]}", markup=False)


@app.command("log")
def audit_log(
    config: Path = ConfigOption,
    subject: str = typer.Option("", "--subject", help="Only subjects starting with this"),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
) -> None:
    """The newest audit rows, one JSON object a line."""
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
