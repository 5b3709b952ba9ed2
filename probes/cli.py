"""``threenines check``: run one probe now and print its result and phase timings."""

from __future__ import annotations

import json
import re

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from threenines.core.results import ProbeResult, Status

# The probe registry's kinds, for --help without importing every probe module (httpx,
# dnspython, cryptography): tests/test_cli_help.py checks this matches probes.PROBES.
KINDS_HELP = "http, journey, tcp, dns, icmp, tls, host"

out = Console()
err = Console(stderr=True)

_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:/\s]+):\d{1,5}$")
_STYLE = {Status.UP: "green", Status.DEGRADED: "yellow", Status.DOWN: "red"}
EXIT_CODES = {Status.UP: 0, Status.DEGRADED: 1, Status.DOWN: 2, Status.UNKNOWN: 3}


def guess_type(target: str) -> str:
    """http(s)://... -> http; HOST:PORT -> tcp; anything else -> icmp."""
    if target.lower().startswith(("http://", "https://")):
        return "http"
    if _HOST_PORT.match(target):
        return "tcp"
    return "icmp"


def check(
    target: str = typer.Argument(
        ...,
        help="URL, HOST or HOST:PORT; for dns NAME, NAME/TYPE, NAME/TYPE@RESOLVER:PORT",
        show_default=False,
    ),
    kind: str | None = typer.Option(
        None,
        "--type",
        "-t",
        help=f"Probe kind: {KINDS_HELP} (default: http for URLs, tcp for HOST:PORT, else icmp)",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
    timeout: float = typer.Option(10.0, "--timeout", min=0.01, help="Deadline in seconds"),
) -> None:
    """Probe TARGET once and print the result with its phase timings.

    Exit status: 0 up, 1 degraded, 2 down (or bad arguments).
    """
    import asyncio

    from pydantic import ValidationError

    from threenines.core.cli import composition

    kinds = composition().kinds()  # every area's check kinds (host is the collectors')
    kind = kind or guess_type(target)
    module = kinds.get(kind)
    if module is None:
        err.print(f"unknown probe type {kind!r} (one of: {', '.join(kinds)})", markup=False)
        raise typer.Exit(2)
    try:
        cfg = module.from_target(target, "adhoc")
    except ValidationError as exc:
        for e in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in e["loc"] if p != kind)
            msg = e["msg"].removeprefix("Value error, ")
            err.print(
                f"cannot probe {target!r} as {kind}: {where}: {msg}", markup=False, soft_wrap=True
            )
        raise typer.Exit(2) from None
    except ValueError as exc:
        err.print(f"cannot probe {target!r} as {kind}: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    result: ProbeResult = asyncio.run(module.probe(cfg, timeout=timeout))
    if as_json:
        print(json.dumps({"target": target, "type": kind, **result.to_dict()}, default=str))
    else:
        _print(target, kind, result)
    raise typer.Exit(EXIT_CODES[result.status])


def _print(target: str, kind: str, result: ProbeResult) -> None:
    style = _STYLE.get(result.status, "white")
    head = f"[{style} bold]{result.status.value.upper()}[/]  {kind} {target}"
    out.print(head + (f"  [{style}]{result.error}[/]" if result.error else ""), highlight=False)
    out.print(f"  {result.reason}", markup=False, highlight=False)
    phases = Table(title="phases", title_justify="left", show_edge=False)
    phases.add_column("phase")
    phases.add_column("ms", justify="right")
    rows = dict(result.phases)
    rows["total"] = rows.pop("total", result.duration)  # always last, always present
    for name, seconds in rows.items():
        phases.add_row(
            Text(name), f"{seconds * 1000:.2f}", style="bold" if name == "total" else None
        )
    out.print(phases)
    if result.details:
        details = Table(title="details", title_justify="left", show_edge=False)
        details.add_column("key")
        details.add_column("value", overflow="fold")
        for key, value in result.details.items():
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            details.add_row(Text(key), Text(shown))
        out.print(details)


def register(app: typer.Typer) -> None:
    app.command()(check)
