"""Every status code the OpenAPI document promises is one the route really answers (issue 18),
for a sample of routes (the new availability, maintenance, reports, tokens and users routes,
and an older failover one): each documented 2xx, 400, 401, 403, 404, 409, 413 and 422
is produced by a real request to the full app on SQLite (``api_support.served``); 503 is
``test_api_outage``'s. Also: the document is valid OpenAPI 3.1 (openapi-spec-validator), the
security schemes are declared and used, and /api/docs is served with no CDN.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_support import Api, openapi_document, served

from threenines.agents.tokens import TokenStore
from threenines.failover.ledger import Ledger

CODES = {"200", "201", "400", "401", "403", "404", "409", "413", "422"}
BIG = "x" * (70 * 1024)  # beyond the API's 64 KiB body limit


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("statuses")
    with served(f"sqlite:///{tmp}/api.db", tmp) as api:
        Ledger(api.ctx.engine, "test").create_run(time.time(), "main-to-mirror", "failover")
        yield api


Case = tuple[str, str, str | None, dict[str, Any], int]  # method, path, role, request, status


def _cases(api: Api) -> list[tuple[str, Case]]:
    """(the route's template, a request that must get ``status``)."""
    past = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 86400))
    m, a = "/api/v1/maintenance", "/api/v1/availability"
    return [
        (a, ("GET", a, "viewer", {"params": {"window": "1h"}}, 200)),
        (a, ("GET", a, None, {}, 401)),
        (a, ("GET", a, "agent", {}, 403)),
        (a, ("GET", a, "viewer", {"params": {"service": "nope"}}, 404)),
        (a, ("GET", a, "viewer", {"params": {"period": "2026-13"}}, 422)),
        (m, ("GET", m, "viewer", {"params": {"current": "true"}}, 200)),
        (m, ("GET", m, None, {}, 401)),
        (m, ("GET", m, "agent", {}, 403)),
        (m, ("GET", m, "viewer", {"params": {"current": "maybe"}}, 422)),
        (
            m,
            (
                "POST",
                m,
                "operator",
                {"json": {"name": "w", "start": "2031-01-01T00:00", "duration": "1h"}},
                201,
            ),
        ),
        (
            m,
            (
                "POST",
                m,
                "operator",
                {"json": {"name": "late", "start": past, "duration": "1h", "reason": "r"}},
                201,
            ),
        ),
        (
            m,
            (
                "POST",
                m,
                "operator",
                {"bad_length": True},
                400,
            ),
        ),
        (m, ("POST", m, None, {"json": {}}, 401)),
        (m, ("POST", m, "viewer", {"json": {}}, 403)),
        (
            m,
            (
                "POST",
                m,
                "operator",
                {
                    "json": {
                        "name": "w",
                        "start": "2031-01-01T00:00",
                        "duration": "1h",
                        "sites": ["nope"],
                    }
                },
                404,
            ),
        ),
        (
            m,
            ("POST", m, "operator", {"json": {"name": "w", "start": past, "duration": "1h"}}, 409),
        ),
        (m, ("POST", m, "operator", {"json": {"name": BIG}}, 413)),
        (
            m,
            (
                "POST",
                m,
                "operator",
                {"json": {"name": "w", "start": "soon", "duration": "1h"}},
                422,
            ),
        ),
        *_window_routes(),
        *_token_routes(TokenStore(api.ctx.engine).create("viewer", now=time.time())[0].id),
        *_user_routes(),
        *_report_routes(),
        ("/api/v1/failover/runs/{run_id}", ("GET", "/api/v1/failover/runs/1", "viewer", {}, 200)),
        ("/api/v1/failover/runs/{run_id}", ("GET", "/api/v1/failover/runs/7", "viewer", {}, 404)),
        ("/api/v1/failover/runs/{run_id}", ("GET", "/api/v1/failover/runs/0", "viewer", {}, 422)),
        ("/api/v1/failover/runs/{run_id}", ("GET", "/api/v1/failover/runs/7", None, {}, 401)),
        ("/api/v1/failover/runs/{run_id}", ("GET", "/api/v1/failover/runs/7", "agent", {}, 403)),
    ]


