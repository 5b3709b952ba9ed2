"""``threenines report``: the Digital Board availability report for a period; ``report send``
mails a scheduled report now, ``report deliveries`` lists what was sent."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

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
)
from threenines.core.client import (
    ServerOption,
    TokenFileOption,
    WaitJobOption,
    connect,
    document,
    run_job,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.client import Client
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
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
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
    client = connect(server, token_file)
    if client is not None:
        if issue:
            err.print("--issue is not done through --server: issue on the server's host")
            raise typer.Exit(2)
        data, name = _remote(client, period, fmt, site)
        _write(data, name, fmt, out_file)
        return
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
    _write(data, name, fmt, out_file)


def _remote(client: Client, period: str, fmt: str, site: str | None) -> tuple[bytes, str]:
    """The report rendered by the server (``GET /api/v1/reports/{period}``); a period or
    site the server cannot read is its reason and exit 2, as in the local mode."""
    from urllib.parse import quote

    from threenines.core.client import ApiError, refused

    try:
        r = client.call("GET", f"/api/v1/reports/{quote(period, safe='')}",
                        params={"format": fmt, "site": site}, raw=True)  # fmt: skip
    except ApiError as exc:
        if exc.status in (404, 422):
            err.print(exc.detail, markup=False)
            raise typer.Exit(2) from None
        raise refused(exc) from None
    _, _, name = r.headers.get("content-disposition", "").partition('filename="')
    return r.content, Path(name.rstrip('"')).name or f"report.{fmt}"


def _write(data: bytes, name: str, fmt: str, out_file: Path | None) -> None:
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
        err.print(
            f"{len(report.restatements)} figure(s) of issued reports restated (see the "
            "report's restatements: old and new figure, and the records that moved them)"
        )
    return data, name


@app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="A report file (HTML, PDF, CSV or JSON)"),
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Check a report file against the issued reports' stored SHA-256: exit 0 if it is
    byte-for-byte an issued report (and its audit row is intact), 1 if not."""
    import base64

    from threenines.reports.api import verify_document

    try:
        data = file.read_bytes()
    except OSError as exc:
        err.print(f"cannot read {file}: {exc.strerror}", markup=False)
        raise typer.Exit(2) from None
    name = str(file)
    body = {"content": base64.b64encode(data).decode(), "name": name}
    doc = document(server, token_file, config,
                   lambda c: c.post("/api/v1/reports/verify", body),
                   lambda cfg, engine: verify_document(engine, cfg.tz, data, name))  # fmt: skip
    for line in doc["lines"]:
        (out if doc["ok"] else err).print(line, markup=False, soft_wrap=True)
    if not doc["ok"]:
        raise typer.Exit(1)


@app.command("send")
def send(
    schedule: str = typer.Argument(..., help="A schedule name from reports.schedules"),
    period: str | None = typer.Option(
        None, "--period", "-p", help="2026-10 | 2026-Q4 | 2026 (default: the last one ended)"
    ),
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
    wait: float = WaitJobOption,
) -> None:
    """Send a scheduled report now to its receivers, files attached. With --server, the server
    sends it (an operator token) and this follows its job.

    The send is recorded, so the running service does not send that period again. Exit 1 if
    a receiver was not reached (the service retries it)."""
    import asyncio

    from threenines.reports.api import SendRefused, send_document, send_plan

    client = connect(server, token_file)
    if client is not None:
        path = f"/api/v1/reports/schedules/{quote(schedule, safe='')}/send"
        doc = run_job(client, path, {"period": period}, wait)
    else:
        cfg = load_or_exit(config)
        try:
            sched, when = send_plan(cfg, schedule, period, time.time())
        except SendRefused as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(2) from None
        engine = open_store(cfg)
        try:
            doc = asyncio.run(send_document(cfg, engine, sched, when))
        finally:
            engine.dispose()
    _sent(doc)


def _sent(doc: dict[str, Any]) -> None:
    """``send_document``'s lines, one per receiver, and exit 1 unless every one was reached."""
    name, label, outcomes = doc["schedule"], doc["period"], doc["outcomes"]
    for o in outcomes:
        note = "sent" if o["state"] == "sent" else f"{o['state']}: {o['error']}"
        err.print(f"{name} {label} -> {o['receiver']}: {note}", markup=False)
    for receiver in sorted(set(doc["receivers"]) - {o["receiver"] for o in outcomes}):
        err.print(f"{name} {label} -> {receiver}: being sent by another instance", markup=False)
    if {o["receiver"] for o in outcomes if o["state"] == "sent"} != set(doc["receivers"]):
        raise typer.Exit(1)


@app.command("deliveries")
def deliveries(
    schedule: str | None = typer.Argument(None, help="Only this schedule"),
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Scheduled report deliveries: one line per schedule, period and receiver."""
    from zoneinfo import ZoneInfo

    from threenines.availability.periods import local_text
    from threenines.reports.api import deliveries_document

    doc = document(server, token_file, config,
                   lambda c: c.get("/api/v1/reports/deliveries", schedule=schedule),
                   lambda cfg, engine: deliveries_document(engine, cfg, schedule))  # fmt: skip
    rows, tz = doc["rows"], ZoneInfo(doc["timezone"])
    if as_json:
        print_json(rows)
        return
    if not rows:
        err.print("no report deliveries recorded")
    for row in rows:
        sent = row["sent_at"]
        when = local_text(float(sent), tz) if isinstance(sent, (int, float)) else "-"
        error = f"  {row['last_error']}" if row["last_error"] else ""
        print(f"{row['schedule']}\t{row['period']}\t{row['receiver']}\t{row['state']}"
              f"\tattempts={row['attempts']}\tsent={when}{error}")  # fmt: skip
