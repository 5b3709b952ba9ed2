"""``threenines drill ...``: run a DR drill against a failover plan, and render its report."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from threenines.core.cli import ConfigOption, composition, load_or_exit
from threenines.failover.config import failover_config

if TYPE_CHECKING:  # imported inside the commands: the CLI's start-up stays fast
    from threenines.failover.orchestrator import Orchestrator

# failover.drill.SCENARIOS, spelt out for --help without importing the drill machinery
# (tests/test_cli_help.py checks the two agree).
SCENARIO_HELP = "dc-cut | service-stop | tabletop"

app = typer.Typer(help="DR drills: prove how long failover to the mirror takes.")
out = Console()
err = Console(stderr=True)


def _orch(config: Path) -> Orchestrator:
    from threenines.core.db import make_engine
    from threenines.failover.orchestrator import Orchestrator

    cfg = load_or_exit(config)
    engine = make_engine(cfg.storage.url)
    composition().migrate(engine)
    return Orchestrator(cfg, engine)


@app.command("run")
def run_drill(
    plan: str = typer.Argument(..., help="Failover plan name"),
    scenario: str = typer.Option("tabletop", "--scenario", "-s", help=SCENARIO_HELP),
    service: str = typer.Option("portal", "--service", help="For service-stop: which service"),
    max_wait: float | None = typer.Option(None, "--max-wait", help="Seconds to wait per phase"),
    by: str | None = typer.Option(None, "--by", help="Who runs the drill (default USER@host)"),
    config: Path = ConfigOption,
) -> None:
    """Announce, inject the fault, let detection and failover happen, fail back, record."""
    import asyncio

    from threenines.failover.drill import SCENARIOS, DrillRunner

    if scenario not in SCENARIOS:
        err.print(f"unknown scenario {scenario!r} (one of: {', '.join(SCENARIOS)})", style="red")
        raise typer.Exit(2)
    orch = _orch(config)
    if failover_config(orch.cfg).plan(plan) is None:
        err.print(f"no failover plan {plan!r}", style="red")
        raise typer.Exit(2)
    orch.recover()
    who = by or f"{getpass.getuser()}@{socket.gethostname()}"
    runner = DrillRunner(orch, max_wait=max_wait)
    drill_id = asyncio.run(runner.run(plan, scenario, by=who, service=service))
    row = _drill(orch, drill_id)
    out.print(f"drill {drill_id}: [bold]{row['state']}[/]")
    for o in row["summary"].get("objectives", []):
        verdict = {True: "met", False: "MISSED", None: "not measured"}[o["met"]]
        out.print(f"  {o['name']}: {o['measured']} (target {o['target']}): {verdict}")
    for problem in row["summary"].get("problems", []):
        out.print(f"  problem: {problem}", markup=False)
    out.print(f"report: threenines drill report {drill_id} --out drill-{drill_id}.html")
    raise typer.Exit(0 if row["state"] == "done" else 1)


def _drill(orch: Orchestrator, drill_id: int) -> dict:
    import sqlalchemy as sa

    from threenines.failover.store import drills

    with orch.engine.connect() as conn:
        row = conn.execute(sa.select(drills).where(drills.c.id == drill_id)).first()
    if row is None:
        err.print(f"no drill {drill_id}", style="red")
        raise typer.Exit(2)
    return dict(row._mapping)


@app.command()
def report(
    drill_id: int = typer.Argument(..., help="Drill id (from `drill run` or `drill list`)"),
    fmt: str = typer.Option("", "--format", "-f", help="html | pdf (default: from --out)"),
    out_file: Path | None = typer.Option(None, "--out", "-o", help="Write to a file"),
    config: Path = ConfigOption,
) -> None:
    """Render a drill's report: objectives met or missed, timeline chart, what went wrong."""
    from threenines.failover.drill_report import render_drill, render_pdf

    orch = _orch(config)
    row = _drill(orch, drill_id)
    html = render_drill(orch.engine, orch.cfg, row)
    kind = fmt or (out_file.suffix.lstrip(".") if out_file else "html")
    if kind not in ("html", "pdf"):
        err.print(f"unknown format {kind!r} (html or pdf)", style="red")
        raise typer.Exit(2)
    if kind == "pdf":
        if out_file is None:
            err.print("a PDF needs --out FILE", style="red")
            raise typer.Exit(2)
        out_file.write_bytes(render_pdf(html))
    elif out_file is not None:
        out_file.write_text(html)
    else:
        print(html)
    if out_file is not None:
        out.print(f"wrote {out_file}")


@app.command("list")
def list_drills(config: Path = ConfigOption) -> None:
    """Past drills, newest first."""
    import sqlalchemy as sa

    from threenines.failover.store import drills

    orch = _orch(config)
    with orch.engine.connect() as conn:
        rows = list(conn.execute(sa.select(drills).order_by(drills.c.id.desc()).limit(50)))
    for r in rows:
        rto = (r.summary or {}).get("rto")
        rto_text = f"RTO {rto:.1f}s" if rto is not None else "RTO -"
        out.print(f"{r.id}  {r.plan}  {r.scenario}  {r.state}  {rto_text}")
