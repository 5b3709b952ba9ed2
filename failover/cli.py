"""``threenines failover ...``: status, plan, run, approve, cancel, failback, history, watch."""

from __future__ import annotations

import getpass
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from threenines.core.cli import (
    ConfigOption,
    JsonOption,
    composition,
    load_or_exit,
    print_json,
    rows_json,
)
from threenines.failover.config import failover_config

if TYPE_CHECKING:  # imported inside the commands: the CLI's start-up stays fast
    from threenines.failover.decide import FailoverDecision
    from threenines.failover.orchestrator import Orchestrator, RunOutcome

app = typer.Typer(help="Fail over to the mirror data centre (Ansible), and fail back.")
out = Console()
err = Console(stderr=True)
PlanArg = typer.Argument(..., help="Failover plan name (failover.plans[].name)")
ByOption = typer.Option(None, "--by", help="Who is acting (default: USER@host)")


def _orch(config: Path) -> Orchestrator:
    from threenines.core.db import make_engine
    from threenines.failover.orchestrator import Orchestrator

    cfg = load_or_exit(config)
    engine = make_engine(cfg.storage.url)
    composition().migrate(engine)
    return Orchestrator(cfg, engine)


def _plan_or_exit(orch: Orchestrator, name: str) -> None:
    if failover_config(orch.cfg).plan(name) is None:
        known = ", ".join(p.name for p in failover_config(orch.cfg).plans) or "none configured"
        err.print(f"no failover plan {name!r} (plans: {known})", style="red")
        raise typer.Exit(2)


def _who(by: str | None) -> str:
    return by or f"{getpass.getuser()}@{socket.gethostname()}"


def _run_json(row: Any) -> dict[str, Any]:
    return rows_json([row])[0]


def _ts(value: float | None) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _report(result: RunOutcome | FailoverDecision | None) -> None:
    from threenines.failover.decide import FailoverDecision

    if result is None:
        out.print("another instance holds this plan's lease or has just run it; nothing done")
        raise typer.Exit(1)
    if isinstance(result, FailoverDecision):
        out.print(f"[bold]{result.action}[/]: {result.reason}: {result.message}")
        raise typer.Exit(0 if result.action == "wait" else 1)
    pb = result.playbook
    out.print(f"run {result.run_id}: [bold]{result.state}[/] ({pb.changed} change(s), rc {pb.rc})")
    if pb.error:
        out.print(f"  {pb.error}", markup=False)
    if result.verification and not result.verification.ok:
        for check, why in result.verification.last_error.items():
            out.print(f"  not verified: {check}: {why}", markup=False)
    raise typer.Exit(0 if result.state in ("verified", "succeeded") else 1)


@app.command()
def status(config: Path = ConfigOption, as_json: bool = JsonOption) -> None:
    """Each plan's current decision, last run and lease (evaluates; never acts)."""
    from threenines.failover.lease import holder

    orch = _orch(config)
    table = Table("plan", "mode", "decision", "last run", "lease")
    shown: list[dict[str, Any]] = []
    for plan in failover_config(orch.cfg).plans:
        d = orch.decide_now(plan)
        rows = orch.ledger.run_rows(plan.name, limit=1)
        if as_json:
            lease = holder(orch.engine, f"plan:{plan.name}")
            shown.append({
                "plan": plan.name, "mode": plan.guards.mode,
                "decision": {"action": d.action, "reason": d.reason, "message": d.message},
                "last_run": _run_json(rows[0]) if rows else None,
                "lease": {"owner": lease.owner, "expires_at": lease.expires_at} if lease else None,
            })  # fmt: skip
            continue
        last = (
            f"{rows[0].id} {rows[0].kind} {rows[0].state} {_ts(rows[0].started)}" if rows else "-"
        )
        lease = holder(orch.engine, f"plan:{plan.name}")
        held = f"{lease.owner} until {_ts(lease.expires_at)}" if lease else "free"
        table.add_row(plan.name, plan.guards.mode, f"{d.action}: {d.reason}", last, held)
    if as_json:
        print_json(shown)
        return
    out.print(table)
    if not failover_config(orch.cfg).plans:
        out.print("no failover plans configured (failover.plans)")


@app.command("plan")
def show_plan(name: str = PlanArg, config: Path = ConfigOption) -> None:
    """Explain a plan: what triggers it, what is checked, what would run, and the decision now."""
    orch = _orch(config)
    _plan_or_exit(orch, name)
    plan = orch.plan(name)
    subjects = orch.subjects(plan)
    project = Path(failover_config(orch.cfg).project_dir)
    t = plan.trigger
    out.print(f"[bold]{plan.name}[/]: {plan.primary} -> {plan.mirror}  ({plan.guards.mode} mode)")
    out.print(f"  trigger:  {t.require} of {', '.join(subjects.trigger) or '-'} down")
    out.print("            by the state rule (each check's quorum, combine, devices)")
    out.print(f"            and from >= {t.quorum} vantage points, for {t.confirm_for:g}s")
    out.print(f"  mirror:   {', '.join(subjects.mirror) or '-'} up by the rule and from ")
    out.print(f"            >= {plan.preflight.min_vantage_points} vantage points")
    g = plan.guards
    out.print(f"  guards:   cooldown {g.cooldown:g}s, <= {g.max_runs_per_day} runs/day")
    for label, spec in (("playbook", plan.playbook), ("failback", plan.failback)):
        exists = "" if (project / spec.path).is_file() else "  [red](missing)[/]"
        out.print(f"  {label}: {project / spec.path}{exists}")
    out.print(f"  verify:   {', '.join(plan.verification.checks) or '-'}")
    out.print(f"            within {plan.verification.within:g}s")
    d = orch.decide_now(plan)
    out.print(f"  now:      [bold]{d.action}[/]: {d.reason}: {d.message}")


