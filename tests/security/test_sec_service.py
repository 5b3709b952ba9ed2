"""The service extension: ``setup(ctx)`` registers metrics and a background task that records
findings until the service stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import generate_latest
from sec_servers import HttpServer

from threenines.app.config import parse_config
from threenines.app.db import migrate
from threenines.app.service import build_context
from threenines.security import service
from threenines.security.store import SecurityStore


async def test_setup_runs_posture_checks_and_exports_metrics(tmp_path: Path) -> None:
    web = HttpServer(b"ok", {})
    try:
        cfg = parse_config(f"""
storage: {{url: "sqlite:///{tmp_path}/svc.db"}}
security:
  posture_interval: 1h
  posture: [{{type: http, name: home, url: "http://127.0.0.1:{web.port}/"}}]
""")
        ctx = build_context(cfg)
        migrate(ctx.engine)
        service.setup(ctx)
        # singleton work: on an HA pair it runs on the active node only
        ((_name, factory),) = [t for t in ctx.singleton_tasks if t[0] == "security"]
        task = asyncio.create_task(factory())
        store = SecurityStore(ctx.engine)
        for _ in range(100):
            if store.find("open"):
                break
            await asyncio.sleep(0.05)
        ctx.stopping.set()
        await asyncio.wait_for(task, 10)
    finally:
        web.stop()
    assert len(store.find("open")) == 3
    text = generate_latest(ctx.metrics.registry).decode()
    line = 'threenines_security_findings_open{kind="http_header_missing",severity="minor"} 3.0'
    assert line in text


def test_nothing_configured_adds_no_task(tmp_path: Path) -> None:
    ctx = build_context(parse_config(f'storage: {{url: "sqlite:///{tmp_path}/x.db"}}\n'))
    service.setup(ctx)
    assert "security" not in [t[0] for t in [*ctx.tasks, *ctx.singleton_tasks]]
