"""``threenines security``: findings, one-off scans, risk acceptance and baseline decisions.

The CLI talks to the database directly, so whoever can run it with the config can decide; the
``--by`` name goes into the audit trail. (Over the HTTP API the same decisions need an
operator token.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from threenines.core.cli import ConfigOption, err, load_or_exit, open_store, out
from threenines.security.config import security_config

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config

app = typer.Typer(help="Security monitoring: findings, scans, baselines.", no_args_is_help=True)
baseline_app = typer.Typer(
    help="Allowed-ports baselines and pending changes.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table")
ByOption = typer.Option(..., "--by", help="Who decides (recorded in the audit trail)")
ReasonOption = typer.Option(..., "--reason", help="Why (recorded in the audit trail)")


def _engine(config: Path) -> tuple[Config, Engine]:
    cfg = load_or_exit(config)
    return cfg, open_store(cfg)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts)) if ts else "-"


@app.command()
def findings(
    config: Path = ConfigOption,
    status: str = typer.Option("open", help="open | accepted | resolved | all"),
    severity: str | None = typer.Option(None, help="critical | major | minor | info"),
    kind: str | None = typer.Option(None, help="e.g. unknown_device, arp_spoof, port_opened"),
    as_json: bool = JsonOption,
) -> None:
    """List security findings (newest first)."""
    from threenines.security.store import SecurityStore

    _cfg, engine = _engine(config)
    rows = SecurityStore(engine).find(None if status == "all" else status, severity, kind)
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    table = Table(
        "id", "severity", "kind", "subject", "status", "first seen", "last seen", "message"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["severity"],
            r["kind"],
            r["subject"],
            r["status"],
            _when(r["first_seen"]),
            _when(r["last_seen"]),
            r["message"],
        )
    out.print(table)
    out.print(f"{len(rows)} finding(s)")


@app.command()
def scan(
    config: Path = ConfigOption,
    part: list[str] = typer.Option(
        ["arp", "exposure", "posture", "snmp_auth"], help="arp | exposure | posture | snmp_auth"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Run the configured security checks once and record what they find."""
    import asyncio

    from threenines.security.runner import PARTS, SecurityMonitor

    bad = [p for p in part if p not in PARTS]
    if bad:
        err.print(f"unknown part(s) {bad}; choose from {list(PARTS)}")
        raise typer.Exit(2)
    cfg, engine = _engine(config)
    runs = asyncio.run(SecurityMonitor(security_config(cfg), engine).run_once(tuple(part)))
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "check": r.check,
                        "complete": r.complete,
                        "error": r.error,
                        "facts": r.facts,
                        "findings": [f.key for f in r.findings],
                    }
                    for r in runs
                ],
                indent=2,
                default=str,
            )
        )
        return
    for r in runs:
        state = f"incomplete: {r.error}" if r.error else "ok"
        out.print(f"{r.check}: {len(r.findings)} finding(s) ({state})", markup=False)
        for f in r.findings:
            out.print(f"  [{f.severity}] {f.message}", markup=False)


@app.command()
def accept(
    finding_id: int = typer.Argument(..., help="Finding id (see `security findings`)"),
    config: Path = ConfigOption,
    by: str = ByOption,
    reason: str = ReasonOption,
    until: str | None = typer.Option(None, help="Acceptance expires after e.g. 30d"),
) -> None:
    """Accept the risk of an open finding (until it expires), audited."""
    from threenines.core.durations import parse_duration
    from threenines.security.store import SecurityStore

    _cfg, engine = _engine(config)
    now = time.time()
    expiry = now + parse_duration(until) if until else None
    if not SecurityStore(engine).accept(finding_id, by=by, reason=reason, until=expiry, now=now):
        err.print(f"finding {finding_id} is not open")
        raise typer.Exit(1)
    out.print(f"finding {finding_id} accepted until {_when(expiry) if expiry else 'revoked'}")


@app.command()
def resolve(
    finding_id: int = typer.Argument(...),
    config: Path = ConfigOption,
    by: str = ByOption,
    reason: str = ReasonOption,
) -> None:
    """Close a finding by hand (spoofing findings stay open until someone does), audited."""
    from threenines.security.store import SecurityStore

    _cfg, engine = _engine(config)
    if not SecurityStore(engine).resolve(finding_id, by=by, reason=reason, now=time.time()):
        err.print(f"finding {finding_id} is not open or accepted")
        raise typer.Exit(1)
    out.print(f"finding {finding_id} resolved")


@baseline_app.command("show")
def baseline_show(
    config: Path = ConfigOption,
    state: str = typer.Option("pending", help="pending | accepted | rejected | all"),
    as_json: bool = JsonOption,
) -> None:
    """Configured allowed ports per host/role, and baseline changes."""
    from threenines.security.config import format_ports
    from threenines.security.store_baselines import BaselineStore

    cfg, engine = _engine(config)
    rows = BaselineStore(engine).find(None if state == "all" else state)
    b = security_config(cfg).baselines
    if as_json:
        conf = {
            "roles": {k: list(v) for k, v in b.roles.items()},
            "hosts": {k: list(v) for k, v in b.hosts.items()},
        }
        print(json.dumps({"configured": conf, "changes": rows}, indent=2, default=str))
        return
    for kind, entries in (("role", b.roles), ("host", b.hosts)):
        for name, ports in entries.items():
            out.print(f"{kind} {name}: {format_ports(ports) or '(none)'}", markup=False)
    table = Table("id", "host", "port", "change", "state", "first seen", "decided by", "reason")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["host"],
            str(r["port"]),
            r["change"],
            r["state"],
            _when(r["first_seen"]),
            r["decided_by"] or "-",
            r["reason"] or "-",
        )
    out.print(table)


def _decide(change_id: int, config: Path, by: str, reason: str, accept: bool) -> None:
    from threenines.security.store_baselines import BaselineStore

    _cfg, engine = _engine(config)
    ok = BaselineStore(engine).decide(
        change_id, accept=accept, by=by, reason=reason, now=time.time()
    )
    if not ok:
        err.print(f"baseline change {change_id} is not pending")
        raise typer.Exit(1)
    out.print(f"baseline change {change_id} {'accepted' if accept else 'rejected'}")


@baseline_app.command("accept")
def baseline_accept(
    change_id: int = typer.Argument(..., help="Change id (see `security baseline show`)"),
    config: Path = ConfigOption,
    by: str = ByOption,
    reason: str = ReasonOption,
) -> None:
    """Accept a pending change into the host's baseline (resolves its finding), audited."""
    _decide(change_id, config, by, reason, True)


@baseline_app.command("reject")
def baseline_reject(
    change_id: int = typer.Argument(...),
    config: Path = ConfigOption,
    by: str = ByOption,
    reason: str = ReasonOption,
) -> None:
    """Reject a pending change: the baseline stays and the finding stays open, audited."""
    _decide(change_id, config, by, reason, False)
