"""The ``threenines security`` commands and the /api/v1/security routes, on a real store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sec_servers import HttpServer
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.app.config import load_config
from threenines.app.db import make_engine, migrate
from threenines.security import api as api
from threenines.security.findings import Finding, RunResult
from threenines.security.store import SecurityStore
from threenines.security.store_baselines import BaselineStore

runner = CliRunner()


@pytest.fixture
def web() -> HttpServer:
    server = HttpServer(b"<h1>Welcome</h1>", {})
    yield server
    server.stop()


@pytest.fixture
def cfg_file(tmp_path: Path, web: HttpServer) -> Path:
    path = tmp_path / "sec.yaml"
    path.write_text(f"""\
storage: {{url: "sqlite:///{tmp_path}/t.db"}}
sites: [{{name: dc-main, kind: datacentre}}]
security:
  sites: [{{site: dc-main, subnets: [198.19.0.0/24]}}]
  baselines: {{roles: {{server: "22,443"}}, hosts: {{198.19.0.10: "22"}}}}
  posture:
    - {{type: http, name: home, url: "http://127.0.0.1:{web.port}/", required_text: [Welcome]}}
""")
    return path


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_scan_findings_accept_resolve(cfg_file: Path) -> None:
    out = cli("security", "scan", "-c", str(cfg_file), "--part", "posture")
    assert "posture:home: 3 finding(s) (ok)" in out
    rows = json.loads(cli("security", "findings", "-c", str(cfg_file), "--json"))
    assert sorted(r["evidence"]["header"] for r in rows) == [
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "X-Frame-Options",
    ]
    fid = rows[0]["id"]
    cli(
        "security",
        "accept",
        str(fid),
        "-c",
        str(cfg_file),
        "--by",
        "alice",
        "--reason",
        "intranet page",
        "--until",
        "30d",
    )
    bad = runner.invoke(
        app,
        ["security", "accept", str(fid), "-c", str(cfg_file), "--by", "bob", "--reason", "again"],
    )
    assert bad.exit_code == 2 and "not open" in bad.output
    assert "accepted" in cli("security", "findings", "-c", str(cfg_file), "--status", "accepted")
    cli(
        "security",
        "resolve",
        str(rows[1]["id"]),
        "-c",
        str(cfg_file),
        "--by",
        "alice",
        "--reason",
        "fixed",
    )
    assert len(json.loads(cli("security", "findings", "-c", str(cfg_file), "--json"))) == 1


def test_baseline_show_accept_reject(cfg_file: Path) -> None:
    engine = make_engine(load_config(cfg_file).storage.url)
    migrate(engine)
    base = BaselineStore(engine)
    base.propose("198.19.0.10", "server", 23, "add", "port_opened/198.19.0.10/23", now=1)
    base.propose("198.19.0.10", "server", 3389, "add", "port_opened/198.19.0.10/3389", now=1)
    ids = {r["port"]: r["id"] for r in base.find("pending")}
    out = cli("security", "baseline", "show", "-c", str(cfg_file))
    assert "role server: 22,443" in out and "host 198.19.0.10: 22" in out and "3389" in out
    cli(
        "security",
        "baseline",
        "accept",
        str(ids[3389]),
        "-c",
        str(cfg_file),
        "--by",
        "alice",
        "--reason",
        "RDP gateway",
    )
    cli(
        "security",
        "baseline",
        "reject",
        str(ids[23]),
        "-c",
        str(cfg_file),
        "--by",
        "bob",
        "--reason",
        "telnet must go",
    )
    again = runner.invoke(
        app,
        [
            "security",
            "baseline",
            "reject",
            str(ids[23]),
            "-c",
            str(cfg_file),
            "--by",
            "bob",
            "--reason",
            "x",
        ],
    )
    assert again.exit_code == 2
    data = json.loads(
        cli("security", "baseline", "show", "-c", str(cfg_file), "--state", "all", "--json")
    )
    assert {(c["port"], c["state"], c["decided_by"]) for c in data["changes"]} == {
        (3389, "accepted", "alice"),
        (23, "rejected", "bob"),
    }
    assert base.allowed("198.19.0.10", {22}) == {22, 3389}


def test_help_on_every_command() -> None:
    for cmd in (
        ["security"],
        ["security", "findings"],
        ["security", "scan"],
        ["security", "accept"],
        ["security", "resolve"],
        ["security", "baseline"],
        ["security", "baseline", "show"],
        ["security", "baseline", "accept"],
        ["security", "baseline", "reject"],
    ):
        assert runner.invoke(app, [*cmd, "--help"]).exit_code == 0, cmd


def test_api_reads_openly_and_decisions_need_an_operator(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/api.db")
    migrate(engine)
    f = Finding.make("port_opened", "h/23", "critical", "exposure:x", "h:23", "telnet open")
    SecurityStore(engine).record(RunResult("exposure:x", [f]), now=time.time())
    BaselineStore(engine).propose("h", None, 23, "add", f.key, now=time.time())
    web = FastAPI()
    web.include_router(api.router)
    web.state.ctx = SimpleNamespace(engine=engine, config=load_config_empty())
    client = TestClient(web)
    rows = client.get("/api/v1/security/findings").json()
    assert [r["kind"] for r in rows] == ["port_opened"]
    change = client.get("/api/v1/security/baseline").json()["changes"][0]
    url = f"/api/v1/security/baseline/{change['id']}/accept"
    assert client.post(url, json={"reason": "ok"}).status_code == 401
    web.dependency_overrides[api.require_operator] = lambda: "alice"
    resp = client.post(url, json={"reason": "needed for the old switch"})
    assert resp.status_code == 200 and resp.json()["by"] == "alice"
    assert client.post(url, json={"reason": "twice"}).status_code == 409
    assert client.get(f"/api/v1/security/findings/{rows[0]['id']}").json()["status"] == "resolved"
    audit = SecurityStore(engine).audit_log()
    assert (audit[0]["actor"], audit[0]["action"]) == ("alice", "baseline_accepted")
    summary = client.get("/api/v1/security/summary", params={"start": 0}).json()
    assert (summary["opened"], summary["resolved"], summary["open_critical"]) == (1, 1, 0)


def load_config_empty():
    from threenines.app.config import parse_config

    return parse_config("organisation: test\n")
