"""``threenines security``: findings, one-off scans, risk acceptance and baseline decisions.

The CLI talks to the database directly, so whoever can run it with the config can decide; the
``--by`` name goes into the audit trail. With ``--server`` it goes through the HTTP API
instead: reading needs a viewer token, deciding or scanning an operator token, whose name is
then who decided (a scan is a job on the server that the CLI follows).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from threenines.core.cli import ConfigOption, err, load_or_exit, open_store, out
from threenines.core.client import (
    Client,
    ServerOption,
    TokenFileOption,
    WaitJobOption,
    connect,
    follow_job,
    note_by,
)
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
ByOption = typer.Option(
    None, "--by", help="Who decides (recorded in the audit trail; with --server the token's name)"
)
ReasonOption = typer.Option(..., "--reason", help="Why (recorded in the audit trail)")


def _engine(config: Path) -> tuple[Config, Engine]:
    cfg = load_or_exit(config)
    return cfg, open_store(cfg)


def _who(by: str | None, client: Client | None) -> str:
    if client is not None:
        note_by(by)
        return ""
    if not by:
        err.print("--by is required: who decides (recorded in the audit trail)")
        raise typer.Exit(2)
    return by


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts)) if ts else "-"


@app.command()
def findings(
    config: Path = ConfigOption,
    status: str = typer.Option("open", help="open | accepted | resolved | all"),
    severity: str | None = typer.Option(None, help="critical | major | minor | info"),
    kind: str | None = typer.Option(None, help="e.g. unknown_device, arp_spoof, port_opened"),
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """List security findings (newest first)."""
    client = connect(server, token_file)
    if client is not None:
        query = {"status": status, "severity": severity, "kind": kind}
        rows = client.get("/api/v1/security/findings", limit=5000,
                          **{k: v for k, v in query.items() if v is not None})  # fmt: skip
    else:
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
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
    wait: float = WaitJobOption,
) -> None:
    """Run the configured security checks once and record what they find. With --server, the
    server runs them (an operator token) and this follows."""
    import asyncio

    from threenines.security.runner import PARTS, SecurityMonitor, scan_doc

    bad = [p for p in part if p not in PARTS]
    if bad:
        err.print(f"unknown part(s) {bad}; choose from {list(PARTS)}")
        raise typer.Exit(2)
    client = connect(server, token_file)
    if client is not None:
        job = follow_job(client, client.post("/api/v1/security/scan", {"parts": part}), wait)
        if job["state"] == "failed":
            err.print(f"job {job['id']} failed: {job['error']}", markup=False)
            raise typer.Exit(1)
        runs = job["result"]["runs"]
    else:
        cfg, engine = _engine(config)
        monitor = SecurityMonitor(security_config(cfg), engine)
        runs = scan_doc(asyncio.run(monitor.run_once(tuple(part))))
    if as_json:
        print(json.dumps(runs, indent=2, default=str))
        return
    for r in runs:
        state = f"incomplete: {r['error']}" if r["error"] else "ok"
        out.print(f"{r['check']}: {len(r['findings'])} finding(s) ({state})", markup=False)
        for f in r["findings"]:
            out.print(f"  [{f['severity']}] {f['message']}", markup=False)


@app.command()
def accept(
    finding_id: int = typer.Argument(..., help="Finding id (see `security findings`)"),
    config: Path = ConfigOption,
    by: str | None = ByOption,
    reason: str = ReasonOption,
    until: str | None = typer.Option(None, help="Acceptance expires after e.g. 30d"),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Accept the risk of an open finding (until it expires), audited."""
    from threenines.core.durations import parse_duration

    client = connect(server, token_file)
    who = _who(by, client)
    now = time.time()
    expiry = now + parse_duration(until) if until else None
    if client is not None:
        client.post(f"/api/v1/security/findings/{finding_id}/accept",
                    {"reason": reason, "until": expiry})  # fmt: skip
    else:
        from threenines.security.store import SecurityStore

        _cfg, engine = _engine(config)
        if not SecurityStore(engine).accept(finding_id, by=who, reason=reason, until=expiry,
                                            now=now):  # fmt: skip
            err.print(f"finding {finding_id} is not open")
            raise typer.Exit(2)  # a refused decision: as through the server (its 409)
    out.print(f"finding {finding_id} accepted until {_when(expiry) if expiry else 'revoked'}")