def _window_routes() -> list[tuple[str, Case]]:
    out: list[tuple[str, Case]] = []
    for op in ("change", "remove"):
        t = f"/api/v1/maintenance/{{window_id}}/{op}"
        body = {"reason": "why"} | ({"start": "2031-01-01T01:00", "duration": "1h"}
                                    if op == "change" else {})  # fmt: skip
        p = f"/api/v1/maintenance/1/{op}"
        out += [
            (t, ("POST", p, "operator", {"json": body}, 200)),
            (
                t,
                (
                    "POST",
                    p,
                    "operator",
                    {"bad_length": True},
                    400,
                ),
            ),
            (t, ("POST", p, None, {"json": body}, 401)),
            (t, ("POST", p, "viewer", {"json": body}, 403)),
            (t, ("POST", f"/api/v1/maintenance/99/{op}", "operator", {"json": body}, 404)),
            (t, ("POST", p, "operator", {"json": {"reason": BIG}}, 413)),
            (t, ("POST", "/api/v1/maintenance/0/" + op, "operator", {"json": body}, 422)),
        ]
    # window 1 is removed now: changing or removing it again is refused by the history's rules
    out.append(("/api/v1/maintenance/{window_id}/change",
                ("POST", "/api/v1/maintenance/1/change", "operator",
                 {"json": {"reason": "again", "start": "2031-01-01T01:00", "duration": "1h"}},
                 409)))  # fmt: skip
    out.append(("/api/v1/maintenance/{window_id}/remove",
                ("POST", "/api/v1/maintenance/1/remove", "operator",
                 {"json": {"reason": "again"}}, 409)))  # fmt: skip
    t = "/api/v1/maintenance/{record_id}/approve"
    out += [  # record 2 is the retroactive one; its author is the operator token
        (t, ("POST", "/api/v1/maintenance/2/approve", "operator", {"json": {}}, 403)),
        (t, ("POST", "/api/v1/maintenance/2/approve", "admin", {"json": {"note": "ok"}}, 200)),
        (t, ("POST", "/api/v1/maintenance/2/approve", "admin", {"json": {}}, 409)),
        (t, ("POST", "/api/v1/maintenance/99/approve", "admin", {"json": {}}, 404)),
        (t, ("POST", "/api/v1/maintenance/0/approve", "admin", {"json": {}}, 422)),
        (t, ("POST", "/api/v1/maintenance/2/approve", None, {"json": {}}, 401)),
        (
            t,
            (
                "POST",
                "/api/v1/maintenance/2/approve",
                "admin",
                {"bad_length": True},
                400,
            ),
        ),
        (t, ("POST", "/api/v1/maintenance/2/approve", "admin", {"json": {"note": BIG}}, 413)),
    ]
    return out


def _token_routes(tid: str) -> list[tuple[str, Case]]:
    t, d = "/api/v1/tokens", "/api/v1/tokens/{token_id}"
    return [
        (t, ("GET", t, "admin", {}, 200)),
        (t, ("GET", t, None, {}, 401)),
        (t, ("GET", t, "operator", {}, 403)),
        (t, ("POST", t, "admin", {"json": {"role": "viewer", "name": "n"}}, 201)),
        (t, ("POST", t, "admin", {"bad_length": True}, 400)),
        (t, ("POST", t, None, {"json": {"role": "viewer"}}, 401)),
        (t, ("POST", t, "operator", {"json": {"role": "viewer"}}, 403)),
        (t, ("POST", t, "admin", {"json": {"role": "viewer", "name": BIG}}, 413)),
        (t, ("POST", t, "admin", {"json": {"role": "god"}}, 422)),
        (t, ("POST", t, "admin", {"json": {"role": "agent", "vantage": "nowhere"}}, 422)),
        (d, ("DELETE", f"/api/v1/tokens/{tid}", "admin", {}, 200)),
        (d, ("DELETE", f"/api/v1/tokens/{tid}", "admin", {}, 404)),  # revoked already
        (d, ("DELETE", "/api/v1/tokens/nope", "admin", {}, 404)),
        (d, ("DELETE", "/api/v1/tokens/nope", None, {}, 401)),
        (d, ("DELETE", "/api/v1/tokens/nope", "viewer", {}, 403)),
        (d, ("DELETE", "/api/v1/tokens/%00", "admin", {}, 422)),
    ]


