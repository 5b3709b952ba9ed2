"""The agent's own HTTP endpoint (``--listen``, off by default): ``/healthz`` and ``/metrics``.

``GET /healthz`` is the agent's word on itself, as JSON: its queue (depth, results held in
memory, age of the oldest undelivered result, why it cannot be written), delivery (the server
in use, age of the last acknowledged batch, whether it is failing), its clock (how results are
dated, the host's skew against the server's clock) and each supervised task
(``agents.supervise``). It answers 200 (``"status": "ok"``) unless the agent cannot do its job
by itself: the queue cannot be written, or a task died within ``DIED_RECENTLY`` seconds (then
503, ``"degraded"``, with the reasons in ``problems``). An unreachable server is not the
agent's fault: results stay queued, the answer stays 200 and says so.

``GET /metrics`` is the agent's Prometheus registry: the probe metrics of its scheduler
(``threenines.core.metrics``) and the agent's own gauges.

A small asyncio server speaking HTTP/1.1 through h11, one request per connection, on the
agent's event loop; it never blocks the probes (the state it reads is in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import h11
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from threenines.agents.runner import Agent

log = logging.getLogger("threenines.agent")
DIED_RECENTLY = 300.0  # seconds after a task's death during which /healthz says 503
MAX_SKEW = 10.0  # seconds: the server's default ``agents.max_clock_skew``
READ_TIMEOUT = 5.0
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def _age(since: float | None, now: float) -> float | None:
    return None if since is None else round(max(0.0, now - since), 3)


def health(agent: Agent) -> tuple[int, dict[str, Any]]:
    """The status code and body of ``/healthz`` for ``agent`` now."""
    st, mono, wall = agent.state(), time.monotonic(), time.time()
    clock = agent.client.clock
    skew = clock.skew()
    tasks = {
        name: {"state": t.state, "deaths": agent.supervisor.deaths.get(name, 0),
               "died_ago": _age(t.died_at, mono), "error": t.error}
        for name, t in agent.supervisor.tasks.items()
    }  # fmt: skip
    problems = []
    if st["queue_error"]:
        problems.append(f"the queue cannot be written: {st['queue_error']}")
    for name, t in agent.supervisor.tasks.items():
        if t.state == "restarting" or (t.died_at is not None and mono - t.died_at < DIED_RECENTLY):
            problems.append(f"the {name} task died: {t.error}")
    doc = {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "vantage": agent.vantage,
        "config": agent.version,
        "queue": {"depth": st["queue"], "memory": st["memory"],
                  "oldest_age": _age(st["oldest"], clock.date(wall)), "error": st["queue_error"],
                  "dropped": st["dropped"]},
        "delivery": {"server": agent.client.server, "failing": agent.delivery.failing,
                     "last_ok_age": _age(agent.delivery.last_ok, mono),
                     "delivered": agent.delivery.delivered, "refused": agent.delivery.refused,
                     "held": st["held"]},
        "clock": {"dating": st["clock"], "skew": None if skew is None else round(skew, 3),
                  "state": "unknown" if skew is None else
                           "skewed" if abs(skew) > MAX_SKEW else "ok"},
        "tasks": tasks,
    }  # fmt: skip
    return (503 if problems else 200), doc


class AgentCollector(Collector):
    """The agent's own gauges, read from its state at scrape time."""

    def __init__(self, agent: Agent):
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        code, doc = health(self.agent)
        q, d = doc["queue"], doc["delivery"]
        p = "threenines_agent_"
        yield _gauge(p + "up", "1 if the agent's /healthz says ok", 1 if code == 200 else 0)
        yield _gauge(p + "queue_results", "Results in the disk queue", q["depth"])
        yield _gauge(p + "memory_results", "Results held in memory (queue not writable)",
                     q["memory"])  # fmt: skip
        yield _gauge(p + "queue_oldest_age_seconds", "Age of the oldest undelivered result",
                     q["oldest_age"] or 0.0)  # fmt: skip
        yield _gauge(p + "queue_writable", "1 if the queue can be written",
                     0 if q["error"] else 1)  # fmt: skip
        yield CounterMetricFamily(p + "results_delivered", "Results delivered since the start",
                                  value=d["delivered"])  # fmt: skip
        if d["last_ok_age"] is not None:
            yield _gauge(
                p + "last_delivery_age_seconds",
                "Seconds since the server last acknowledged a batch",
                d["last_ok_age"],
            )
        if doc["clock"]["skew"] is not None:
            yield _gauge(p + "clock_skew_seconds", "This host's clock minus the server's",
                         doc["clock"]["skew"])  # fmt: skip
        deaths = CounterMetricFamily(p + "task_deaths", "Deaths of each supervised task",
                                     labels=["task"])  # fmt: skip
        for name, t in doc["tasks"].items():
            deaths.add_metric([name], t["deaths"])
        yield deaths


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class LocalEndpoint:
    """``/healthz`` and ``/metrics`` of ``agent`` on the bound socket ``sock``."""

    def __init__(self, agent: Agent, sock: socket.socket):
        self.agent, self.sock = agent, sock
        agent.metrics.registry.register(AgentCollector(agent))
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, sock=self.sock)
        log.info("health endpoint on http://%s/healthz", self.address)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)

    def answer(self, method: bytes, target: bytes) -> tuple[int, str, bytes]:
        path = target.split(b"?", 1)[0]
        if path not in (b"/healthz", b"/metrics"):
            return 404, "application/json", b'{"detail":"not found"}'
        if method not in (b"GET", b"HEAD"):
            return 405, "application/json", b'{"detail":"method not allowed"}'
        if path == b"/metrics":
            return 200, PROMETHEUS, generate_latest(self.agent.metrics.registry)
        code, doc = health(self.agent)
        return code, "application/json", json.dumps(doc).encode()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                event = await _request(conn, reader)
            if isinstance(event, h11.Request):
                code, ctype, body = self.answer(event.method, event.target)
                if event.method == b"HEAD":
                    body = b""
            else:
                code, ctype, body = 400, "application/json", b'{"detail":"bad request"}'
            headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
                       ("Connection", "close"), ("Cache-Control", "no-store")]  # fmt: skip
            if conn.our_state is h11.SEND_RESPONSE:
                data = conn.send(h11.Response(status_code=code, headers=headers))
                data += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
                writer.write(data)
                await writer.drain()
        except (TimeoutError, ConnectionError, h11.ProtocolError):
            pass
        finally:
            writer.close()


async def _request(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    """The request line and headers (a body, if any, is not read: no route takes one)."""
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return None
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(8192))
            continue
        return event
