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
    from threenines.availability.history import WindowRecord
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


ByOption = typer.Option(..., "--by", help="Who records it (kept in the history and the audit log)")


def _span(cfg: Config, start: str, end: str | None, duration: str | None) -> tuple[float, float]:
    from threenines.core.durations import parse_duration

    a = _when(start, cfg)
    if (end is None) == (duration is None):
        err.print("give either --end or --duration")
        raise typer.Exit(2)
    try:
        b = _when(end, cfg) if end else a + parse_duration(duration)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if b <= a:
        err.print("end must be after start")
        raise typer.Exit(2)
    return a, b


def _scope(cfg: Config, service: list[str], site: list[str]) -> None:
    unknown = [s for s in service if not cfg.service(s)] + [s for s in site if not cfg.site(s)]
    if unknown:
        err.print(f"unknown names: {', '.join(unknown)}", markup=False)
        raise typer.Exit(2)


def _record(cfg: Config, write: Any) -> int:
    """Run one history write; a refusal is one line and exit 2."""
    from threenines.availability.history import HistoryError

    engine = open_store(cfg)
    try:
        return int(write(engine))
    except HistoryError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


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
    by: str = ByOption,
    config: Path = ConfigOption,
) -> None:  # fmt: skip
    """Add a one-off maintenance window (no --service/--site: the whole estate). A window
    starting in the past is retroactive: it needs --reason and, by default, counts only once
    a second person approves it (`maintenance approve`)."""
    from threenines.availability.history import add_window, exclusions_config
    from threenines.availability.periods import local_text
    from threenines.availability.schedule import Exclusion
    from threenines.availability.store import maintenance_windows

    cfg = load_or_exit(config)
    a, b = _span(cfg, start, end, duration)
    _scope(cfg, service, site)
    win = Exclusion(a, b, name, reason, tuple(service), tuple(site))
    policy = exclusions_config(cfg)
    now = time.time()
    wid = _record(cfg, lambda e: add_window(e, maintenance_windows, win, now=now,
                                            created_by=by, policy=policy))  # fmt: skip
    note = ""
    if a < now - policy.grace:
        note = (" (retroactive: pending a second admin's approval, not counted yet)"
                if policy.retroactive == "second_admin" else " (retroactive)")  # fmt: skip
    out.print(f"maintenance window {wid} added: {local_text(a, cfg.tz)} to "
              f"{local_text(b, cfg.tz)}{note}", markup=False)  # fmt: skip


@maintenance_app.command("change")
def maintenance_change(
    window_id: int = typer.Argument(..., help="Window id from `threenines maintenance list`"),
    start: str = typer.Option(..., "--start", help="New local start time"),
    end: str | None = typer.Option(None, "--end", help="New local end time"),
    duration: str | None = typer.Option(None, "--duration", help="Or a length, e.g. 2h"),
    reason: str = typer.Option(..., "--reason", help="Why it changes (recorded)"),
    by: str = ByOption,
    config: Path = ConfigOption,
) -> None:
    """Record a new version of a window (same name and scope); the old one stays in the
    history. Excluding more past time is retroactive and waits for approval."""
    from dataclasses import replace

    from threenines.availability.history import change_window, exclusions_config, records

    cfg = load_or_exit(config)
    a, b = _span(cfg, start, end, duration)
    policy = exclusions_config(cfg)
    now = time.time()

    def write(engine: Any) -> int:
        first = next((r for r in records(engine) if r.id == window_id), None)
        base = first.window if first else None
        win = replace(base, start=a, end=b, reason=reason) if base else None
        if win is None:
            from threenines.availability.history import HistoryError

            raise HistoryError(f"no maintenance window {window_id}")
        return change_window(engine, window_id, win, now=now, by=by, policy=policy)

    rid = _record(cfg, write)
    out.print(f"maintenance window {window_id} changed (record {rid})")


