"""``threenines report``: the Digital Board availability report for a period."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from threenines.cli.core import ConfigOption, err, load_or_exit

app = typer.Typer(
    help="The Digital Board availability report (HTML, PDF, CSV or JSON).",
    invoke_without_command=True,
)


@app.callback()
def report(
    period: str = typer.Option(..., "--period", "-p", help="2026-10 | 2026-Q4 | 2026 | A..B"),
    fmt: str = typer.Option("html", "--format", "-f", help="html | pdf | csv | json"),
    site: str | None = typer.Option(None, "--site", help="Only this site or data centre"),
    out_file: Path | None = typer.Option(None, "--out", "-o", help="File or folder to write"),
    config: Path = ConfigOption,
) -> None:
    """Render the board report for a period (dates are local to the configured time zone).

    Without --out, HTML/CSV/JSON go to stdout and a PDF is written under its own name.
    """
    from threenines.availability.periods import PeriodError
    from threenines.reports.deliver import FORMATS, render_report
    from threenines.store.db import make_engine, migrate

    if fmt not in FORMATS:
        err.print(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})", markup=False)
        raise typer.Exit(2)
    cfg = load_or_exit(config)
    engine = make_engine(cfg.storage.url)
    try:
        migrate(engine)
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
