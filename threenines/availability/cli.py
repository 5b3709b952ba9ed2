"""``threenines availability`` (figures, budgets, burn rates) and ``threenines maintenance``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from threenines.core.cli import ConfigOption, err, load_or_exit, open_store, out
from threenines.core.client import (
    ServerOption,
    TokenFileOption,
    WaitJobOption,
    connect,
    document,
    run_job,
)

if TYPE_CHECKING:  # imported inside the commands: the CLI's start-up stays fast
    from threenines.core.config import Config

app = typer.Typer(
    help="Availability, error budget and burn rates for services, sites and the estate.",
    invoke_without_command=True,
)
maintenance_app = typer.Typer(
    help="Maintenance windows kept in the database.", no_args_is_help=True
)


@app.callback()
def availability(
    ctx: typer.Context,
    config: Path = ConfigOption,
    service: str | None = typer.Option(None, "--service", "-s", help="One service"),
    site: str | None = typer.Option(None, "--site", help="One site or data centre"),
    window: str | None = typer.Option(None, "--window", "-w", help="Rolling window, e.g. 30d"),
    period: str | None = typer.Option(None, "--period", "-p", help="2026-10, 2026-Q4, 2026 ..."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Availability, error budget and burn rates (1h/6h/1d/3d) over a window (default 30d)."""
    if ctx.invoked_subcommand:
        return
    from threenines.availability.query import QueryError, figures_document

    client = connect(server, token_file)
    if client is not None:
        doc = client.get("/api/v1/availability", service=service, site=site, window=window,
                         period=period)  # fmt: skip
    else:
        cfg = load_or_exit(config)
        engine = open_store(cfg)
        try:
            doc = figures_document(engine, cfg, time.time(), service=service, site=site,
                                   window=window, period=period)  # fmt: skip
        except QueryError as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(2) from None
        finally:
            engine.dispose()
    if as_json:
        print(json.dumps(doc))
        return
    _print(doc)


def _d(seconds: float) -> str:
    from threenines.core.durations import format_duration

    sign = "-" if seconds < 0 else ""
    return sign + format_duration(round(abs(seconds), 1))


def _print(doc: dict[str, Any]) -> None:
    from zoneinfo import ZoneInfo

    from rich.table import Table

    from threenines.availability.display import percent
    from threenines.availability.periods import local_text

    tz, (start, end), rows = ZoneInfo(doc["timezone"]), doc["window"], doc["rows"]
    table = Table(title=f"{doc['label']}: {local_text(start, tz)} to {local_text(end, tz)}")
    table.add_column("subject", no_wrap=True)  # names stay greppable on narrow terminals
    for col in ("kind", "availability", "target", "downtime", "no data", "no quorum", "maint."):
        table.add_column(col, justify="left" if col == "kind" else "right", overflow="fold")
    table.add_column("budget left", justify="right", overflow="fold")
    table.add_column("burn 1h/6h/1d/3d", justify="right", overflow="fold")
    for r in rows:
        avail = percent(r["availability"], unit="%", target=r["target"], met=r["met"])
        style = "" if r["met"] is None else ("green" if r["met"] else "bold red")
        burn = r.get("burn")
        burn_text = (
            "/".join("-" if v is None else f"{v:.1f}" for v in burn.values()) if burn else ""
        )
        table.add_row(
            r["subject"], r["kind"], f"[{style}]{avail}[/]" if style else avail,
            f"{r['target']:g}%", _d(r["downtime_s"]), _d(r["nodata_s"]), _d(r["no_quorum_s"]),
            _d(r["maintenance_s"]), _d(r["budget_remaining_s"]), burn_text,
        )  # fmt: skip
    out.print(table)


@app.command()
def summarise(
    config: Path = ConfigOption,
    days: int = typer.Option(7, "--days", min=1, max=3660, help="Local days back from today"),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
    wait: float = WaitJobOption,
) -> None:
    """Write daily summaries (per check and service) for the last DAYS complete local days.
    With --server, the server writes them (an operator token) and this follows its job."""
    from threenines.availability.api import summarise_document

    path, now = "/api/v1/availability/summaries", time.time()
    doc = document(server, token_file, config,
                   lambda c: run_job(c, path, {"days": days}, wait),
                   lambda cfg, engine: summarise_document(engine, cfg, days, now))  # fmt: skip
    out.print(f"{doc['written']} daily summaries written")


