"""``threenines ha status``: the nodes on this store, their roles and the active node's lease."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from threenines.core.cli import ConfigOption, err, load_or_exit, out
from threenines.core.client import ServerOption, TokenFileOption, connect

app = typer.Typer(help="High availability: several `threenines run` nodes on one store.")


@app.command("status")
def ha_status(
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Every node, its role, the lease holder, each heartbeat's age and the store's replicas.
    With --server, as that node reads the store (``/api/v1/ha``)."""
    client = connect(server, token_file)
    doc = client.get("/api/v1/ha") if client is not None else _local(config)
    if as_json:
        print(json.dumps(doc, indent=2))
        return
    lease = doc["lease"]
    if lease is None:
        title = "no node has been active yet"
    elif lease["holder"] is None:
        title = f"no active node (lease of {lease['last_holder']} expired; epoch {lease['epoch']})"
    else:
        title = f"active: {lease['holder']} (epoch {lease['epoch']}, "
        title += f"lease renewed, {lease['expires_in']:.1f}s left)"
    table = Table(title=title, title_justify="left")
    for col in ("node", "role", "heartbeat", "host", "pid", "listen"):
        table.add_column(col)
    for n in doc["nodes"]:
        table.add_row(n["name"], n["role"], f"{n['heartbeat_age']:.1f}s ago", n["host"],
                      str(n["pid"]), n["listen"])  # fmt: skip
    out.print(table)
    for r in doc.get("replicas", []):
        lag = "not measured" if r["replay_lag"] is None else f"{r['replay_lag']:.1f}s"
        out.print(f"store replica {r['name']}: {r['state']} ({r['sync']}), replay lag {lag}")


def _local(config: Path) -> dict[str, Any]:
    """``ha.nodes`` read from the configured store; one line and exit 1 if it cannot be."""
    from threenines.core.db import make_engine
    from threenines.core.ha import nodes

    cfg = load_or_exit(config)
    try:
        engine = make_engine(cfg.storage.url)
        doc = nodes(engine)
        engine.dispose()
    except Exception as exc:  # never the URL: it may hold the database password
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        err.print(f"cannot read the store: {first[:200]}", markup=False)
        err.print("(has `threenines run` started on this store yet?)")
        raise typer.Exit(1) from None
    return doc


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ha")
