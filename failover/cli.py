"""``threenines failover ...``: status, plan, run, approve, cancel, failback, history, watch."""

from __future__ import annotations

import getpass
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer
from rich.table import Table

from threenines.core.cli import (
    ConfigOption,
    JsonOption,
    composition,
    err,
    load_or_exit,
    out,
    print_json,
    rows_json,
)
from threenines.core.client import (
    Client,
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

app = typer.Typer(help="Fail over to the mirror data centre (Ansible), and fail back.")
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


def _report(doc: dict[str, Any]) -> None:
    """Print ``outcome_doc``'s document (local or from the server's job) and exit with it."""
    from threenines.failover.orchestrator import SUCCEEDED

    if doc["outcome"] == "not_run":
        out.print(doc["why"], markup=False)
        raise typer.Exit(1)
    if doc["outcome"] == "decision":
        out.print(f"[bold]{doc['action']}[/]: {doc['reason']}: {doc['message']}")
        raise typer.Exit(0 if doc["action"] == "wait" else 1)
    out.print(f"run {doc['run_id']}: [bold]{doc['state']}[/] ({doc['changed']} change(s), "
              f"rc {doc['rc']})")  # fmt: skip
    if doc["error"]:
        out.print(f"  {doc['error']}", markup=False)
    for check, why in doc["not_verified"].items():
        out.print(f"  not verified: {check}: {why}", markup=False)
    raise typer.Exit(0 if doc["state"] in SUCCEEDED else 1)


def _through_server(client: Client, path: str, body: dict[str, Any], wait: float) -> None:
    """Start the run on the server (a job), follow it until it ends, report it."""
    job = client.post(path, body)
    err.print(f"job {job['id']}: {job['kind']} {job['key']} started on the server", markup=False)
    doc = follow_job(client, job, wait)
    if doc["state"] == "failed":
        err.print(f"job {doc['id']} failed: {doc['error']}", markup=False)
        raise typer.Exit(1)
    _report(doc["result"])


@app.command()
def status(
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Each plan's current decision, last run and lease (evaluates; never acts)."""
    client = connect(server, token_file)
    if client is not None:
        shown: list[dict[str, Any]] = client.get("/api/v1/failover")
    else:
        from threenines.failover.api import plan_status

        shown = plan_status(_orch(config))
    if as_json:
        print_json(shown)
        return
    table = Table("plan", "mode", "decision", "last run", "lease")
    for p in shown:
        d, r, lease = p["decision"], p["last_run"], p["lease"]
        last = f"{r['id']} {r['kind']} {r['state']} {_ts(r['started'])}" if r else "-"
        held = f"{lease['owner']} until {_ts(lease['expires_at'])}" if lease else "free"
        table.add_row(p["plan"], p["mode"], f"{d['action']}: {d['reason']}", last, held)
    out.print(table)
    if not shown:
        out.print("no failover plans configured (failover.plans)")


@app.command("plan")
def show_plan(name: str = PlanArg, config: Path = ConfigOption, as_json: bool = JsonOption) -> None:
    """Explain a plan: what triggers it, what is checked, what would run, and the decision now."""
    orch = _orch(config)
    _plan_or_exit(orch, name)
    plan = orch.plan(name)
    subjects = orch.subjects(plan)
    project = Path(failover_config(orch.cfg).project_dir)
    t = plan.trigger
    if as_json:
        d = orch.decide_now(plan)
        print_json({
            "plan": plan.name, "primary": plan.primary, "mirror": plan.mirror,
            "mode": plan.guards.mode,
            "trigger": {"require": t.require, "subjects": list(subjects.trigger),
                        "quorum": t.quorum, "confirm_for": t.confirm_for},
            "mirror_subjects": list(subjects.mirror),
            "min_vantage_points": plan.preflight.min_vantage_points,
            "guards": {"cooldown": plan.guards.cooldown,
                       "max_runs_per_day": plan.guards.max_runs_per_day},
            "playbook": str(project / plan.playbook.path),
            "failback": str(project / plan.failback.path),
            "verify": {"checks": list(plan.verification.checks),
                       "within": plan.verification.within},
            "decision": {"action": d.action, "reason": d.reason, "message": d.message},
        })  # fmt: skip
        return
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
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
    wait: float = WaitJobOption,
) -> None:
    """Fail over now (an operator's decision: trigger, mode and cooldown do not apply). With
    --server, the server runs it (an operator token; --force an admin one) and this follows."""
    import asyncio

    from threenines.failover.orchestrator import outcome_doc

    client = connect(server, token_file)
    if client is not None:
        note_by(by)
        path = f"/api/v1/failover/{quote(name, safe='')}/run" + ("/forced" if force else "")
        _through_server(client, path, {"dry_run": dry_run}, wait)
        return
    orch = _orch(config)
    _plan_or_exit(orch, name)
    orch.recover()
    result = asyncio.run(orch.run_manual(name, by=_who(by), check=dry_run, force=force))
    _report(outcome_doc(result))


@app.command()
def approve(
    name: str = PlanArg,
    by: str | None = ByOption,
    note: str = typer.Option("", "--note", help="Why (kept in the audit log)"),
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Approve a failover for a plan in approve mode (the approval expires). With --server,
    through the API with an operator token (the token's name is who approved)."""
    client = connect(server, token_file)
    if client is not None:
        note_by(by)
        made = client.post(f"/api/v1/failover/{quote(name, safe='')}/approve", {"note": note})
        out.print(f"approval {made['approval']} for {name}, valid for {made['valid_for']:g}s")
        return
    orch = _orch(config)
    _plan_or_exit(orch, name)
    approval = orch.approve(name, _who(by), note)
    ttl = orch.plan(name).guards.approval_ttl
    out.print(f"approval {approval} for {name}, valid for {ttl:g}s")


@app.command()
def cancel(
    name: str | None = typer.Argument(None, help="Plan (default: every running run)"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Cancel running failover runs (from any instance); the playbook is stopped. With
    --server, one plan's runs, through the API with an operator token."""
    client = connect(server, token_file)
    if client is not None:
        if name is None:
            err.print("with --server, name the plan whose runs to cancel", style="red")
            raise typer.Exit(2)
        note_by(by)
        ids = client.post(f"/api/v1/failover/{quote(name, safe='')}/cancel")["canceled"]
    else:
        ids = _orch(config).cancel(name, by=_who(by))
    out.print(f"cancel requested for run(s) {', '.join(map(str, ids))}" if ids else "nothing runs")


@app.command()
def failback(
    name: str = PlanArg,
    dry_run: bool = typer.Option(False, "--dry-run", help="Ansible check mode: change nothing"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
    wait: float = WaitJobOption,
) -> None:
    """Fail back to the primary (never automatic). With --server, the server runs it (an
    operator token) and this follows."""
    import asyncio

    from threenines.failover.orchestrator import outcome_doc

    client = connect(server, token_file)
    if client is not None:
        note_by(by)
        path = f"/api/v1/failover/{quote(name, safe='')}/failback"
        _through_server(client, path, {"dry_run": dry_run}, wait)
        return
    orch = _orch(config)
    _plan_or_exit(orch, name)
    orch.recover()
    _report(outcome_doc(asyncio.run(orch.failback(name, by=_who(by), check=dry_run))))


@app.command()
def history(
    name: str | None = typer.Argument(None, help="Plan (default: all)"),
    limit: int = typer.Option(20, "--limit", "-n"),
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Past runs, newest first."""
    client = connect(server, token_file)
    if client is not None:
        rows: list[dict[str, Any]] = client.get("/api/v1/failover/history", plan=name,
                                                limit=limit)  # fmt: skip
    else:
        rows = [_run_json(r) for r in _orch(config).ledger.run_rows(name, limit=limit)]
    if as_json:
        print_json(rows)
        return
    table = Table("run", "plan", "kind", "trigger", "state", "started", "took", "error")
    for r in rows:
        took = f"{r['finished'] - r['started']:.1f}s" if r["finished"] else "-"
        kind = r["kind"] + (" (check)" if r["check_mode"] else "")
        table.add_row(str(r["id"]), r["plan"], kind, r["trigger"], r["state"], _ts(r["started"]),
                      took, (r["error"] or "")[:60])  # fmt: skip
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
