"""Ingest, agent config and token checks against the real service on loopback."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx
import pytest
from agent_support import Listener, config_yaml, load, result, rows, service, tls_front, token

from threenines.agents.tokens import TokenStore
from threenines.core.db import make_engine


def _cfg(tmp: Path, port: int, extra: str = ""):
    checks = {"a": ["v1"], "b": ["v1", "v2"], "c": ["central"]}
    return load(config_yaml(tmp, port, checks, extra, interval="30s"))


def _auth(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


async def test_ingest_stores_through_the_writer_and_records_heartbeat(tmp_path: Path) -> None:
    async with Listener() as target, service(_cfg(tmp_path, target.port)) as (ctx, url):
        _, tok = token(ctx, "agent", "v1")
        now = time.time()
        body = {"vantage": "v1", "results": [result("web/a", now - 2), result("web/b", now - 1,
                status="down", error="refused", reason="connection refused")]}  # fmt: skip
        async with httpx.AsyncClient(base_url=url) as c:
            r = await c.post("/api/v1/ingest", json=body, headers=_auth(tok))
            assert r.status_code == 200, r.text
            assert r.json() == {"stored": 2, "rejected": 0}
            # acknowledged means stored: the rows are there now
            got = {(x[1], x[4]) for x in rows(tmp_path / "server.db", "v1")}
            assert got == {("web/a", "up"), ("web/b", "down")}
            _, viewer = token(ctx, "viewer")  # anonymous callers get the public view only
            st = (await c.get("/api/v1/status", headers=_auth(viewer))).json()
            metrics = (await c.get("/metrics")).text
        assert 'check="b",service="web",site="dc1",state="down",type="tcp",vantage="v1"' in (
            metrics
        )
        states = {(x["check"], x["vantage"]): x["state"] for x in st["checks"]}
        assert states[("b", "v1")] == "down" and states[("a", "v1")] == "up"
        assert {a["vantage"]: a["silent"] for a in st["agents"]} == {"v1": False, "v2": True}


async def test_a_batch_sent_again_is_acknowledged_and_stored_once(tmp_path: Path) -> None:
    """An agent killed after the server committed, before the reply, sends the batch again:
    200 again, one row per (check, vantage, ts); a batch that overlaps stores only its news."""
    async with Listener() as target, service(_cfg(tmp_path, target.port)) as (ctx, url):
        _, tok = token(ctx, "agent", "v1")
        now = time.time()
        first = [result("web/a", now - 3), result("web/a", now - 2)]
        async with httpx.AsyncClient(base_url=url) as c:
            for batch in (first, first, [*first, result("web/a", now - 1)]):
                body = {"vantage": "v1", "results": batch}
                r = await c.post("/api/v1/ingest", json=body, headers=_auth(tok))
                assert r.status_code == 200, r.text
    stamps = [x[3] for x in rows(tmp_path / "server.db", "v1")]
    assert sorted(stamps) == pytest.approx([now - 3, now - 2, now - 1])


async def test_agent_config_etag_secrets_and_vantage_binding(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TN_TEST_HDR", "s3cret-header")
    extra = """  - name: portal
    site: dc1
    checks:
      - {name: h, type: http, url: "http://127.0.0.1:1/", vantage: [v1],
         headers: {X-Key: "${TN_TEST_HDR}"}}
