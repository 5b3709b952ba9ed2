"""``threenines check``: run one probe now and print its result and phase timings."""

from __future__ import annotations

import json
import re

import typer
from rich.table import Table
from rich.text import Text

from threenines.core.cli import err, out
from threenines.core.results import ProbeResult, Status

# The probe registry's kinds, for --help without importing every probe module (httpx,
# dnspython, cryptography): tests/test_cli_help.py checks this matches probes.PROBES.
KINDS_HELP = "http, journey, browser, tcp, dns, icmp, tls, host"


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
    expect: str | None = typer.Option(
        None, "--expect", "-e", help="Regex: http body, or a tcp line, must match"
    ),
    not_expect: str | None = typer.Option(
        None, "--not-expect", help="Regex the body must not match"
    ),
    status: list[str] = typer.Option(
        [], "--status", help="Expected HTTP status (200, 2xx, 200-299)"
    ),
    header: list[str] = typer.Option([], "--header", "-H", help="'Name: value' to send (repeat)"),
    method: str | None = typer.Option(None, "--method", "-X", help="HTTP method"),
    data: str | None = typer.Option(
        None, "--data", "-d", help="HTTP body; for tcp, text to send (\\r\\n escapes)"
    ),
    ca_file: str | None = typer.Option(None, "--ca-file", help="PEM CA bundle to trust"),
    insecure: bool = typer.Option(False, "--insecure", "-k", help="Accept any certificate"),
    server_name: str | None = typer.Option(None, "--sni", help="TLS server name (SNI) to check"),
    min_tls: str | None = typer.Option(None, "--min-tls", help="TLSv1.2 or TLSv1.3"),
    cert: str | None = typer.Option(None, "--cert", help="Client certificate PEM (mTLS)"),
    key: str | None = typer.Option(None, "--key", help="Its key PEM (default: in --cert)"),
    tls: bool = typer.Option(False, "--tls", help="tcp: TLS from the first byte"),
    http2: bool = typer.Option(False, "--http2", help="Offer HTTP/2 by ALPN"),
    proxy: str | None = typer.Option(None, "--proxy", help="http://[user:pw@]HOST:PORT"),
    resolver: str | None = typer.Option(
        None, "--resolver", help="IP[:PORT] of the DNS server to ask instead of the system's"
    ),
    ip: str | None = typer.Option(None, "--ip", help="4 or 6: that address family only"),
) -> None:
    """Probe TARGET once and print the result with its phase timings.

    Exit status: 0 up, 1 degraded, 2 down (or bad arguments). The total is the target's: the
    process's own start-up (imports, the resolver thread, the TLS context) is done first.
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
    flags = {
        "expect": expect, "not_expect": not_expect, "status": status or None,
        "header": _headers(header) if header else None, "method": method, "data": data,
        "ca_file": ca_file, "insecure": insecure or None, "server_name": server_name,
        "min_tls": min_tls, "cert": cert, "key": key, "tls": tls or None,
        "http2": http2 or None, "proxy": proxy, "resolver": resolver, "ip": ip,
    }  # fmt: skip
    try:
        options = options_for(kind, {k: v for k, v in flags.items() if v is not None})
        cfg = (
            module.from_target(target, "adhoc", **options)
            if options
            else module.from_target(target, "adhoc")
        )
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
    result: ProbeResult = asyncio.run(_run(module, cfg, timeout))
    if as_json:
        print(json.dumps({"target": target, "type": kind, **result.to_dict()}, default=str))
    else:
        _print(target, kind, result)
    raise typer.Exit(EXIT_CODES[result.status])


# flag -> (kinds it applies to, the config field it sets)
_TLS_KINDS = ("http", "journey", "tcp", "tls")
_ADDR_KINDS = ("http", "journey", "tcp", "tls", "icmp")
FLAGS: dict[str, tuple[tuple[str, ...], str]] = {
    "expect": (("http", "tcp"), "body_regex"),
    "not_expect": (("http",), "body_not_regex"),
    "status": (("http",), "expect_status"),
    "header": (("http", "journey"), "headers"),
    "method": (("http",), "method"),
    "data": (("http", "tcp"), "body"),
    "ca_file": (_TLS_KINDS, "ca_file"),
    "insecure": (_TLS_KINDS, "verify"),
    "server_name": (_TLS_KINDS, "server_name"),
    "min_tls": (_TLS_KINDS, "min_version"),
    "cert": (("http", "journey", "tcp"), "client_cert"),
    "key": (("http", "journey", "tcp"), "client_key"),
    "tls": (("tcp",), "tls"),
    "http2": (("http", "journey"), "http2"),
    "proxy": (("http", "journey"), "proxy"),
    "resolver": ((*_ADDR_KINDS, "dns"), "resolver"),
    "ip": (_ADDR_KINDS, "ip_protocol"),
}
_TCP_FIELDS = {"body_regex": "expect", "body": "send"}


def options_for(kind: str, flags: dict[str, object]) -> dict[str, object]:
    """Config fields for ``kind`` from the flags given; ValueError names a flag that does not
    apply. Values are checked by the kind's own config model, like any configuration."""
    out: dict[str, object] = {}
    for flag, value in flags.items():
        kinds, field = FLAGS[flag]
        if kind not in kinds:
            name = "--" + flag.replace("_", "-")
            raise ValueError(f"{name} does not apply to {kind} (only to {', '.join(kinds)})")
        if kind == "tcp":
            field = _TCP_FIELDS.get(field, field)
            if field == "send" and isinstance(value, str):
                value = value.encode("latin-1", "backslashreplace").decode("unicode_escape")
        if flag == "insecure":
            value = False
        elif flag == "ip":
            if value not in ("4", "6"):
                raise ValueError("--ip takes 4 or 6")
            out["ip_protocol_fallback"] = False
            value = f"ipv{value}"
        elif flag == "resolver" and kind == "dns":
            from threenines.probes._connect import resolver_address

            address = resolver_address(str(value))
            assert address is not None
            value, out["port"] = address
        out[field] = value
    return out


def _headers(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--header {name.strip()!r}...: use 'Name: value'")
        out[name.strip()] = value.strip()
    return out


async def _run(module: object, cfg: object, timeout: float) -> ProbeResult:
    """Warm the process up, then probe: the result's total is the target's time.

    A first probe in a fresh process otherwise pays the resolver thread's start and its NSS
    set-up in ``dns``, and a TLS context's CA loading, none of which the target caused.
    """
    import asyncio
    import socket

    loop = asyncio.get_running_loop()
    "localhost".encode("idna")  # getaddrinfo encodes names so: its codec loads on first use
    await loop.run_in_executor(
        None, socket.getaddrinfo, "127.0.0.1", 0, 0, 0, 0, socket.AI_NUMERICHOST
    )
    make_context = getattr(cfg, "tls_context", None)
    if callable(make_context):
        from threenines.probes._httpclient import alpn_for

        make_context(alpn_for(cfg))
    result: ProbeResult = await module.probe(cfg, timeout=timeout)  # type: ignore[attr-defined]
    return result


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
