"""The CLI, the HTTP API, metrics and the service extension, against a real database, a real
running AlertService and a real local json:// receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from alerts_receivers import JsonReceiver, json_receiver
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from typer.testing import CliRunner

from threenines.alerts import api as api
from threenines.alerts.extension import MaintenanceFeed, setup, windows_from
from threenines.alerts.metrics import register_metrics
from threenines.alerts.model import ConditionUpdate, Window
from threenines.alerts.service import AlertService
from threenines.app.cli import app
from threenines.app.config import Config, load_config
from threenines.app.db import make_engine, migrate
from threenines.availability.schedule import Exclusion
from threenines.core.deps import context


@pytest.fixture
def setup_cfg(tmp_path: Path) -> Iterator[tuple[Path, Config, JsonReceiver]]:
    with json_receiver() as j:
        path = tmp_path / "c.yaml"
        path.write_text(f"""
storage: {{url: "sqlite:///{tmp_path}/a.db"}}
sites: [{{name: hq}}]
services: [{{name: payroll, site: hq}}]
alerts:
  receivers: [{{name: hook, url: "{j.url("hook")}"}}]
  routes: [{{name: ops, receivers: [hook], group_wait: 0s}}]
""")
        cfg = load_config(path)
        migrate(make_engine(cfg.storage.url))
        yield path, cfg, j


def _down(at: float) -> ConditionUpdate:
    return ConditionUpdate(
        "service:payroll",
        "service",
        "down",
        at,
        site="hq",
        service="payroll",
        cause="http_status: 503",
    )


def test_cli_list_show_silence_ack_test(setup_cfg: tuple[Path, Config, JsonReceiver]) -> None:
    path, cfg, j = setup_cfg
    svc = AlertService(cfg, make_engine(cfg.storage.url))
    asyncio.run(svc.on_conditions([_down(time.time())]))
    run = CliRunner().invoke
    res = run(app, ["alerts", "list", "-c", str(path)])
    assert res.exit_code == 0 and "payroll" in res.output and "open" in res.output
    res = run(app, ["alerts", "show", "service:payroll", "-c", str(path)])
    assert res.exit_code == 0 and "http_status: 503" in res.output
    assert "hook: pending after 0 attempt(s)" in res.output
    res = run(
        app, ["alerts", "ack", "service:payroll", "-n", "looking", "--wait", "0.3", "-c", str(path)]
    )
    assert res.exit_code == 0 and "queued" in res.output  # no service running to apply it
    asyncio.run(svc.tick())  # the service applies the queued ack
    assert svc.store.incident("service:payroll")["status"] == "acknowledged"  # type: ignore[index]
    res = run(
        app,
        [
            "alerts",
            "silence",
            "-m",
            "site=hq",
            "--for",
            "1h",
            "--comment",
            "works",
            "-c",
            str(path),
        ],
    )
    assert res.exit_code == 0 and res.output.startswith("silence ")
    sid = res.output.split()[1]
    assert sid in run(app, ["alerts", "silences", "-c", str(path)]).output
    assert run(app, ["alerts", "unsilence", sid, "-c", str(path)]).exit_code == 0
    assert run(app, ["alerts", "unsilence", sid, "-c", str(path)]).exit_code == 1
    bad = run(app, ["alerts", "silence", "-m", "colour=red", "--comment", "x", "-c", str(path)])
    assert bad.exit_code == 2
    res = run(app, ["alerts", "test", "ops", "-c", str(path)])
    assert res.exit_code == 0 and "hook: sent (1 attempt(s))" in res.output
    assert (
        j.messages[-1]["title"] == "[TEST] test notification through route ops (no action needed)"
    )
    assert run(app, ["alerts", "test", "nope", "-c", str(path)]).exit_code == 2


async def test_api_with_operator_dependency(
    setup_cfg: tuple[Path, Config, JsonReceiver],
) -> None:
    _path, cfg, _j = setup_cfg
    engine = make_engine(cfg.storage.url)
    svc = AlertService(cfg, engine, tick=0.05)
    await svc.on_conditions([_down(time.time())])
    web = FastAPI()
    web.include_router(api.router)
    web.dependency_overrides[context] = lambda: SimpleNamespace(config=cfg, engine=engine)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    transport = httpx.ASGITransport(app=web)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            [row] = (await client.get("/api/v1/alerts")).json()
            assert (row["key"], row["status"]) == ("service:payroll", "open")
            denied = await client.post(f"/api/v1/alerts/{row['id']}/ack", json={"note": "x"})
            assert denied.status_code == 401  # no tokens yet: refused by default
            web.dependency_overrides[api.require_operator] = lambda: "carol"
            ok = await client.post(f"/api/v1/alerts/{row['id']}/ack", json={"note": "on it"})
            assert ok.status_code == 200 and ok.json()["status"] == "done"
            shown = (await client.get("/api/v1/alerts/service:payroll")).json()
            assert (shown["status"], shown["acked_by"]) == ("acknowledged", "carol")
            assert shown["notifications"][0]["title"] == "[FIRING] service payroll is down"
            again = await client.post("/api/v1/alerts/service:payroll/resolve", json={})
            assert again.json()["status"] == "done"
            conflict = await client.post("/api/v1/alerts/service:payroll/ack", json={})
            assert conflict.status_code == 409 and "already resolved" in conflict.json()["detail"]
            made = await client.post(
                "/api/v1/alerts/silences", json={"matchers": {"site": "hq"}, "comment": "swap"}
            )
            assert made.status_code == 201
            bad = await client.post(
                "/api/v1/alerts/silences", json={"matchers": {"colour": "x"}, "comment": "swap"}
            )
            assert bad.status_code == 422
            assert len((await client.get("/api/v1/alerts/silences")).json()) == 1
            gone = await client.delete(f"/api/v1/alerts/silences/{made.json()['id']}")
            assert gone.status_code == 200
            sent = await client.post("/api/v1/alerts/test/ops")
            assert [d["state"] for d in sent.json()] == ["sent"]
            assert (await client.get("/api/v1/alerts/nothing")).status_code == 404
    finally:
        stop.set()
        await task


def _scrape(registry: CollectorRegistry) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("threenines_alert") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def test_metrics_and_extension(setup_cfg: tuple[Path, Config, JsonReceiver]) -> None:
    _path, cfg, _j = setup_cfg
    engine = make_engine(cfg.storage.url)
    ctx: Any = SimpleNamespace(
        config=cfg,
        engine=engine,
        stopping=asyncio.Event(),
        flips=[],
        tasks=[],
        metrics=SimpleNamespace(registry=CollectorRegistry()),
        active=True,
    )
    ctx.subscribe_flips = lambda sub, singleton=False: ctx.flips.append((sub, singleton))
    ctx.add_task = lambda name, factory, singleton=False: ctx.tasks.append((name, singleton))
    ctx.on_reload = lambda hook: None
    svc = setup(ctx)
    assert svc is not None and ctx.flips == [(svc.on_flips, True)]
    assert ctx.tasks == [("alerts", True)]  # the active node's work only
    await svc.on_conditions([_down(time.time())])
    m = _scrape(ctx.metrics.registry)
    assert m['threenines_alerts_open{severity="major"}'] == 1
    assert m["threenines_alert_outbox_depth"] == 1
    await svc.sender.run_once()
    m = _scrape(ctx.metrics.registry)
    assert m["threenines_alert_outbox_depth"] == 0
    assert m['threenines_alert_notifications_total{outcome="sent"}'] == 1
    assert m['threenines_alert_process_notifications_total{outcome="sent"}'] == 1
    registry = CollectorRegistry()
    register_metrics(registry, engine)
    assert _scrape(registry)['threenines_alert_notifications_total{outcome="retried"}'] == 0


def test_maintenance_feed_scopes(setup_cfg: tuple[Path, Config, JsonReceiver]) -> None:
    _path, cfg, _j = setup_cfg
    assert windows_from([Exclusion(1, 2), Exclusion(3, 4, services=("a",), sites=("b",))]) == [
        Window(1, 2, "*"),
        Window(3, 4, "service:a"),
        Window(3, 4, "site:b"),
    ]
    feed = MaintenanceFeed(cfg, make_engine(cfg.storage.url))
    feed.refresh()
    assert feed(time.time()) == []


async def test_a_reloaded_config_reaches_the_alert_service(
    setup_cfg: tuple[Path, Config, JsonReceiver], tmp_path: Path
) -> None:
    """Reload (issue 18): a service and its check added to the config while running; before the
    reload its flips alert nobody (the service is unknown), after it they open its incident."""
    from threenines.core.results import Status
    from threenines.core.store import StateChange

    path, cfg, _j = setup_cfg
    engine = make_engine(cfg.storage.url)
    registry = SimpleNamespace(registry=CollectorRegistry())
    ctx: Any = SimpleNamespace(config=cfg, engine=engine, stopping=asyncio.Event(), reloads=[],
                               active=True, metrics=registry)  # fmt: skip
    ctx.subscribe_flips = lambda sub, singleton=False: None
    ctx.add_task = lambda name, factory, singleton=False: None
    ctx.on_reload = ctx.reloads.append
    svc = setup(ctx)
    assert svc is not None and len(ctx.reloads) == 1
    now = time.time()
    flip = StateChange("library/web", "central", now, Status.UP, Status.DOWN, "refused", "r")
    await svc.on_flips([flip])
    assert "service:library" not in svc.state.incidents
    text = path.read_text().replace(
        "services: [{name: payroll, site: hq}]",
        "services:\n  - {name: payroll, site: hq}\n  - name: library\n    site: hq\n"
        "    checks: [{name: web, type: tcp, host: 127.0.0.1, port: 9}]",
    )
    path.write_text(text)
    await ctx.reloads[0](load_config(path))
    assert svc.cfg.service("library") is not None
    await svc.on_flips([StateChange("library/web", "central", now + 1, Status.UP, Status.DOWN,
                                    "refused", "r")])  # fmt: skip
    assert "service:library" in svc.state.incidents
