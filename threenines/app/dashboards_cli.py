"""``threenines dashboards grafana``: the dashboard of ``threenines.app.grafana`` as JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from threenines.core.cli import err

app = typer.Typer(help="Dashboards over threenines' metrics.", no_args_is_help=True)


@app.command("grafana")
def grafana(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of standard output"
    ),
    title: str = typer.Option("threenines", "--title", help="The dashboard's title"),
) -> None:
    """A Grafana dashboard (JSON model): estate, data centres, services, probe phases, SNMP
    uplinks, alerts, failover. The burn-rate panel needs `threenines rules prometheus` loaded."""
    import json

    from threenines.app.grafana import dashboard

    text = json.dumps(dashboard(title), indent=2) + "\n"
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"{output}: cannot write: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
