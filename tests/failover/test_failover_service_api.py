"""Failover inside ``threenines run``: the extension's loop fails over on its own, its playbook
never stalls the event loop (the HTTP API keeps answering while Ansible runs), and the API
(`/api/v1/failover`) reads with a viewer token and approves or cancels with an operator token.

The real service (scheduler, writer, HTTP, the failover extension) on 127.0.0.1, a real HAProxy
with a runtime API socket, the real playbooks through ansible-runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from failover_helpers import SLOW_PLAYBOOK, FrontDoor, config_yaml, primary_down, start_front_door

from threenines.agents.tokens import TokenStore
from threenines.app.config import parse_config
from threenines.app.db import migrate
from threenines.app.service import build_context, serve
from threenines.core.service import bind
from threenines.failover import extension as failover_extension

PLAN = "main-to-mirror"
ON = ", vantage: [lib-grays, hub-tilbury, depot]"  # the service's own vantage runs no check


def test_the_extension_is_wired_into_the_service() -> None:
    from threenines.app.areas import AREAS

    assert [a.name for a in AREAS if a.setup].count("failover") == 1


def test_no_plans_add_no_task(tmp_path: Path) -> None:
    ctx = build_context(parse_config(f'storage: {{url: "sqlite:///{tmp_path}/x.db"}}\n'))
    assert failover_extension.setup(ctx) is None
    assert "failover" not in [name for name, _ in ctx.tasks + ctx.singleton_tasks]


@contextlib.asynccontextmanager
async def running(text: str) -> AsyncIterator[tuple[Any, str]]:
    """The real service with only the failover extension, on 127.0.0.1:<free>."""
    ctx = build_context(parse_config(text))
    migrate(ctx.engine)
    sock = bind("127.0.0.1:0")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    task = asyncio.create_task(serve(ctx, sock, extensions=[failover_extension.setup]))
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.02)
        yield ctx, url
    finally:
        ctx.stopping.set()
        await asyncio.wait_for(task, 30)


def tokens(ctx: Any) -> dict[str, dict[str, str]]:
    store = TokenStore(ctx.engine)
    out = {}
    for role in ("viewer", "operator"):
        plain = store.create(role, now=time.time(), name=f"{role}-alice")[1]
        out[role] = {"authorization": f"Bearer {plain}"}
    return out


async def until(what: str, cond: Any, limit: float = 60.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        value = await cond()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_approve_over_the_api_then_the_service_fails_over(
    front_door: FrontDoor, tmp_path: Path
) -> None:
    text = config_yaml(
        tmp_path, front_door, db_url=f"sqlite:///{tmp_path}/s.db", mode="approve", on=ON
    )
    async with running(text) as (ctx, url), httpx.AsyncClient(base_url=url, timeout=10) as c:
        auth = tokens(ctx)
        primary_down(ctx.engine, time.time())

        async def needs_approval() -> bool:
            plans = (await c.get("/api/v1/failover", headers=auth["viewer"])).json()
            return plans[0]["decision"]["reason"] == "needs_approval"

        await until("the decision to ask for approval", needs_approval)
        assert (await c.get("/api/v1/failover")).status_code == 401
        approve = f"/api/v1/failover/{PLAN}/approve"
        assert (await c.post(approve, json={"note": "x"})).status_code == 401
        assert (await c.post(approve, headers=auth["viewer"])).status_code == 403
        assert (
            await c.post(f"/api/v1/failover/{PLAN}/cancel", headers=auth["viewer"])
        ).status_code == 403
        assert (
            await c.post("/api/v1/failover/nope/approve", headers=auth["operator"])
        ).status_code == 404
        assert front_door.served_by() == "dc-main"  # nobody approved yet

        ok = await c.post(approve, json={"note": "bridge call 14:02"}, headers=auth["operator"])
        assert ok.status_code == 200, ok.text
        assert ok.json()["by"] == "api:operator-alice" and ok.json()["valid_for"] == 300

        async def done() -> list[dict[str, Any]]:
            runs = (await c.get("/api/v1/failover/history", headers=auth["viewer"])).json()
            return [r for r in runs if r["state"] != "running"]

        (run,) = await until("the service's failover run", done)
        assert run["state"] == "verified" and run["trigger"] == "approved", run
        assert front_door.served_by() == "dc-mirror"
        detail = (await c.get(f"/api/v1/failover/runs/{run['id']}", headers=auth["viewer"])).json()
        assert detail["stages"][0]["action"] == "started"
        assert detail["stages"][-1]["action"] == "verified"
        evs = await c.get(f"/api/v1/failover/runs/{run['id']}/events", headers=auth["viewer"])
        assert any(e["event"] == "playbook_on_play_start" for e in evs.json())
        later = await c.get(
            f"/api/v1/failover/runs/{run['id']}/events",
            params={"after": evs.json()[-1]["id"]},
            headers=auth["viewer"],
        )
        assert later.json() == []
        assert (await c.get("/api/v1/failover/runs/999", headers=auth["viewer"])).status_code == 404
        audit = [r.action for r in _orch(ctx).ledger.audit_rows(PLAN)]
        approved = next(r for r in _orch(ctx).ledger.audit_rows(PLAN) if r.action == "approved")
        assert "approved" in audit and approved.actor == "api:operator-alice"


async def test_a_running_playbook_never_stalls_the_service_and_is_cancelled(
    front_door: FrontDoor, tmp_path: Path
) -> None:
    text = config_yaml(
        tmp_path,
        front_door,
        db_url=f"sqlite:///{tmp_path}/s.db",
        playbook=str(SLOW_PLAYBOOK),
        on=ON,
    )
    async with running(text) as (ctx, url), httpx.AsyncClient(base_url=url, timeout=10) as c:
        auth = tokens(ctx)
        primary_down(ctx.engine, time.time())

        async def started() -> bool:
            return (tmp_path / "started").exists()

        await until("the slow playbook to start", started)
        # While ansible-playbook runs (its task sleeps 60 s), the event loop keeps serving:
        # every request below is answered by the same loop that runs the failover task.
        answered = 0
        for _ in range(10):
            r = await c.get("/healthz", timeout=2)
            answered += r.status_code == 200
            await asyncio.sleep(0.1)
        assert answered == 10
        running_now = (await c.get("/api/v1/failover", headers=auth["viewer"])).json()
        assert running_now[0]["last_run"]["state"] == "running"
        assert running_now[0]["lease"]["owner"].startswith("threenines@")

        cancel = await c.post(f"/api/v1/failover/{PLAN}/cancel", headers=auth["operator"])
        assert cancel.status_code == 200 and cancel.json()["canceled"], cancel.text

        async def canceled() -> list[dict[str, Any]]:
            runs = (await c.get("/api/v1/failover/history", headers=auth["viewer"])).json()
            return [r for r in runs if r["state"] == "canceled"]

        await until("the run to be cancelled", canceled, limit=30)
        actions = [r.action for r in _orch(ctx).ledger.audit_rows(PLAN)]
        assert "cancel" in actions and actions[-1] == "failed"
    assert front_door.served_by() == "dc-main"


def _orch(ctx: Any) -> Any:
    from threenines.failover.orchestrator import Orchestrator

    return Orchestrator(ctx.config, ctx.engine)


@pytest.fixture
def front_door(tmp_path: Path) -> Iterator[FrontDoor]:
    yield from start_front_door(tmp_path)


async def test_stopping_the_service_mid_run_stops_the_playbook_and_the_run_is_interrupted(
    front_door: FrontDoor, tmp_path: Path
) -> None:
    text = config_yaml(
        tmp_path,
        front_door,
        db_url=f"sqlite:///{tmp_path}/s.db",
        playbook=str(SLOW_PLAYBOOK),
        on=ON,
    )
    async with running(text) as (ctx, _url):
        primary_down(ctx.engine, time.time())

        async def started() -> bool:
            return (tmp_path / "started").exists()

        await until("the slow playbook to start", started)
        stopped = time.monotonic()
    # the service stopped without waiting for the 60 s task: the playbook was killed ...
    assert time.monotonic() - stopped < 30
    orch = _orch(ctx)
    (run,) = orch.ledger.run_rows(PLAN)
    assert run.state == "running"  # ... and nothing claims the run any more
    assert orch.recover() == [run.id]  # the next start marks it interrupted (and pages)
    assert orch.ledger.run(run.id).state == "interrupted"
    assert front_door.served_by() == "dc-main"
    await asyncio.sleep(1.0)  # the runner's thread polls its cancel flag twice a second
    left = [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path / "runs") in " ".join(
        p.info["cmdline"] or [])]  # fmt: skip
    assert not left, [p.info["cmdline"] for p in left]
