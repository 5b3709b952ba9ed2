"""``threenines agent``: run this vantage point's checks and send the results to the server."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from threenines.core.cli import err

if TYPE_CHECKING:
    from threenines.agents.status import AgentStatus
    from threenines.core.config import Config
    from threenines.core.queue import DiskQueue

app = typer.Typer(help="Run a remote vantage point (a probe agent) for a threenines server.")


def _token(token_file: Path | None, token_env: str | None) -> str:
    if (token_file is None) == (token_env is None):
        err.print("give exactly one of --token-file and --token-env", style="red")
        raise typer.Exit(2)
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            err.print(f"--token-file: cannot read {token_file}: {exc.strerror}", style="red")
            raise typer.Exit(2) from None
    else:
        assert token_env is not None
        token = os.environ.get(token_env, "").strip()
    if not token:
        err.print("the agent token is empty", style="red")
        raise typer.Exit(2)
    return token


def _duration(option: str, value: str) -> float:
    from threenines.core.durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        err.print(f"{option}: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None


@app.callback(invoke_without_command=True)
def agent(
    server: list[str] = typer.Option(
        ..., "--server",
        help="Server URL, e.g. https://tn.example:9339; repeat it (or separate with commas) "
        "for the nodes of an HA pair: the agent uses the first that answers",
    ),
    vantage: str = typer.Option(..., "--vantage", help="This agent's vantage point name"),
    token_file: Path | None = typer.Option(None, "--token-file", help="File holding the token"),
    token_env: str | None = typer.Option(None, "--token-env", help="Env var holding the token"),
    queue: Path | None = typer.Option(
        None, "--queue", help="Queue file (default data/agent-<vantage>.queue)"
    ),
    max_queue_age: str = typer.Option("24h", "--max-queue-age", help="Oldest result kept queued"),
    max_queue_items: int = typer.Option(5_000_000, "--max-queue-items", min=1000),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="CA bundle for an https server"),
    refresh: str = typer.Option("60s", "--refresh", help="How often to re-fetch the config"),
    timeout: str = typer.Option(
        "30s", "--timeout",
        help="How long to wait for a server (connecting and answering) before trying the next; "
        "a node across a cut link never refuses, it just does not answer",
    ),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, max=10_000),
    memory: int = typer.Option(
        100_000, "--max-memory-items", min=1000,
        help="Results held in memory while the queue cannot be written (disk full)",
    ),
    clock: str = typer.Option(
        "server", "--clock",
        help="Date results by the server's clock (server) or by this host's clock (host)",
    ),
    listen: str | None = typer.Option(
        None, "--listen",
        help="Serve the agent's own /healthz and /metrics on HOST:PORT, e.g. 127.0.0.1:9340 "
        "(off by default)",
    ),
) -> None:  # fmt: skip
    """Fetch the checks assigned to VANTAGE, run them, deliver results (queued on disk)."""
    import asyncio

    from threenines.agents.runner import Agent
    from threenines.agents.sender import AgentClient, server_urls
    from threenines.core.cli import composition

    root = composition().config_model
    token = _token(token_file, token_env)
    age, every = _duration("--max-queue-age", max_queue_age), _duration("--refresh", refresh)
    wait = _duration("--timeout", timeout)
    if ca_file is not None and not ca_file.is_file():
        err.print(f"--ca-file: {ca_file} is not a readable file", style="red")
        raise typer.Exit(2)
    if clock not in ("server", "host"):
        err.print(f"--clock: {clock!r} is neither server nor host", style="red", markup=False)
        raise typer.Exit(2)
    try:
        servers = server_urls(server)
    except ValueError as exc:
        err.print(f"--server: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    sock = _bind(listen) if listen is not None else None
    q = _open_queue(queue or Path(f"data/agent-{vantage}.queue"), age, max_queue_items)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        client = AgentClient(servers, vantage, token, ca_file=str(ca_file) if ca_file else None,
                             timeout=wait)  # fmt: skip
        client.clock.use_server = clock == "server"
        agent = Agent(client, q, root=root, refresh=every, batch_size=batch_size,
                      memory_limit=memory)  # fmt: skip
        endpoint = None
        if sock is not None:
            from threenines.agents.local import LocalEndpoint

            endpoint = LocalEndpoint(agent, sock)
            await endpoint.start()
        try:
            await agent.run(stop)
        finally:
            if endpoint is not None:
                await endpoint.close()
            await client.close()

    try:
        asyncio.run(main())
    finally:
        q.close()


def _bind(listen: str) -> socket.socket:
    """The ``--listen`` socket, bound now, or one line saying why it cannot be (exit 2)."""
    from threenines.core.service import bind

    try:
        return bind(listen)
    except (OSError, ValueError) as exc:
        err.print(f"--listen {listen}: {exc}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _open_queue(path: Path, age: float, items: int) -> DiskQueue:
    """The queue, or one line saying why it cannot be used (exit 2); then the agent's log."""
    from threenines.core.queue import DiskQueue, QueueError

    try:
        q = DiskQueue(path, max_age=age, max_items=items)
    except QueueError as exc:
        err.print(f"--queue: {exc}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines carry no token, but noise
    if len(q):
        logging.getLogger("threenines.agent").warning(
            "%d result(s) queued from before; delivering them first", len(q)
        )
    return q


def agents_table(agents: list[AgentStatus], cfg: Config, now: float) -> Table:
    """The agents' part of ``threenines status``: when each was last heard from, its clock
    against the server's, and its queue (depth, age of the oldest result, errors)."""
    table = Table(title="agents (remote vantage points)", title_justify="left")
    for col in ("vantage", "site", "state", "last heard", "address", "results", "clock", "queue"):
        table.add_column(col)
    for a in agents:
        when = (
            datetime.fromtimestamp(a.last_heard, cfg.tz).strftime("%Y-%m-%d %H:%M:%S")
            if a.last_heard
            else "never"
        )
        ago = f" ({_ago(now - a.last_heard)} ago)" if a.last_heard else ""
        table.add_row(a.vantage, a.site or "", _STATE[a.state], when + ago, a.address or "",
                      str(a.results), _clock(a), _queue(a, now))  # fmt: skip
    return table


_STATE = {
    "silent": "[bold red]silent[/]", "queue_error": "[bold red]queue error[/]",
    "clock_skewed": "[bold red]clock skewed[/]", "held": "[yellow]results held[/]",
    "ok": "[green]ok[/]",
}  # fmt: skip


def _ago(seconds: float) -> str:
    from threenines.core.durations import format_duration

    return format_duration(max(0, round(seconds)))


def _clock(a: AgentStatus) -> str:
    if a.clock_skew is None:
        return ""
    text = f"{a.clock_skew:+.1f}s"
    if a.clock_skewed:
        dated = "results dated by the server's clock" if a.clock == "server" else (
            "results carry its own clock")  # fmt: skip
        return f"[bold red]{text}[/] ({dated})"
    return text


def _queue(a: AgentStatus, now: float) -> str:
    if a.queue is None:
        return ""
    parts = [f"{a.queue} queued"]
    if a.queue_oldest is not None and a.queue:
        parts.append(f"oldest {_ago(now - a.queue_oldest)}")
    if a.memory:
        parts.append(f"{a.memory} in memory")
    if a.held:
        parts.append(f"[yellow]{a.held} held: dated in the server's future[/]")
    if a.dropped:
        parts.append(f"[red]{a.dropped} dropped[/]")
    if a.queue_error:
        parts.append(f"[bold red]{escape(a.queue_error)}[/]")
    return ", ".join(parts)
