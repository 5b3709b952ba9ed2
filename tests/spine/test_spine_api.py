"""The HTTP app in-process: /metrics, /healthz, /api/v1/status, and the extension seam."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from spine_support import rec, tcp_config

from threenines.agents.tokens import TokenStore
from threenines.app.api import create_app
from threenines.app.db import migrate
from threenines.app.service import build_context
from threenines.core.metrics import CheckLabels
from threenines.core.results import ProbeResult, Status


def _ctx(tmp_path: Path, db: str = "api.db"):
    cfg = tcp_config(
        [{"name": "ok", "host": "127.0.0.1", "port": 9}, {"name": "bad", "host": "127.0.0.1",
                                                          "port": 9}],
        storage={"url": f"sqlite:///{tmp_path}/{db}", "spool": str(tmp_path / "spool.jsonl")},
    )  # fmt: skip
    return build_context(cfg)


async def _get(ctx, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_metrics_health_and_status(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    migrate(ctx.engine)
    ctx.store.write_batch([rec("web/ok", 1e12), rec("web/bad", 1e12, Status.DOWN)])
    ctx.metrics.observe(
        CheckLabels("web", "dc1", "ok", "central", "tcp"),
        ProbeResult.up(0.02, phases={"connect": 0.01}),
    )
    metrics = await _get(ctx, "/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    labels = 'service="web",site="dc1",type="tcp",vantage="central"'
    assert f'threenines_check_up{{check="ok",{labels}}} 1.0' in metrics.text
    state = 'service="web",site="dc1",state="unknown",type="tcp",vantage="central"'
    assert f'threenines_check_state{{check="bad",{state}}} 1.0' in metrics.text
    health = (await _get(ctx, "/healthz")).json()
    assert (health["status"], health["database"], health["checks"]) == ("ok", "up", 2)
    _, viewer = TokenStore(ctx.engine).create("viewer", now=time.time())  # anonymous: public view
    auth = {"Authorization": f"Bearer {viewer}"}
    status = (await _get(ctx, "/api/v1/status", auth)).json()["checks"]
    assert [(c["check"], c["state"], c["since"]) for c in status] == [
        ("ok", "up", 1e12),
        ("bad", "down", 1e12),
    ]
    ctx.engine.dispose()


async def test_status_without_schema_is_503(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "empty.db")
    resp = await _get(ctx, "/api/v1/status")
    assert resp.status_code == 503
    assert resp.json()["detail"].startswith("database unavailable")
    ctx.engine.dispose()


async def test_extensions_plug_in_without_globals(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    seen: list = []
    ctx.subscribe_flips(seen.extend)
    ctx.add_task("noop", _noop)
    await ctx.writer.prepare()
    ctx.writer.submit(rec("web/ok", 100))
    assert await ctx.writer.flush()
    assert [(f.check_id, f.new) for f in seen] == [("web/ok", "up")]
    assert [name for name, _ in ctx.tasks] == ["noop"]
    assert [name for name, _ in ctx.singleton_tasks] == ["retention"]  # the active node's
    ctx.engine.dispose()


async def _noop() -> None:
    return None