# -- maintenance --------------------------------------------------------------------------


ByOption = typer.Option(
    None, "--by", help="Who records it (kept in the history and the audit log; with --server "
    "the token's name is recorded)"
)  # fmt: skip


def _who(by: str | None, client: Any) -> str:
    if client is not None:
        if by:
            err.print("note: with --server the token's name is recorded as who acted, not --by")
        return ""
    if not by:
        err.print("--by is required: who records it (kept in the history and the audit log)")
        raise typer.Exit(2)
    return by


def _record(cfg: Config, write: Any) -> Any:
    """Run one history write; a refusal (of the span, the scope or the history's rules) is one
    line and exit 2."""
    from threenines.availability.history import HistoryError
    from threenines.availability.query import QueryError

    engine = open_store(cfg)
    try:
        return write(engine)
    except (HistoryError, QueryError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


def _remote(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A write through the API; a refusal by the history's rules (404, 409, 422) is its
    reason in one line and exit 2, as in the local mode (``Client.ask``)."""
    answer: dict[str, Any] = client.post(path, body)
    return answer


@maintenance_app.command("add")
def maintenance_add(
    name: str = typer.Argument(..., help="Short name, e.g. core-switch-upgrade"),
    start: str = typer.Option(..., "--start", help="Local start time (config time zone)"),
    end: str | None = typer.Option(None, "--end", help="Local end time"),
    duration: str | None = typer.Option(None, "--duration", help="Or a length, e.g. 2h"),
    service: list[str] = typer.Option([], "--service", help="Service in scope (repeatable)"),
    site: list[str] = typer.Option([], "--site", help="Site in scope (repeatable)"),
    reason: str = typer.Option("", "--reason", help="Why (shown in reports; required if "
                               "the window starts in the past)"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:  # fmt: skip
    """Add a one-off maintenance window (no --service/--site: the whole estate). A window
    starting in the past is retroactive: it needs --reason and, by default, counts only once
    a second person approves it (`maintenance approve`)."""
    from threenines.availability.maintenance import add

    client = connect(server, token_file)
    who = _who(by, client)
    if client is not None:
        body = {"name": name, "start": start, "end": end, "duration": duration,
                "services": service, "sites": site, "reason": reason}  # fmt: skip
        line = _remote(client, "/api/v1/maintenance", body)["message"]
    else:
        cfg = load_or_exit(config)
        now = time.time()
        _, line = _record(cfg, lambda e: add(e, cfg, name, start, end, duration, service, site,
                                             reason, by=who, now=now))  # fmt: skip
    out.print(line, markup=False)


@maintenance_app.command("change")
def maintenance_change(
    window_id: int = typer.Argument(..., help="Window id from `threenines maintenance list`"),
    start: str = typer.Option(..., "--start", help="New local start time"),
    end: str | None = typer.Option(None, "--end", help="New local end time"),
    duration: str | None = typer.Option(None, "--duration", help="Or a length, e.g. 2h"),
    reason: str = typer.Option(..., "--reason", help="Why it changes (recorded)"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Record a new version of a window (same name and scope); the old one stays in the
    history. Excluding more past time is retroactive and waits for approval."""
    from threenines.availability.maintenance import change

    client = connect(server, token_file)
    who = _who(by, client)
    if client is not None:
        body = {"start": start, "end": end, "duration": duration, "reason": reason}
        rid = _remote(client, f"/api/v1/maintenance/{window_id}/change", body)["record"]
    else:
        cfg = load_or_exit(config)
        now = time.time()
        rid = _record(cfg, lambda e: change(e, cfg, window_id, start, end, duration, reason,
                                            by=who, now=now))  # fmt: skip
    out.print(f"maintenance window {window_id} changed (record {rid})")


@maintenance_app.command("remove")
def maintenance_remove(
    window_id: int = typer.Argument(..., help="Window id from `threenines maintenance list`"),
    reason: str = typer.Option(..., "--reason", help="Why it is removed (recorded)"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Remove a maintenance window from the figures: a removal record, the history kept."""
    from threenines.availability.history import exclusions_config, remove_window

    client = connect(server, token_file)
    who = _who(by, client)
    if client is not None:
        path = f"/api/v1/maintenance/{window_id}/remove"
        rid = _remote(client, path, {"reason": reason})["record"]
    else:
        cfg = load_or_exit(config)
        policy = exclusions_config(cfg)
        now = time.time()
        rid = _record(cfg, lambda e: remove_window(e, window_id, now=now, by=who,
                                                   reason=reason, policy=policy))  # fmt: skip
    out.print(f"maintenance window {window_id} removed (record {rid}; history kept)")


@maintenance_app.command("approve")
def maintenance_approve(
    record_id: int = typer.Argument(..., help="Record id from `threenines maintenance list`"),
    token_file: Path | None = TokenFileOption,
    note: str = typer.Option("", "--note", help="Recorded with the approval"),
    config: Path = ConfigOption,
    server: str | None = ServerOption,
) -> None:
    """Approve a retroactive record: needs an admin's API token, not its author's."""
    from threenines.agents.tokens import TokenStore
    from threenines.availability.history import approve
    from threenines.core.client import read_token

    client = connect(server, token_file)
    if client is not None:
        _remote(client, f"/api/v1/maintenance/{record_id}/approve", {"note": note})
        out.print(f"maintenance record {record_id} approved: it now counts")
        return
    cfg = load_or_exit(config)
    token = read_token(token_file)
    if not token:
        err.print("approving needs an admin token: --token-file or THREENINES_TOKEN")
        raise typer.Exit(2)
    now = time.time()

    def write(engine: Any) -> int:
        from threenines.availability.history import HistoryError

        who, why = TokenStore(engine).verify(token, now=now)
        if who is None:
            raise HistoryError(f"the token is not valid ({why})")
        return approve(engine, record_id, now=now, by=who.label, role=who.role, note=note).id

    _record(cfg, write)
    out.print(f"maintenance record {record_id} approved: it now counts")


_JSON_KEYS = (
    "window", "record", "action", "name", "start", "end", "services", "sites", "reason",
    "created_by", "created_at", "in_effect", "retroactive", "approval",
)  # fmt: skip


@maintenance_app.command("list")
def maintenance_list(
    config: Path = ConfigOption,
    all_: bool = typer.Option(False, "--all", help="Every record: past, changed and removed"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of lines"),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Maintenance windows in the database: the latest version of each current or future
    window and every record waiting for approval, or with --all the whole history (who, when,
    why, retroactive, approval)."""
    from zoneinfo import ZoneInfo

    from threenines.availability.periods import local_text
    from threenines.availability.query import maintenance_document

    client = connect(server, token_file)
    if client is not None:
        doc = client.get("/api/v1/maintenance", current=str(not all_).lower())
    else:
        cfg = load_or_exit(config)
        engine = open_store(cfg)
        try:
            doc = maintenance_document(engine, cfg, time.time(), current=not all_)
        finally:
            engine.dispose()
    recs, tz = doc["records"], ZoneInfo(doc["timezone"])
    if as_json:
        print(json.dumps([{k: r[k] for k in _JSON_KEYS} for r in recs], indent=2))
        return
    if not recs:
        err.print("no maintenance windows in the database (config windows are in the YAML)")
    for r in recs:
        scope = ", ".join([*r["services"], *r["sites"]]) or "whole estate"
        status = "in effect" if r["in_effect"] else ("removal" if r["action"] == "remove" else
                                                     "not in effect")  # fmt: skip
        status = ", ".join(x for x in (status, r["status"]) if x)
        print(f"window {r['window']}\trecord {r['record']}\t{r['action']}\t{r['name']}\t"
              f"{local_text(r['start'], tz)} to {local_text(r['end'], tz)}\t{scope}\t"
              f"by {r['created_by']} at {local_text(r['created_at'], tz)}\t{status}\t"
              f"reason: {r['reason'] or '-'}")  # fmt: skip
