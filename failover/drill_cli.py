"""``threenines drill ...``: run a DR drill against a failover plan, and render its report."""

from __future__ import annotations

import getpass
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from threenines.core.cli import (
    ConfigOption,
    JsonOption,
    composition,
    err,
    load_or_exit,
    out,
    print_json,
)
from threenines.core.client import (
    ServerOption,
    TokenFileOption,
    WaitJobOption,
    connect,
    follow_job,
    note_by,
)
from threenines.failover.config import failover_config

if TYPE_CHECKING:  # imported inside the commands: the CLI's start-up stays fast
    from threenines.failover.orchestrator import Orchestrator

# failover.drill.SCENARIOS, spelt out for --help without importing the drill machinery
# (tests/test_cli_help.py checks the two agree).
SCENARIO_HELP = "dc-cut | service-stop | tabletop"

app = typer.Typer(help="DR drills: prove how long failover to the mirror takes.")


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
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
    wait: float = WaitJobOption,
) -> None:
    """Announce, inject the fault, let detection and failover happen, fail back, record. With
    --server, the server runs the drill (an operator token) and this follows."""
    import asyncio

    from threenines.failover.drill import SCENARIOS, DrillRunner, drill_outcome

    if scenario not in SCENARIOS:
        err.print(f"unknown scenario {scenario!r} (one of: {', '.join(SCENARIOS)})", style="red")
        raise typer.Exit(2)
    client = connect(server, token_file)
    if client is not None:
        note_by(by)
        body = {"plan": plan, "scenario": scenario, "service": service, "max_wait": max_wait}
        job = follow_job(client, client.post("/api/v1/failover/drills", body), wait)
        if job["state"] == "failed":
            err.print(f"job {job['id']} failed: {job['error']}", markup=False)
            raise typer.Exit(1)
        _print_outcome(job["result"])
        return
    orch = _orch(config)
    if failover_config(orch.cfg).plan(plan) is None:
        err.print(f"no failover plan {plan!r}", style="red")
        raise typer.Exit(2)
    orch.recover()
    who = by or f"{getpass.getuser()}@{socket.gethostname()}"
    runner = DrillRunner(orch, max_wait=max_wait)
    drill_id = asyncio.run(runner.run(plan, scenario, by=who, service=service))
    outcome = drill_outcome(orch.engine, drill_id)
    if outcome is None:
        err.print(f"no drill {drill_id}", style="red")
        raise typer.Exit(2)
    _print_outcome(outcome)


def _print_outcome(o: dict[str, Any]) -> None:
    out.print(f"drill {o['drill_id']}: [bold]{o['state']}[/]")
    for obj in o["objectives"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[obj["met"]]
        out.print(f"  {obj['name']}: {obj['measured']} (target {obj['target']}): {verdict}")
    for problem in o["problems"]:
        out.print(f"  problem: {problem}", markup=False)
    out.print(f"report: threenines drill report {o['drill_id']} --out drill-{o['drill_id']}.html")
    raise typer.Exit(0 if o["state"] == "done" else 1)


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
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Render a drill's report: objectives met or missed, timeline chart, what went wrong."""
    kind = fmt or (out_file.suffix.lstrip(".") if out_file else "html")
    if kind not in ("html", "pdf"):
        err.print(f"unknown format {kind!r} (html or pdf)", style="red")
        raise typer.Exit(2)
    if kind == "pdf" and out_file is None:
        err.print("a PDF needs --out FILE", style="red")
        raise typer.Exit(2)
    client = connect(server, token_file)
    if client is not None:
        data = client.download(f"/api/v1/failover/drills/{drill_id}/report", format=kind)
    else:
        from threenines.failover.drill_report import render_drill, render_pdf

        orch = _orch(config)
        html = render_drill(orch.engine, orch.cfg, _drill(orch, drill_id))
        data = render_pdf(html) if kind == "pdf" else html.encode()
    if out_file is not None:
        out_file.write_bytes(data)
    else:
        sys.stdout.write(data.decode() + "\n")
    if out_file is not None:
        out.print(f"wrote {out_file}")


@app.command("sign")
def sign(
    drill_id: int = typer.Argument(..., help="Drill id (from `drill list`)"),
    role: str = typer.Option(..., "--role", help="DR lead | Service owner | Witness"),
    by: str = typer.Option(..., "--by", help="Who signs (recorded, shown in the report)"),
    note: str = typer.Option("", "--note", help="What the signer says (shown with the name)"),
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Sign off a finished drill's report in a role (recorded once, in the audit log). With
    --server, through the API with an operator token: --by is the signer's name, recorded with
    the token's."""
    import time

    from threenines.failover.drill import SignOffError, sign_off

    client = connect(server, token_file)
    if client is not None:
        body = {"role": role, "name": by, "note": note}
        # signed already, or still running: exit 1, as locally
        done = client.ask("POST", f"/api/v1/failover/drills/{drill_id}/sign", body, {409: 1})
        out.print(f"drill {drill_id} signed off as {role} by {done['name']}", markup=False)
        return

    orch = _orch(config)
    try:
        sign_off(orch.engine, drill_id, role=role, by=by, note=note, now=time.time())
    except LookupError as exc:
        err.print(str(exc).strip("'\""), style="red", markup=False)
        raise typer.Exit(2) from None
    except SignOffError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(2 if str(exc).startswith("unknown role") else 1) from None
    finally:
        orch.engine.dispose()
    out.print(f"drill {drill_id} signed off as {role} by {by}", markup=False)


@app.command("list")
def list_drills(
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Past drills, newest first."""
    client = connect(server, token_file)
    if client is not None:
        rows = client.get("/api/v1/failover/drills")
    else:
        from threenines.failover.store import drill_rows

        orch = _orch(config)
        try:
            rows = drill_rows(orch.engine)
        finally:
            orch.engine.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        rto = (r["summary"] or {}).get("rto")
        rto_text = f"RTO {rto:.1f}s" if rto is not None else "RTO -"
        roles = ", ".join(r["signed_off"]) or "not signed off"
        out.print(f"{r['id']}  {r['plan']}  {r['scenario']}  {r['state']}  {rto_text}  {roles}",
                  markup=False)  # fmt: skip
