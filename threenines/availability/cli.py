"""``threenines availability`` (figures, budgets, burn rates) and ``threenines maintenance``."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from threenines.core.cli import ConfigOption, err, load_or_exit, open_store, out

if TYPE_CHECKING:  # imported inside the commands: the CLI's start-up stays fast
    from threenines.availability.accounting import Figures
    from threenines.availability.engine import Estate
    from threenines.availability.periods import Period
    from threenines.core.config import Config

app = typer.Typer(
    help="Availability, error budget and burn rates for services, sites and the estate.",
    invoke_without_command=True,
)
maintenance_app = typer.Typer(
    help="Maintenance windows kept in the database.", no_args_is_help=True
)


def _window(cfg: Config, window: str | None, period: str | None, now: float) -> Period:
    from threenines.availability.periods import PeriodError, parse_period, rolling

    try:
        return parse_period(period, cfg.tz) if period else rolling(window or "30d", now)
    except PeriodError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None


def _fig(name: str, kind: str, f: Figures, est: Estate | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "subject": name,
        "kind": kind,
        "availability": None if f.availability is None else f.availability * 100,
        "target": f.target,
        "met": f.met,
        "downtime_s": f.bad,
        "degraded_s": f.degraded,
        "nodata_s": f.nodata,
        "no_quorum_s": f.no_quorum,
        "maintenance_s": f.maintenance,
        "budget_allowed_s": f.allowed,
        "budget_remaining_s": f.remaining,
    }
    if est is not None and kind == "service":
        row["burn"] = est.burn_rates(name)
    return row


@app.callback()
def availability(
    ctx: typer.Context,
    config: Path = ConfigOption,
    service: str | None = typer.Option(None, "--service", "-s", help="One service"),
    site: str | None = typer.Option(None, "--site", help="One site or data centre"),
    window: str | None = typer.Option(None, "--window", "-w", help="Rolling window, e.g. 30d"),
    period: str | None = typer.Option(None, "--period", "-p", help="2026-10, 2026-Q4, 2026 ..."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """Availability, error budget and burn rates (1h/6h/1d/3d) over a window (default 30d)."""
    if ctx.invoked_subcommand:
        return
    from threenines.availability.engine import BURN_WINDOWS
    from threenines.availability.load import load_estate

    cfg = load_or_exit(config)
    if service and not cfg.service(service):
        err.print(f"unknown service {service!r}", markup=False)
        raise typer.Exit(2)
    if site and not cfg.site(site):
        err.print(f"unknown site {site!r}", markup=False)
        raise typer.Exit(2)
    now = time.time()
    win = _window(cfg, window, period, now)
    end = min(win.end, now)
    span_start = min(win.start, end - max(BURN_WINDOWS.values()))
    engine = open_store(cfg)
    try:
        only = [service] if service else None
        est = load_estate(engine, cfg, span_start, win.end, now, services=only)
    finally:
        engine.dispose()
    rows = _rows(est, cfg, service, site, win)
    if as_json:
        print(json.dumps({"window": [win.start, win.end], "label": win.label, "rows": rows}))
        return
    _print(rows, cfg, win)


def _rows(
    est: Estate, cfg: Config, service: str | None, site: str | None, win: Period
) -> list[dict[str, Any]]:
    a, b = win.start, win.end
    if service:
        rows = [_fig(service, "service", est.service(service, a, b), est)]
        svc = est.services[service]
        return rows + [
            _fig(f"{service}/{c}", "check", est.check(service, c, a, b)) for c in svc.checks
        ]
    if site:
        names = est.site_services(site)
        rows = [_fig(site, "site", est.site(site, a, b))]
    else:
        names = list(est.services)
        rows = [_fig("estate", "estate", est.overall(a, b))]
        rows += [_fig(s.name, s.kind, est.site(s.name, a, b)) for s in cfg.sites]
    return rows + [_fig(n, "service", est.service(n, a, b), est) for n in names]


def _d(seconds: float) -> str:
    from threenines.core.durations import format_duration

    sign = "-" if seconds < 0 else ""
    return sign + format_duration(round(abs(seconds), 1))


def _print(rows: list[dict[str, Any]], cfg: Config, win: Period) -> None:
    from rich.table import Table

    from threenines.availability.display import percent
    from threenines.availability.periods import local_text

    table = Table(
        title=f"{win.label}: {local_text(win.start, cfg.tz)} to {local_text(win.end, cfg.tz)}"
    )
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
) -> None:
    """Write daily summaries (per check and service) for the last DAYS complete local days."""
    from threenines.availability.load import summarise_days

    cfg = load_or_exit(config)
    now = time.time()
    today = datetime.fromtimestamp(now, cfg.tz).date()
    engine = open_store(cfg)
    try:
        n = summarise_days(
            engine, cfg, today - timedelta(days=days), today - timedelta(days=1), now
        )
    finally:
        engine.dispose()
    out.print(f"{n} daily summaries written")


# -- maintenance --------------------------------------------------------------------------


def _when(text: str, cfg: Config) -> float:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"{text!r} is not a time: use e.g. 2026-10-04T02:00 or '2026-10-04 02:00'")
        raise typer.Exit(2) from None
    return value.timestamp() if value.tzinfo else value.replace(tzinfo=cfg.tz).timestamp()


@maintenance_app.command("add")
def maintenance_add(
    name: str = typer.Argument(..., help="Short name, e.g. core-switch-upgrade"),
    start: str = typer.Option(..., "--start", help="Local start time (config time zone)"),
    end: str | None = typer.Option(None, "--end", help="Local end time"),
    duration: str | None = typer.Option(None, "--duration", help="Or a length, e.g. 2h"),
    service: list[str] = typer.Option([], "--service", help="Service in scope (repeatable)"),
    site: list[str] = typer.Option([], "--site", help="Site in scope (repeatable)"),
    reason: str = typer.Option("", "--reason", help="Why (shown in reports)"),
    config: Path = ConfigOption,
) -> None:
    """Add a one-off maintenance window (no --service/--site: the whole estate)."""
    from threenines.availability.periods import local_text
    from threenines.availability.schedule import Exclusion
    from threenines.availability.store import add_window, maintenance_windows
    from threenines.core.durations import parse_duration

    cfg = load_or_exit(config)
    a = _when(start, cfg)
    if (end is None) == (duration is None):
        err.print("give either --end or --duration")
        raise typer.Exit(2)
    try:
        b = _when(end, cfg) if end else a + parse_duration(duration)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    unknown = [s for s in service if not cfg.service(s)] + [s for s in site if not cfg.site(s)]
    if unknown or b <= a:
        err.print(f"unknown names: {', '.join(unknown)}" if unknown else "end must be after start")
        raise typer.Exit(2)
    engine = open_store(cfg)
    try:
        win = Exclusion(a, b, name, reason, tuple(service), tuple(site))
        wid = add_window(engine, maintenance_windows, win, now=time.time(), created_by="cli")
    finally:
        engine.dispose()
    out.print(f"maintenance window {wid} added: {local_text(a, cfg.tz)} to {local_text(b, cfg.tz)}")


@maintenance_app.command("list")
def maintenance_list(
    config: Path = ConfigOption,
    all_: bool = typer.Option(False, "--all", help="Include past windows"),
) -> None:
    """List stored maintenance windows (current and future unless --all)."""
    from rich.table import Table

    from threenines.availability.periods import local_text
    from threenines.availability.store import list_windows, maintenance_windows

    cfg = load_or_exit(config)
    engine = open_store(cfg)
    try:
        rows = list_windows(engine, maintenance_windows, None if all_ else time.time())
    finally:
        engine.dispose()
    table = Table(title="maintenance windows (database; config windows are in the YAML)")
    for col in ("id", "name", "from", "to", "scope", "reason"):
        table.add_column(col)
    for r in rows:
        w = r.window
        scope = ", ".join([*w.services, *w.sites]) or "whole estate"
        table.add_row(str(r.id), w.name, local_text(w.start, cfg.tz), local_text(w.end, cfg.tz),
                      scope, w.reason)  # fmt: skip
    out.print(table)


@maintenance_app.command("remove")
def maintenance_remove(
    window_id: int = typer.Argument(..., help="Id from `threenines maintenance list`"),
    config: Path = ConfigOption,
) -> None:
    """Remove a stored maintenance window."""
    from threenines.availability.store import maintenance_windows, remove_window

    cfg = load_or_exit(config)
    engine = open_store(cfg)
    try:
        removed = remove_window(engine, maintenance_windows, window_id)
    finally:
        engine.dispose()
    if not removed:
        err.print(f"no maintenance window {window_id}")
        raise typer.Exit(1)
    out.print(f"maintenance window {window_id} removed")
