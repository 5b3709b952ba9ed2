"""``threenines status``: the current state of every service and check, from the store.

A service's line is the state rule's (``availability.state``): "quorum not reached" when a
check has fresh results from fewer vantage points than its quorum, with who sees what; the
lines below it are each vantage point's own result.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from threenines.agents.cli import agents_table
from threenines.core.cli import ConfigOption, err, load_or_exit, out
from threenines.core.client import ServerOption, TokenFileOption, connect

if TYPE_CHECKING:  # imported inside the commands: the CLI's start-up stays fast
    from threenines.availability.status import CheckStatus

STYLES = {
    "up": "green",
    "degraded": "yellow",
    "down": "bold red",
    "unknown": "dim",
    "no_quorum": "magenta",
}


def status(
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Current state of every service and check per vantage point, from the store (or, with
    --server, from a running server's API: no database credentials needed)."""
    client = connect(server, token_file)
    doc = client.get("/api/v1/status") if client else _local(config)
    if as_json:
        print(json.dumps(doc, indent=2))
        return
    from threenines.agents.status import AgentStatus
    from threenines.availability.status import CheckStatus

    now = doc["generated"]
    shown = SimpleNamespace(tz=ZoneInfo(doc["timezone"]), organisation=doc["organisation"])
    checks = [CheckStatus(**c) for c in doc["checks"]]
    out.print(_table(shown, doc["services"], checks, now))
    agents = [AgentStatus(**{k: v for k, v in a.items() if k != "state"}) for a in doc["agents"]]
    if agents:
        out.print(agents_table(agents, shown, now))  # type: ignore[arg-type]


def _local(config: Path) -> dict[str, Any]:
    from threenines.core.db import make_engine

    cfg = load_or_exit(config)
    try:
        engine = make_engine(cfg.storage.url)
    except Exception as exc:  # messages may quote the URL with its password: name the type only
        err.print(f"storage.url: cannot use it: {type(exc).__name__}")
        raise typer.Exit(2) from None
    try:
        from threenines.availability.status import status_document

        return status_document(engine, cfg, time.time())
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        err.print(f"cannot read the store: {first}", markup=False)
        err.print("(has `threenines run` written results yet?)")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _table(cfg: Any, services: list[dict[str, Any]], checks: list[CheckStatus], now: float
           ) -> Table:  # fmt: skip
    from threenines.core.durations import format_duration

    table = Table(title=f"{cfg.organisation}: current state", title_justify="left")
    for col in ("service", "check", "vantage", "state", "since", "for", "reason"):
        table.add_column(col, overflow="fold")
    by_service: dict[str, list[CheckStatus]] = {}
    for c in checks:
        by_service.setdefault(c.service, []).append(c)
    for s in services:
        rows = by_service.get(s["service"], [])
        since = _when(s["since"], cfg, now) if s["since"] is not None else ""
        held = format_duration(round(now - s["since"])) if s["since"] is not None else ""
        name = Text(s["service"], style="bold") + Text(f" ({s['site']})", style="dim")
        table.add_row(name, "", "", _state(s["state"], s["label"]), since, held,
                      Text(s["reason"]))  # fmt: skip
        for c in rows:
            since = _when(c.since, cfg, now)
            held = format_duration(round(now - c.since)) if c.since else ""
            table.add_row("", Text(c.check), Text(c.vantage), _state(c.state), since, held,
                          Text(c.reason))  # fmt: skip
    return table


def _state(state: str, label: str | None = None) -> str:
    return f"[{STYLES.get(state, '')}]{label or state}[/]"


def _when(ts: float | None, cfg: Any, now: float) -> str:
    if ts is None:
        return "never"
    dt = datetime.fromtimestamp(ts, cfg.tz)
    fmt = "%H:%M:%S" if now - ts < 86400 else "%Y-%m-%d %H:%M"
    return dt.strftime(fmt)


def register(app: typer.Typer) -> None:
    app.command()(status)