@app.command()
def resolve(
    finding_id: int = typer.Argument(...),
    config: Path = ConfigOption,
    by: str | None = ByOption,
    reason: str = ReasonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Close a finding by hand (spoofing findings stay open until someone does), audited."""
    client = connect(server, token_file)
    who = _who(by, client)
    if client is not None:
        client.post(f"/api/v1/security/findings/{finding_id}/resolve", {"reason": reason})
    else:
        from threenines.security.store import SecurityStore

        _cfg, engine = _engine(config)
        if not SecurityStore(engine).resolve(finding_id, by=who, reason=reason, now=time.time()):
            err.print(f"finding {finding_id} is not open or accepted")
            raise typer.Exit(2)  # a refused decision: as through the server (its 409)
    out.print(f"finding {finding_id} resolved")


@baseline_app.command("show")
def baseline_show(
    config: Path = ConfigOption,
    state: str = typer.Option("pending", help="pending | accepted | rejected | all"),
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Configured allowed ports per host/role, and baseline changes."""
    from threenines.security.config import format_ports

    client = connect(server, token_file)
    if client is not None:
        shown = client.get("/api/v1/security/baseline", state=state)
        conf, rows = shown["configured"], shown["changes"]
    else:
        from threenines.security.store_baselines import BaselineStore

        cfg, engine = _engine(config)
        rows = BaselineStore(engine).find(None if state == "all" else state)
        b = security_config(cfg).baselines
        conf = {
            "roles": {k: list(v) for k, v in b.roles.items()},
            "hosts": {k: list(v) for k, v in b.hosts.items()},
        }
    if as_json:
        print(json.dumps({"configured": conf, "changes": rows}, indent=2, default=str))
        return
    for kind, entries in (("role", conf["roles"]), ("host", conf["hosts"])):
        for name, ports in entries.items():
            out.print(f"{kind} {name}: {format_ports(tuple(ports)) or '(none)'}", markup=False)
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


def _decide(
    change_id: int, config: Path, by: str | None, reason: str, accept: bool,
    server: str | None, token_file: Path | None,
) -> None:  # fmt: skip
    client = connect(server, token_file)
    who = _who(by, client)
    if client is not None:
        verb = "accept" if accept else "reject"
        client.post(f"/api/v1/security/baseline/{change_id}/{verb}", {"reason": reason})
    else:
        from threenines.security.store_baselines import BaselineStore

        _cfg, engine = _engine(config)
        ok = BaselineStore(engine).decide(
            change_id, accept=accept, by=who, reason=reason, now=time.time()
        )
        if not ok:
            err.print(f"baseline change {change_id} is not pending")
            raise typer.Exit(2)  # a refused decision: as through the server (its 409)
    out.print(f"baseline change {change_id} {'accepted' if accept else 'rejected'}")


@baseline_app.command("accept")
def baseline_accept(
    change_id: int = typer.Argument(..., help="Change id (see `security baseline show`)"),
    config: Path = ConfigOption,
    by: str | None = ByOption,
    reason: str = ReasonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Accept a pending change into the host's baseline (resolves its finding), audited."""
    _decide(change_id, config, by, reason, True, server, token_file)


@baseline_app.command("reject")
def baseline_reject(
    change_id: int = typer.Argument(...),
    config: Path = ConfigOption,
    by: str | None = ByOption,
    reason: str = ReasonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Reject a pending change: the baseline stays and the finding stays open, audited."""
    _decide(change_id, config, by, reason, False, server, token_file)