@maintenance_app.command("remove")
def maintenance_remove(
    window_id: int = typer.Argument(..., help="Window id from `threenines maintenance list`"),
    reason: str = typer.Option(..., "--reason", help="Why it is removed (recorded)"),
    by: str = ByOption,
    config: Path = ConfigOption,
) -> None:
    """Remove a maintenance window from the figures: a removal record, the history kept."""
    from threenines.availability.history import exclusions_config, remove_window

    cfg = load_or_exit(config)
    policy = exclusions_config(cfg)
    now = time.time()
    rid = _record(cfg, lambda e: remove_window(e, window_id, now=now, by=by, reason=reason,
                                               policy=policy))  # fmt: skip
    out.print(f"maintenance window {window_id} removed (record {rid}; history kept)")


@maintenance_app.command("approve")
def maintenance_approve(
    record_id: int = typer.Argument(..., help="Record id from `threenines maintenance list`"),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="File holding an admin API token (or THREENINES_TOKEN)"
    ),
    note: str = typer.Option("", "--note", help="Recorded with the approval"),
    config: Path = ConfigOption,
) -> None:
    """Approve a retroactive record: needs an admin's API token, not its author's."""
    import os

    from threenines.agents.tokens import TokenStore
    from threenines.availability.history import approve

    cfg = load_or_exit(config)
    try:
        token = token_file.read_text().strip() if token_file else os.environ.get(
            "THREENINES_TOKEN", "")  # fmt: skip
    except OSError as exc:
        err.print(f"cannot read {token_file}: {exc.strerror}", markup=False)
        raise typer.Exit(2) from None
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


def _record_json(r: WindowRecord, in_effect: bool) -> dict[str, object]:
    w, a = r.window, r.approval
    return {
        "window": r.window_id, "record": r.id, "action": r.action, "name": w.name,
        "start": w.start, "end": w.end, "services": list(w.services), "sites": list(w.sites),
        "reason": w.reason, "created_by": r.created_by, "created_at": r.created_at,
        "in_effect": in_effect, "retroactive": r.retroactive,
        "approval": {"by": a.by, "at": a.at, "note": a.note} if a else None,
    }  # fmt: skip


@maintenance_app.command("list")
def maintenance_list(
    config: Path = ConfigOption,
    all_: bool = typer.Option(False, "--all", help="Every record: past, changed and removed"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of lines"),
) -> None:
    """Maintenance windows in the database: the latest version of each current or future
    window and every record waiting for approval, or with --all the whole history (who, when,
    why, retroactive, approval)."""
    from threenines.availability.history import effective, exclusions_config, records
    from threenines.availability.periods import local_text

    cfg = load_or_exit(config)
    policy = exclusions_config(cfg)
    now = time.time()
    engine = open_store(cfg)
    try:
        recs = records(engine)
    finally:
        engine.dispose()
    live = {r.id for r in effective(recs, policy).values()}
    if not all_:  # current and future windows, and every record waiting for approval
        latest = {r.window_id: r for r in recs}
        waiting = {r.id for r in recs if r.retroactive and r.approval is None and r.id not in live
                   and r.action != "remove" and policy.retroactive != "none"}  # fmt: skip
        recs = [r for r in recs if r.id in waiting or (
            latest[r.window_id] is r and r.action != "remove" and r.window.end > now)]  # fmt: skip
    if as_json:
        print(json.dumps([_record_json(r, r.id in live) for r in recs], indent=2))
        return
    if not recs:
        err.print("no maintenance windows in the database (config windows are in the YAML)")
    for r in recs:
        w = r.window
        scope = ", ".join([*w.services, *w.sites]) or "whole estate"
        status = "in effect" if r.id in live else ("removal" if r.action == "remove" else
                                                   "not in effect")  # fmt: skip
        status = ", ".join(x for x in (status, r.label()) if x)
        print(f"window {r.window_id}\trecord {r.id}\t{r.action}\t{w.name}\t"
              f"{local_text(w.start, cfg.tz)} to {local_text(w.end, cfg.tz)}\t{scope}\t"
              f"by {r.created_by} at {local_text(r.created_at, cfg.tz)}\t{status}\t"
              f"reason: {w.reason or '-'}")  # fmt: skip
