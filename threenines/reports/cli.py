"""``threenines report``: the Digital Board availability report for a period; ``report send``
mails a scheduled report now, ``report deliveries`` lists what was sent."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from threenines.core.cli import (
    ConfigOption,
    JsonOption,
    composition,
    err,
    load_or_exit,
    open_store,
    out,
    print_json,
    rows_json,
)
from threenines.reports.config import reports_config

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config.schema import Config

app = typer.Typer(
    help="The Digital Board availability report (HTML, PDF, CSV or JSON).",
    invoke_without_command=True,
)


@app.callback()
def report(
    ctx: typer.Context,
    period: str | None = typer.Option(
        None, "--period", "-p", help="2026-10 | 2026-Q4 | 2026 | A..B (required)"
    ),
    fmt: str = typer.Option("html", "--format", "-f", help="html | pdf | csv | json"),
    site: str | None = typer.Option(None, "--site", help="Only this site or data centre"),
    out_file: Path | None = typer.Option(None, "--out", "-o", help="File or folder to write"),
    issue: bool = typer.Option(False, "--issue", help="Issue it: stored as an immutable "
                               "snapshot (figures, bytes, SHA-256), numbered, audited"),
    by: str = typer.Option("", "--by", help="Who issues it (required with --issue)"),
    config: Path = ConfigOption,
) -> None:  # fmt: skip
    """Render the board report for a period (dates are local to the configured time zone).

    Without --out, HTML/CSV/JSON go to stdout and a PDF is written under its own name.
    """
    if ctx.invoked_subcommand is not None:
        return
    if period is None:
        err.print("missing option --period (e.g. --period 2026-10)")
        raise typer.Exit(2)
    from threenines.availability.periods import PeriodError
    from threenines.core.db import make_engine
    from threenines.reports.deliver import FORMATS, render_report

    if fmt not in FORMATS:
        err.print(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})", markup=False)
        raise typer.Exit(2)
    if issue and not by.strip():
        err.print("--issue needs --by NAME (who issues it is recorded)")
        raise typer.Exit(2)
    cfg = load_or_exit(config)
    engine = make_engine(cfg.storage.url)
    try:
        composition().migrate(engine)
        if issue:
            data, name = _issue(cfg, engine, period, fmt, site, by)
        else:
            data, name = render_report(cfg, engine, period, fmt, now=time.time(), site=site)
    except (PeriodError, ValueError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if out_file is None and fmt != "pdf":
        sys.stdout.buffer.write(data)
        return
    target = out_file or Path(name)
    if target.is_dir():
        target = target / name
    target.write_bytes(data)
    err.print(f"wrote {target} ({len(data)} bytes)")


def _issue(cfg: Config, engine: Engine, period: str, fmt: str, site: str | None,
           by: str) -> tuple[bytes, str]:  # fmt: skip
    from threenines.availability.periods import parse_period
    from threenines.reports.deliver import board_report, filename, render
    from threenines.reports.issue import issue

    if site is not None and cfg.site(site) is None:
        raise ValueError(f"unknown site {site!r}")
    now = time.time()
    report = board_report(cfg, engine, parse_period(period, cfg.tz), now, site)
    iss, files = issue(engine, report, render, filename, [fmt], now, by)
    _fmt, name, data = files[0]
    err.print(f"issued report {iss.label} ({fmt}), SHA-256 "
              f"{hashlib.sha256(data).hexdigest()}", markup=False)  # fmt: skip
    if report.restatements:
        err.print(f"{len(report.restatements)} figure(s) of earlier issued reports restated")
    return data, name


@app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="A report file (HTML, PDF, CSV or JSON)"),
    config: Path = ConfigOption,
) -> None:
    """Check a report file against the issued reports' stored SHA-256: exit 0 if it is
    byte-for-byte an issued report (and its audit row is intact), 1 if not."""
    from threenines.reports.issue import verify_file

    try:
        data = file.read_bytes()
    except OSError as exc:
        err.print(f"cannot read {file}: {exc.strerror}", markup=False)
        raise typer.Exit(2) from None
    cfg = load_or_exit(config)
    engine = open_store(cfg)
    try:
        check = verify_file(engine, data, cfg.tz)
    finally:
        engine.dispose()
    for line in check.lines:
        (out if check.ok else err).print(line, markup=False, soft_wrap=True)
    if not check.ok:
        raise typer.Exit(1)


@app.command("send")
def send(
    schedule: str = typer.Argument(..., help="A schedule name from reports.schedules"),
    period: str | None = typer.Option(
        None, "--period", "-p", help="2026-10 | 2026-Q4 | 2026 (default: the last one ended)"
    ),
    config: Path = ConfigOption,
) -> None:
    """Send a scheduled report now to its receivers, files attached.

    The send is recorded, so the running service does not send that period again. Exit 1 if
    a receiver was not reached (the service retries it)."""
    import asyncio

    from threenines.availability.periods import PeriodError, parse_period
    from threenines.core.db import make_engine
    from threenines.reports.schedule import latest_complete
    from threenines.reports.sender import ReportSender

    cfg = load_or_exit(config)
    sched = reports_config(cfg).schedule(schedule)
    if sched is None:
        names = ", ".join(s.name for s in reports_config(cfg).schedules) or "none configured"
        err.print(f"unknown schedule {schedule!r} (reports.schedules: {names})", markup=False)
        raise typer.Exit(2)
    try:
        when = parse_period(period, cfg.tz) if period else None
    except PeriodError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    when = when or latest_complete(sched.period, time.time(), cfg.tz)
    engine = make_engine(cfg.storage.url)
    try:
        composition().migrate(engine)
        outcomes = asyncio.run(ReportSender(cfg, engine).send_now(sched.name, when))
    finally:
        engine.dispose()
    reached = {o.receiver for o in outcomes if o.state == "sent"}
    for o in outcomes:
        note = "sent" if o.state == "sent" else f"{o.state}: {o.error}"
        err.print(f"{sched.name} {when.label} -> {o.receiver}: {note}", markup=False)
    for name in sorted(set(sched.receivers) - {o.receiver for o in outcomes}):
        err.print(f"{sched.name} {when.label} -> {name}: being sent by another instance")
    if reached != set(sched.receivers):
        raise typer.Exit(1)


@app.command("deliveries")
def deliveries(
    schedule: str | None = typer.Argument(None, help="Only this schedule"),
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Scheduled report deliveries: one line per schedule, period and receiver."""
    from threenines.availability.periods import local_text
    from threenines.core.db import make_engine
    from threenines.reports.store import ReportDeliveryStore

    cfg = load_or_exit(config)
    engine = make_engine(cfg.storage.url)
    try:
        composition().migrate(engine)
        rows = ReportDeliveryStore(engine).rows(schedule)
    finally:
        engine.dispose()
    if as_json:
        print_json(rows_json(rows))
        return
    if not rows:
        err.print("no report deliveries recorded")
    for row in rows:
        sent = row["sent_at"]
        when = local_text(float(sent), cfg.tz) if isinstance(sent, float) else "-"
        error = f"  {row['last_error']}" if row["last_error"] else ""
        print(f"{row['schedule']}\t{row['period']}\t{row['receiver']}\t{row['state']}"
              f"\tattempts={row['attempts']}\tsent={when}{error}")  # fmt: skip
