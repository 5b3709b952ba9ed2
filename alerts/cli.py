"""``threenines alerts``: list, show, ack, resolve, silence, unsilence, silences, test.

Reads go straight to the database. Acks and resolves are queued in ``alert_commands`` and
applied by the running service (the policy owns incident state); the command waits a few
seconds for the outcome. Silences are stored at once and take effect on the service's next tick.
"""

from __future__ import annotations

import getpass
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from threenines.core.cli import (
    ConfigOption,
    JsonOption,
    deprecated_alias,
    err,
    load_or_exit,
    open_store,
    out,
    print_json,
    rows_json,
)
from threenines.core.client import ServerOption, TokenFileOption, connect, note_by

if TYPE_CHECKING:  # imported inside the commands: the CLI's start-up stays fast
    from threenines.alerts.store import AlertStore
    from threenines.core.config import Config

app = typer.Typer(help="Alerts: incidents, acknowledgements, silences, test notifications.")
WaitOption = typer.Option(10.0, "--wait", help="Seconds to wait for the service to apply it")
RefArgument = typer.Argument(..., help="Incident id, uid or key")
NoteOption = typer.Option("", "--note", "-n")
ByOption = typer.Option(None, "--by", help="Who is acting (default: your login name)")


def _store(config: Path) -> tuple[Config, AlertStore]:
    from threenines.alerts.store import AlertStore

    cfg = load_or_exit(config)
    return cfg, AlertStore(open_store(cfg))


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@app.command("list")
def list_(
    config: Path = ConfigOption,
    all_: bool = typer.Option(False, "--all", "-a", help="Include resolved incidents"),
    limit: int = typer.Option(100, help="At most this many"),
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Incidents, newest first (open and acknowledged unless --all)."""
    client = connect(server, token_file)
    if client is not None:
        rows = client.get("/api/v1/alerts", status="all" if all_ else "active", limit=limit)
    else:
        _cfg, store = _store(config)
        rows = store.incidents(None if all_ else ["open", "acknowledged"], limit)
    if as_json:
        print_json(rows_json(rows))
        return
    table = Table("id", "status", "severity", "category", "title", "since", "site", "acked by")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["status"],
            r["severity"],
            r["category"],
            r["title"],
            _when(r["since"]),
            r["site"] or "-",
            r["acked_by"] or "-",
        )
    out.print(table if rows else "no incidents")


@app.command()
def show(
    ref: str = RefArgument,
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """One incident with its notifications and their delivery to each receiver."""
    from urllib.parse import quote

    client = connect(server, token_file)
    if client is not None:
        doc = client.get(f"/api/v1/alerts/{quote(ref, safe='')}")
    else:
        from threenines.alerts.incident_doc import incident_document

        _cfg, store = _store(config)
        doc = incident_document(store, ref)
        if doc is None:
            err.print(f"no incident {ref!r}", markup=False)
            raise typer.Exit(2)  # a refused input: as through the server (its 404)
    if as_json:
        notes = [{**rows_json([n])[0], "deliveries": rows_json(n["deliveries"])}
                 for n in doc["notifications"]]  # fmt: skip
        print_json({**rows_json([{k: v for k, v in doc.items() if k != "notifications"}])[0],
                    "notifications": notes})  # fmt: skip
        return
    for k in (
        "id",
        "uid",
        "key",
        "status",
        "severity",
        "category",
        "title",
        "cause",
        "site",
        "service",
        "held",
        "acked_by",
    ):
        out.print(f"{k:>10}: {doc[k] if doc[k] not in (None, '') else '-'}", markup=False)
    for k in ("opened_at", "since", "resolved_at", "acked_at"):
        out.print(f"{k:>10}: {_when(doc[k])}")
    for n in doc["notifications"]:
        out.print(
            f"\n{_when(n['created_at'])} {n['kind']} via {n['route']}: {n['title']}", markup=False
        )
        if n["held"]:
            out.print(f"  held ({n['held']}): recorded, not sent", markup=False)
        for d in n["deliveries"]:
            extra = f" ({d['last_error']})" if d["last_error"] and d["state"] != "sent" else ""
            out.print(
                f"  {d['receiver']}: {d['state']} after {d['attempts']} attempt(s){extra}",
                markup=False,
            )


def _queue(store: AlertStore, op: str, args: dict[str, object], wait: float) -> None:
    cid = store.add_command(op, args, time.time())
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        result = store.command_result(cid)
        if result is not None:
            if result != "ok":
                err.print(result, markup=False)
                raise typer.Exit(1)
            out.print(f"{op}: done")
            return
        time.sleep(0.2)
    out.print(f"{op}: queued (command {cid}); the running service applies it on its next tick")


def _incident_command(
    op: str, ref: str, note: str, who: str | None, config: Path, wait: float,
    server: str | None, token_file: Path | None,
) -> None:  # fmt: skip
    """Queue ``op`` (ack | resolve) for the incident REF names, as WHO (default: you); with a
    server, through its API as the token's name."""
    client = connect(server, token_file)
    if client is not None:
        from urllib.parse import quote

        from threenines.core.client import ApiError, refused

        try:
            r = client.call("POST", f"/api/v1/alerts/{quote(ref, safe='')}/{op}",
                            params={"wait": min(wait, 30.0)}, json={"note": note})  # fmt: skip
        except ApiError as exc:
            if exc.status == 409:  # the service refused the command: its reason, as locally
                err.print(exc.detail, markup=False)
                raise typer.Exit(1) from None
            raise refused(exc) from None
        if r["status"] == "done":
            out.print(f"{op}: done")
        else:
            out.print(f"{op}: queued (command {r['command']}); the running service applies it "
                      "on its next tick")  # fmt: skip
        return
    _cfg, store = _store(config)
    row = store.incident(ref)
    target = row["uid"] if row is not None else ref
    _queue(store, op, {"incident": target, "who": who or getpass.getuser(), "note": note}, wait)


@app.command()
def ack(
    ref: str = RefArgument,
    note: str = NoteOption,
    by: str | None = ByOption,
    who: str | None = deprecated_alias("--who"),
    config: Path = ConfigOption,
    wait: float = WaitOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Acknowledge an incident: stops escalation and reminders."""
    _incident_command("ack", ref, note, by or who, config, wait, server, token_file)


@app.command()
def resolve(
    ref: str = RefArgument,
    note: str = NoteOption,
    by: str | None = ByOption,
    who: str | None = deprecated_alias("--who"),
    config: Path = ConfigOption,
    wait: float = WaitOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Resolve an incident by hand (it re-opens if the condition recurs)."""
    _incident_command("resolve", ref, note, by or who, config, wait, server, token_file)


@app.command()
def silence(
    match: list[str] = typer.Option(..., "--match", "-m", help="LABEL=GLOB, e.g. site=lib-*"),
    duration: str = typer.Option("2h", "--for", help="How long, e.g. 90m"),
    comment: str = typer.Option(..., "--comment"),
    by: str | None = ByOption,
    author: str | None = deprecated_alias("--author"),
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Silence matching alerts for a while: nothing pages, everything is still recorded."""
    from threenines.alerts.matching import SILENCE_LABELS
    from threenines.alerts.silencing import add_silence
    from threenines.core.durations import parse_duration

    client = connect(server, token_file)
    matchers: dict[str, str] = {}
    for m in match:
        label, sep, glob = m.partition("=")
        if not sep or label not in SILENCE_LABELS or not glob:
            err.print(f"bad matcher {m!r}: use LABEL=GLOB with LABEL in {sorted(SILENCE_LABELS)}")
            raise typer.Exit(2)
        matchers[label] = glob
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    if client is not None:  # the token's name is the author
        body = {"matchers": matchers, "duration": duration, "comment": comment}
        made = client.post("/api/v1/alerts/silences", body)
        out.print(f"silence {made['id']} until {_when(made['ends_at'])}")
        return
    _cfg, store = _store(config)
    who = by or author or getpass.getuser()
    s = add_silence(store, matchers, seconds, who, comment, time.time())
    out.print(f"silence {s.id} until {_when(s.ends_at)}")


@app.command()
def unsilence(
    uid: str = typer.Argument(..., help="Silence id"),
    config: Path = ConfigOption,
    by: str | None = ByOption,
    who: str | None = deprecated_alias("--who"),
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """End a silence now."""
    from urllib.parse import quote

    from threenines.alerts.silencing import remove_silence

    client = connect(server, token_file)
    if client is not None:
        client.delete(f"/api/v1/alerts/silences/{quote(uid, safe='')}")
        out.print(f"silence {uid} removed")
        return
    _cfg, store = _store(config)
    if not remove_silence(store, uid, by or who or getpass.getuser(), time.time()):
        err.print(f"no active silence {uid!r}")
        raise typer.Exit(1)
    out.print(f"silence {uid} removed")


@app.command()
def silences(
    config: Path = ConfigOption,
    all_: bool = typer.Option(False, "--all", "-a", help="Include ended ones"),
    as_json: bool = JsonOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Silences (active unless --all)."""
    client = connect(server, token_file)
    table = Table("id", "matchers", "until", "author", "comment")
    if client is not None:
        rows = client.get("/api/v1/alerts/silences", all=str(all_).lower())
    else:
        _cfg, store = _store(config)
        rows = store.silences(time.time(), include_expired=all_)
    if as_json:
        print_json(rows_json(rows))
        return
    for s in rows:
        matchers = " ".join(f"{k}={v}" for k, v in s["matchers"].items())
        table.add_row(s["uid"], matchers, _when(s["ends_at"]), s["author"], s["comment"])
    out.print(table if rows else "no silences")


@app.command()
def test(
    route: str = typer.Argument(..., help="Route name from alerts.routes"),
    by: str | None = ByOption,
    config: Path = ConfigOption,
    server: str | None = ServerOption,
    token_file: Path | None = TokenFileOption,
) -> None:
    """Send a test notification through ROUTE's receivers; exit 1 unless all confirm. With
    --server, the server sends it (an operator token), from where the alerts are sent."""
    import asyncio

    from threenines.alerts.sendtest import send_test

    client = connect(server, token_file)
    if client is not None:
        from urllib.parse import quote

        note_by(by)
        rows = client.post(f"/api/v1/alerts/test/{quote(route, safe='')}")
    else:
        cfg, store = _store(config)
        try:
            rows = asyncio.run(send_test(cfg, store.engine, route, who=by or getpass.getuser()))
        except ValueError as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(2) from None
    for d in rows:
        extra = f": {d['last_error']}" if d["state"] != "sent" and d["last_error"] else ""
        out.print(
            f"{d['receiver']}: {d['state']} ({d['attempts']} attempt(s)){extra}", markup=False
        )
    if not rows or any(d["state"] != "sent" for d in rows):
        raise typer.Exit(1)