@app.command()
def run(
    name: str = PlanArg,
    dry_run: bool = typer.Option(False, "--dry-run", help="Ansible check mode: change nothing"),
    force: bool = typer.Option(False, "--force", help="Skip pre-flight checks and the daily limit"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
) -> None:
    """Fail over now (an operator's decision: trigger, mode and cooldown do not apply)."""
    import asyncio

    orch = _orch(config)
    _plan_or_exit(orch, name)
    orch.recover()
    _report(asyncio.run(orch.run_manual(name, by=_who(by), check=dry_run, force=force)))


@app.command()
def approve(
    name: str = PlanArg,
    by: str | None = ByOption,
    note: str = typer.Option("", "--note", help="Why (kept in the audit log)"),
    config: Path = ConfigOption,
) -> None:
    """Approve a failover for a plan in approve mode (the approval expires)."""
    orch = _orch(config)
    _plan_or_exit(orch, name)
    approval = orch.approve(name, _who(by), note)
    ttl = orch.plan(name).guards.approval_ttl
    out.print(f"approval {approval} for {name}, valid for {ttl:g}s")


@app.command()
def cancel(
    name: str | None = typer.Argument(None, help="Plan (default: every running run)"),
    config: Path = ConfigOption,
) -> None:
    """Cancel running failover runs (from any instance); the playbook is stopped."""
    ids = _orch(config).cancel(name, by=_who(None))
    out.print(f"cancel requested for run(s) {', '.join(map(str, ids))}" if ids else "nothing runs")


@app.command()
def failback(
    name: str = PlanArg,
    dry_run: bool = typer.Option(False, "--dry-run", help="Ansible check mode: change nothing"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
) -> None:
    """Fail back to the primary (never automatic)."""
    import asyncio

    orch = _orch(config)
    _plan_or_exit(orch, name)
    orch.recover()
    _report(asyncio.run(orch.failback(name, by=_who(by), check=dry_run)))


@app.command()
def history(
    name: str | None = typer.Argument(None, help="Plan (default: all)"),
    limit: int = typer.Option(20, "--limit", "-n"),
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Past runs, newest first."""
    orch = _orch(config)
    if as_json:
        print_json([_run_json(r) for r in orch.ledger.run_rows(name, limit=limit)])
        return
    table = Table("run", "plan", "kind", "trigger", "state", "started", "took", "error")
    for r in orch.ledger.run_rows(name, limit=limit):
        took = f"{r.finished - r.started:.1f}s" if r.finished else "-"
        kind = r.kind + (" (check)" if r.check_mode else "")
        table.add_row(str(r.id), r.plan, kind, r.trigger, r.state, _ts(r.started), took,
                      (r.error or "")[:60])  # fmt: skip
    out.print(table)


@app.command()
def watch(
    run_id: int | None = typer.Argument(None, help="Run id (default: the newest run)"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep waiting for new runs"),
    config: Path = ConfigOption,
) -> None:
    """Stream a run's Ansible task events live, as they are stored."""
    orch = _orch(config)
    current, last_id = run_id, 0
    while True:
        if current is None:
            rows = orch.ledger.run_rows(limit=1)
            current = rows[0].id if rows else None
        if current is not None:
            for ev in orch.ledger.events_after(current, last_id):
                last_id = ev.id
                _print_event(ev)
            row = orch.ledger.run(current)
            if row is not None and row.state != "running":
                out.print(f"run {row.id} {row.kind}: [bold]{row.state}[/] {row.error or ''}")
                if not follow or run_id is not None:
                    return
                newest = orch.ledger.run_rows(limit=1)
                if newest and newest[0].id != current:
                    current, last_id = newest[0].id, 0
        elif not follow:
            out.print("no runs yet")
            return
        time.sleep(0.5)


def _print_event(ev: Any) -> None:
    e = ev._mapping
    name, ts = e["event"], _ts(e["ts"])
    if name == "playbook_on_play_start":
        out.print(f"{ts} PLAY {e['play']}")
    elif name.startswith("runner_on_"):
        what = name.removeprefix("runner_on_")
        what = "changed" if e["changed"] else what
        style = "red" if e["failed"] else ("yellow" if e["changed"] else "green")
        out.print(f"{ts}   [{style}]{what:8}[/] {e['host']}: {e['task']}")
    elif name == "playbook_on_stats":
        out.print(f"{ts} done")


@app.command()
def auto(
    once: bool = typer.Option(False, "--once", help="Evaluate every plan once, then exit"),
    config: Path = ConfigOption,
) -> None:
    """The automatic failover loop, on its own (the service runner runs the same loop)."""
    import asyncio

    from threenines.failover.decide import FailoverDecision

    orch = _orch(config)

    async def main() -> None:
        if once:
            orch.recover()
            for plan in failover_config(orch.cfg).plans:
                result = await orch.tick(plan.name)
                if isinstance(result, FailoverDecision):
                    out.print(f"{plan.name}: {result.action}: {result.reason}: {result.message}")
                else:
                    out.print(f"{plan.name}: run {result.run_id} {result.state}")
            return
        await orch.serve(asyncio.Event())

    asyncio.run(main())