def _user_routes() -> list[tuple[str, Case]]:
    u, d = "/api/v1/users", "/api/v1/users/{name}/disable"
    alice = {"name": "alice", "role": "operator", "password": "correct horse battery"}
    return [
        (u, ("GET", u, "admin", {}, 200)),
        (u, ("GET", u, None, {}, 401)),
        (u, ("GET", u, "operator", {}, 403)),
        (u, ("POST", u, "admin", {"json": alice}, 201)),
        (u, ("POST", u, "admin", {"json": alice}, 409)),
        (
            u,
            (
                "POST",
                u,
                "admin",
                {"bad_length": True},
                400,
            ),
        ),
        (u, ("POST", u, None, {"json": alice}, 401)),
        (u, ("POST", u, "operator", {"json": alice}, 403)),
        (u, ("POST", u, "admin", {"json": {**alice, "password": BIG}}, 413)),
        (u, ("POST", u, "admin", {"json": {**alice, "name": "bob", "password": "short"}}, 422)),
        (d, ("POST", "/api/v1/users/alice/disable", "admin", {}, 200)),
        (d, ("POST", "/api/v1/users/alice/disable", "admin", {}, 404)),
        (d, ("POST", "/api/v1/users/alice/disable", None, {}, 401)),
        (d, ("POST", "/api/v1/users/alice/disable", "operator", {}, 403)),
        (d, ("POST", "/api/v1/users/%7F/disable", "admin", {}, 422)),
    ]


def _report_routes() -> list[tuple[str, Case]]:
    t = "/api/v1/reports/{period}"
    return [
        (t, ("GET", "/api/v1/reports/2026-10", "viewer", {"params": {"format": "csv"}}, 200)),
        (t, ("GET", "/api/v1/reports/2026-10", None, {}, 401)),
        (t, ("GET", "/api/v1/reports/2026-10", "agent", {}, 403)),
        (t, ("GET", "/api/v1/reports/2026-10", "viewer", {"params": {"site": "nope"}}, 404)),
        (t, ("GET", "/api/v1/reports/2026-13", "viewer", {}, 422)),
        (t, ("GET", "/api/v1/reports/2026-10", "viewer", {"params": {"format": "doc"}}, 422)),
    ]


def _bad_length(url: str, method: str, path: str, headers: dict[str, str]) -> int:
    """The status of a request whose Content-Length is not a number (the API's 400)."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Content-Length: 1x",
             "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = s.recv(200).decode(errors="replace")
    return int(head.split()[1])


def test_every_documented_status_of_the_sampled_routes_is_reached(api: Api) -> None:
    doc = openapi_document()["paths"]
    reached: dict[tuple[str, str], set[str]] = {}
    wrong = []
    with httpx.Client(base_url=api.url, timeout=30) as http:
        for template, (method, path, role, req, status) in _cases(api):
            headers = {**req.get("headers", {}), **(api.auth(role) if role else {})}
            if req.get("bad_length"):
                got = _bad_length(api.url, method, path, headers)
                reached.setdefault((method.lower(), template), set()).add(str(got))
                if got != status:
                    wrong.append(f"{method} {path} with a bad Content-Length: {got}")
                continue
            r = http.request(method, path, **{**req, "headers": headers})
            if r.status_code != status:
                wrong.append(f"{method} {path} as {role}: {r.status_code} (wanted {status}): "
                             f"{r.text[:200]}")  # fmt: skip
            reached.setdefault((method.lower(), template), set()).add(str(r.status_code))
            documented = doc[template][method.lower()]["responses"]
            assert str(r.status_code) in documented, (
                f"{method} {path}: {r.status_code} undocumented"
            )
    assert not wrong, "\n".join(wrong)
    missing = {
        f"{m.upper()} {t}": sorted((set(doc[t][m]["responses"]) & CODES) - got)
        for (m, t), got in reached.items()
    }
    assert {k: v for k, v in missing.items() if v} == {}


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises, naming the part, if the document breaks the OpenAPI schema


def test_security_schemes_declared_and_used() -> None:
    doc = openapi_document()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"]["in"] == "cookie" and schemes["session"]["name"] == "tn_session"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "401" in op["responses"]:
                assert {"bearer": []} in op["security"], (method, path)
                assert "403" in op["responses"] or path == "/api/v1/status", (method, path)
                # a console session authenticates reads, never writes (``core.deps``)
                session = {"session": []} in op["security"]
                assert session == (method in ("get", "head")), (method, path)
            else:
                assert op["security"] == [], (method, path)
    status = doc["paths"]["/api/v1/status"]["get"]["security"]
    assert status == [{"bearer": []}, {"session": []}, {}]


def test_api_docs_served_without_a_cdn(api: Api) -> None:
    page = httpx.get(f"{api.url}/api/docs", timeout=10)
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text.split("<body>")[0]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"):
        r = httpx.get(f"{api.url}/api/docs/static/{asset}", timeout=10)
        assert r.status_code == 200 and len(r.content) > 1000, asset
    assert httpx.get(f"{api.url}/openapi.json", timeout=10).json()["components"]["securitySchemes"]
