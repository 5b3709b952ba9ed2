"""``threenines lab``: build, inspect, break and remove the miniature council estate (root only).

The lab needs no threenines configuration (its estate is ``lab.topology``), so these commands
take ``--state-dir`` rather than ``-c``; ``config/lab.yaml`` is the config that monitors it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.table import Table

from threenines import lab
from threenines.core.cli import err, out

# lab.state.DEFAULT_DIR and lab.faults.KINDS, spelt out so that --help does not import the lab
# package (namespaces, servers): tests/test_cli_help.py checks they agree.
DEFAULT_DIR = Path("/run/threenines-lab")
FAULT_KINDS = "link-down, dc-cut, loss, latency, service-stop, replay-pause"

app = typer.Typer(help="A council estate in network namespaces: up, down, status, faults.")
fault_app = typer.Typer(help="Inject, list and clear faults (link down, loss, latency, ...).")
app.add_typer(fault_app, name="fault")

StateDir = typer.Option(DEFAULT_DIR, "--state-dir", help="Lab state directory (pidfiles, faults)")
T = TypeVar("T")


def _lab() -> Any:

    return lab


def _guard(action: Callable[[], T]) -> T:
    """Run a lab action; a refusal (not root) exits 2, any other lab error exits 1."""

    try:
        return action()
    except lab.NotRoot as exc:
        err.print(f"threenines lab: {exc}", style="bold red", markup=False)
        raise typer.Exit(2) from None
    except lab.LabError as exc:
        err.print(f"threenines lab: {exc}", style="red", markup=False)
        raise typer.Exit(1) from None


@app.command()
def up(state_dir: Path = StateDir) -> None:
    """Build the lab (idempotent: repairs what is missing, keeps active faults)."""
    info = _guard(lambda: _lab().up(state_dir))
    out.print(
        f"lab up: {info['namespaces']} namespaces, {info['links']} links in {info['seconds']:.2f}s"
    )
    out.print("front door: http://198.18.30.10/  https://198.18.30.10/  stats :8404/stats")
    out.print(f"HAProxy runtime API: {Path(state_dir) / 'haproxy.sock'}")
    out.print(f"database: {info['database']}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def down(state_dir: Path = StateDir) -> None:
    """Remove every tn-* namespace, link and lab process (also after a crash)."""
    info = _guard(lambda: _lab().down(state_dir))
    out.print(
        f"lab down: removed {info['namespaces']} namespaces, {info['root_links']} stray links, "
        f"stopped {info['processes']} processes in {info['seconds']:.2f}s"
    )


@app.command()
def status(
    state_dir: Path = StateDir,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Namespaces, links, processes and active faults."""
    info = _guard(lambda: _lab().status(state_dir))
    if as_json:
        print(json.dumps(info, indent=2))
        return
    present = sum(info["namespaces"].values())
    out.print(f"namespaces: {present}/{len(info['namespaces'])} present")
    for ns, ok in info["namespaces"].items():
        out.print(f"  {'[green]up[/]' if ok else '[red]missing[/]'}  {ns}")
    for ns in info["stray_namespaces"]:
        out.print(f"  [yellow]extra[/] {ns}")
    out.print(_table("links", ["link", "ns", "dev", "state"], info["links"]))
    out.print(_table("processes", ["ns", "name", "pid", "running"], info["processes"]))
    _print_faults(info["faults"])


def _table(title: str, columns: list[str], rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    return table


def _print_faults(faults: list[dict[str, Any]]) -> None:
    if not faults:
        out.print("faults: none")
        return
    rows = [
        {
            **f,
            "value": f["value"] or "",
            "since": time.strftime("%H:%M:%S", time.localtime(f["created"])),
        }
        for f in faults
    ]
    out.print(_table("faults", ["id", "kind", "target", "value", "since"], rows))


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(
    node: str = typer.Argument(..., help="Lab node, e.g. lib-grays or tn-dc-main"),
    command: list[str] = typer.Argument(..., help="Command to run inside it (after --)"),
) -> None:
    """Run a command inside a lab namespace: `threenines lab exec depot -- ping -c1 198.18.2.9`."""
    _guard(_lab().require_root)
    proc = _lab().run_in(node, command, capture=False, timeout=24 * 3600)
    raise typer.Exit(proc.returncode)


@fault_app.command("add")
def fault_add(
    kind: str = typer.Argument(..., help=f"One of: {FAULT_KINDS}"),
    target: str = typer.Argument(..., help="Site, data centre or front-door"),
    value: str | None = typer.Argument(None, help="30% for loss, 200ms for latency, service name"),
    state_dir: Path = StateDir,
) -> None:
    """Inject a fault: link-down SITE | loss SITE 30% | latency SITE 200ms |
    service-stop dc-main portal | dc-cut dc-main | replay-pause dc-mirror."""
    fault = _guard(lambda: _lab().fault_add(kind, target, value, state=state_dir))
    out.print(f"fault {fault.id}: {fault.describe()}")


@fault_app.command("list")
def fault_list(
    state_dir: Path = StateDir,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts) instead"),
) -> None:
    """Active faults."""
    faults = [asdict(f) for f in _lab().fault_list(state_dir)]
    if as_json:
        print(json.dumps(faults, indent=2, default=str))
        return
    _print_faults(faults)


@fault_app.command("clear")
def fault_clear(
    fault_id: int | None = typer.Argument(None, help="Fault id (see `lab fault list`)"),
    all_: bool = typer.Option(False, "--all", help="Clear every active fault"),
    state_dir: Path = StateDir,
) -> None:
    """Clear one fault by id, or all with --all."""
    if fault_id is None and not all_:
        err.print("give a fault id or --all", style="red")
        raise typer.Exit(2)
    cleared = _guard(lambda: _lab().fault_clear(None if all_ else fault_id, state=state_dir))
    for fault in cleared:
        out.print(f"cleared fault {fault.id}: {fault.describe()}")
    if not cleared:
        out.print("no active faults")