"""
    async with service(_cfg(tmp_path, 9, extra)) as (ctx, url):
        _, tok = token(ctx, "agent", "v1")
        async with httpx.AsyncClient(base_url=url, headers=_auth(tok)) as c:
            r = await c.get("/api/v1/agent/config", params={"vantage": "v1"})
            assert r.status_code == 200
            doc = r.json()
            names = [(s["name"], [x["config"]["name"] for x in s["checks"]])
                     for s in doc["services"]]  # fmt: skip
            assert names == [("web", ["a", "b"]), ("portal", ["h"])]
            http = doc["services"][1]["checks"][0]
            assert http["config"]["headers"] == {"X-Key": "s3cret-header"}
            assert http["secret_paths"] == [["headers", "X-Key"]]
            again = await c.get("/api/v1/agent/config", params={"vantage": "v1"},
                                headers={"If-None-Match": r.headers["etag"]})  # fmt: skip
            assert again.status_code == 304
            other = await c.get("/api/v1/agent/config", params={"vantage": "v2"})
            assert other.status_code == 403
            posted = await c.post("/api/v1/ingest", json={"vantage": "v2",
                                  "results": [result("web/b")]})  # fmt: skip
            assert posted.status_code == 403
    assert rows(tmp_path / "server.db", "v2") == []


async def test_wrong_and_revoked_tokens_are_401_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with service(_cfg(tmp_path, 9)) as (ctx, url):
        tid, tok = token(ctx, "agent", "v1")
        _, viewer = token(ctx, "viewer", name="auditor")
        body = {"vantage": "v1", "results": [result("web/a")]}
        async with httpx.AsyncClient(base_url=url) as c:
            wrong = "tn_" + "x" * 43
            assert (
                await c.post("/api/v1/ingest", json=body, headers=_auth(wrong))
            ).status_code == 401
            assert (await c.post("/api/v1/ingest", json=body)).status_code == 401
            assert (
                await c.post("/api/v1/ingest", json=body, headers=_auth(tok))
            ).status_code == 200
            assert TokenStore(ctx.engine).revoke(tid, now=time.time())
            r = await c.post("/api/v1/ingest", json=body, headers=_auth(tok))
            assert r.status_code == 401
            # roles: a viewer cannot post results nor acknowledge alerts; an agent cannot read
            assert (
                await c.post("/api/v1/ingest", json=body, headers=_auth(viewer))
            ).status_code == 403
            ack = await c.post("/api/v1/alerts/x/ack", json={"note": "n"}, headers=_auth(viewer))
            assert ack.status_code == 403
            assert (await c.get("/api/v1/alerts", headers=_auth(viewer))).status_code == 200
            assert (await c.get("/api/v1/alerts")).status_code == 401
            heard = (await c.get("/api/v1/agents", headers=_auth(viewer))).json()
            assert [(a["vantage"], a["silent"]) for a in heard] == [("v1", False), ("v2", True)]
            _, agent2 = token(ctx, "agent", "v2")
            assert (await c.get("/api/v1/alerts", headers=_auth(agent2))).status_code == 403
            _, op = token(ctx, "operator", name="duty-officer")
            ack = await c.post("/api/v1/alerts/nope/ack", json={}, headers=_auth(op))
            assert ack.status_code == 404  # authorised, and the incident does not exist
            sec = await c.post("/api/v1/security/baseline/1/accept", json={"reason": "ok"},
                               headers=_auth(viewer))  # fmt: skip
            assert sec.status_code == 403
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "401 POST /api/v1/ingest" in logged and f"revoked id={tid}" in logged
    for secret in (tok, wrong, viewer, agent2, op):
        assert secret not in logged and secret not in caplog.text
    assert len(rows(tmp_path / "server.db", "v1")) == 1


@pytest.mark.parametrize(
    ("mutate", "status", "needle"),
    [
        (lambda b: b["results"].append(result("web/c")), 400, "not assigned to vantage 'v1'"),
        (lambda b: b["results"].append(result("web/zz")), 400, "'web/zz' is not assigned"),
        (lambda b: b["results"].append(result("web/a", time.time() + 3600)), 425, "future"),
        (lambda b: b["results"][0].update(status="sideways"), 400, "results.0.status"),
        (lambda b: b["results"][0].update(ts="now"), 400, "results.0.ts"),
        (lambda b: b["results"][0].update(extra=1), 400, "results.0.extra"),
        (lambda b: b["results"][0].update(reason="x" * 3000), 400, "results.0.reason"),
        (lambda b: b["results"][0].update(details={"k": "x" * 20_000}), 400, "details"),
        (lambda b: b["results"].extend([result("web/a")] * 12_000), 413, "limit"),
        (lambda b: b.update(results=[]), 400, "results"),
    ],
)
async def test_malformed_or_oversized_batches_store_nothing(
    tmp_path: Path, mutate, status: int, needle: str
) -> None:
    async with service(_cfg(tmp_path, 9)) as (ctx, url):
        _, tok = token(ctx, "agent", "v1")
        body = {"vantage": "v1", "results": [result("web/a"), result("web/b")]}
        mutate(body)
        async with httpx.AsyncClient(base_url=url, headers=_auth(tok)) as c:
            r = await c.post("/api/v1/ingest", content=json.dumps(body))
            garbage = await c.post("/api/v1/ingest", content=b"{not json")
        assert r.status_code == status, r.text
        assert needle in r.text
        assert garbage.status_code == 400 and "malformed batch" in garbage.text
    assert rows(tmp_path / "server.db") == []


async def test_agent_client_over_https_with_a_ca_file(tmp_path: Path) -> None:
    from threenines.agents.sender import AgentClient, Outcome

    async with service(_cfg(tmp_path, 9)) as (ctx, url):
        _, tok = token(ctx, "agent", "v1")
        port = int(url.rsplit(":", 1)[1])
        async with tls_front(port, tmp_path) as (tls_port, ca_file):
            https = f"https://127.0.0.1:{tls_port}"
            trusted = AgentClient(https, "v1", tok, ca_file=str(ca_file))
            untrusted = AgentClient(https, "v1", tok)  # system CAs do not know the test CA
            try:
                got = await trusted.fetch_config()
                posted = await trusted.post([json.dumps(result("web/a"))])
                refused = await untrusted.post([json.dumps(result("web/a"))])
            finally:
                await trusted.close()
                await untrusted.close()
    assert got.status == 200 and got.doc is not None and got.etag
    assert posted.outcome is Outcome.OK
    assert refused.outcome is Outcome.RETRY and "unreachable" in refused.message
    assert len(rows(tmp_path / "server.db", "v1")) == 1


def test_token_cli_create_list_revoke(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from threenines.app.cli import app

    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, 9, {"a": ["v1"]}))
    run = CliRunner().invoke
    made = run(app, ["token", "create", "--role", "operator", "--name", "duty", "-c", str(cfg)])
    assert made.exit_code == 0, made.output
    plain = made.stdout.strip().splitlines()[-1]
    assert plain.startswith("tn_")
    bad = run(app, ["token", "create", "--role", "agent", "--vantage", "nope", "-c", str(cfg)])
    assert bad.exit_code == 2 and "not a vantage point" in bad.output
    unbound = run(app, ["token", "create", "--role", "agent", "-c", str(cfg)])
    assert unbound.exit_code == 2 and "must be bound" in unbound.output
    listed = run(app, ["token", "list", "-c", str(cfg)], terminal_width=200)
    assert "duty" in listed.output and "operator" in listed.output and plain not in listed.output
    tid = TokenStore(make_engine(f"sqlite:///{tmp_path}/server.db")).list()[0]["id"]
    assert run(app, ["token", "revoke", tid, "-c", str(cfg)]).exit_code == 0
    assert run(app, ["token", "revoke", tid, "-c", str(cfg)]).exit_code == 2  # as via --server
    for cmd in (["agent"], ["token"], ["token", "create"], ["token", "list"], ["token", "revoke"]):
        assert run(app, [*cmd, "--help"]).exit_code == 0, cmd
