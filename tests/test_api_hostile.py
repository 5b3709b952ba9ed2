"""Hostile input against the full API (every area's routes), on SQLite and on PostgreSQL: no
request is answered with a 5xx, none hangs, no traceback or echoed input comes back.

The rule for ids (``threenines.core.deps.RowId``): an id is 1 to 2**63-1 (a signed 64-bit
integer, what both databases store); a well-formed id that names no row is 404, anything else
(out of range, not a number) is 422. Names and references in paths and queries are 1 to 200
characters without control characters; free text in bodies has no NUL; numbers are finite; every
body is bounded (413). Ingest refuses a batch holding a result it could never store (a number
that is not finite) with 400, naming the result, before anything is stored or acknowledged; a
NUL in a result's text is kept as U+FFFD rather than cost the measurement.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import Api, openapi_document, served

from threenines.core.deps import ROW_ID_MAX

BIG = ROW_ID_MAX + 1
ID_ROUTES = [
    ("GET", "/api/v1/failover/runs/{}", None),
    ("GET", "/api/v1/failover/runs/{}/events", None),
    ("GET", "/api/v1/security/findings/{}", None),
    ("POST", "/api/v1/security/findings/{}/accept", {"reason": "known"}),
    ("POST", "/api/v1/security/findings/{}/resolve", {"reason": "fixed"}),
    ("POST", "/api/v1/security/baseline/{}/accept", {"reason": "known"}),
    ("POST", "/api/v1/security/baseline/{}/reject", {"reason": "no"}),
    ("GET", "/api/v1/alerts/{}", None),
    ("POST", "/api/v1/alerts/{}/ack", {"note": "n"}),
    ("POST", "/api/v1/alerts/{}/resolve", {"note": "n"}),
]


def _mismatches(c: httpx.Client, cases: list[tuple[str, str, Any, int]]) -> list[str]:
    """Send each (method, path, json body, expected status); describe every miss."""
    out = []
    for method, path, body, want in cases:
        r = c.request(method, path, json=body)
        if r.status_code != want:
            out.append(f"{method} {path} -> {r.status_code} (want {want}): {r.text[:200]}")
        elif want == 422 and "input" in json.dumps(r.json()):
            out.append(f"{method} {path}: the 422 echoes the input back: {r.text[:200]}")
    return out


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Any:
    with served(db_url, tmp_path) as api:
        yield api


def test_ids_out_of_range_or_malformed_are_422_and_absent_ones_404(api: Api) -> None:
    cases = []
    for method, template, body in ID_ROUTES:
        cases.append((method, template.format(ROW_ID_MAX), body, 404))
        for bad in (BIG, 2**70, 10**30, 0, -1, "abc", "1.5", "%C2%B2"):
            # an alert ref is an id only if made of digits; else a uid or a dedup key
            name = "/alerts/" in template and bad in (-1, "abc", "1.5")
            cases.append((method, template.format(bad), body, 404 if name else 422))
    with httpx.Client(base_url=api.url, headers=api.auth("admin"), timeout=30) as c:
        assert _mismatches(c, cases) == []


def test_names_numbers_and_limits_out_of_range_are_422(api: Api) -> None:
    bad_text = ["a%00b", "%0A", "x" * 201, ""]
    cases: list[tuple[str, str, Any, int]] = []
    for text in bad_text:
        cases += [
            ("GET", f"/api/v1/alerts?status={text}", None, 422),
            ("GET", f"/api/v1/security/findings?kind={text}", None, 422),
            ("GET", f"/api/v1/security/findings?severity={text}", None, 422),
            ("GET", f"/api/v1/security/baseline?state={text}", None, 422),
            ("GET", f"/api/v1/failover/history?plan={text}", None, 422),
        ]
        if text:  # an empty path segment is another route (or none): 404/405, not a name
            cases += [
                ("GET", f"/api/v1/alerts/{text}", None, 422),
                ("DELETE", f"/api/v1/alerts/silences/{text}", None, 422),
                ("POST", f"/api/v1/alerts/test/{text}", None, 422),
                ("POST", f"/api/v1/failover/{text}/approve", None, 422),
                ("POST", f"/api/v1/failover/{text}/cancel", None, 422),
            ]
    for n in (-1, 0, 10**30):
        cases += [
            ("GET", f"/api/v1/alerts?limit={n}", None, 422),
            ("GET", f"/api/v1/security/findings?limit={n}", None, 422),
            ("GET", f"/api/v1/failover/history?limit={n}", None, 422),
        ]
    for after in (-1, BIG):
        cases.append(("GET", f"/api/v1/failover/runs/1/events?after={after}", None, 422))
    for x in ("nan", "inf", "-inf", "-1", "1e300"):
        cases += [
            ("GET", f"/api/v1/security/summary?start={x}", None, 422),
            ("GET", f"/api/v1/security/summary?start=0&end={x}", None, 422),
            ("POST", f"/api/v1/alerts/x/ack?wait={x}", {}, 422),
        ]
    cases += [
        ("GET", "/api/v1/alerts?limit=5000", None, 200),
        ("GET", "/api/v1/failover/runs/1/events?after=0", None, 404),
        ("GET", "/api/v1/security/summary?start=0&end=253402300799", None, 200),
        ("POST", "/api/v1/alerts/x/ack?wait=30", {}, 404),
        ("POST", "/api/v1/alerts/x/ack?wait=31", {}, 422),
    ]
    with httpx.Client(base_url=api.url, headers=api.auth("admin"), timeout=30) as c:
        assert _mismatches(c, cases) == []
    with httpx.Client(base_url=api.url, headers=api.auth("agent"), timeout=30) as c:
        r = c.get("/api/v1/agent/config", params={"vantage": "v\x001"})
        assert r.status_code == 422, r.text


def _raw(c: httpx.Client, path: str, text: str) -> httpx.Response:
    return c.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


BODY_ROUTES = [
    ("/api/v1/alerts/x/ack", "note", {}),
    ("/api/v1/alerts/x/resolve", "note", {}),
    ("/api/v1/failover/nope/approve", "note", {}),
    ("/api/v1/security/findings/1/accept", "reason", {}),
    ("/api/v1/security/findings/1/resolve", "reason", {}),
    ("/api/v1/security/baseline/1/accept", "reason", {}),
    ("/api/v1/alerts/silences", "comment", {"matchers": {"service": "web"}}),
]


def test_bodies_are_bounded_and_their_text_checked(api: Api) -> None:
    bad = []
    with httpx.Client(base_url=api.url, headers=api.auth("admin"), timeout=30) as c:
        for path, field, rest in BODY_ROUTES:
            for text, want in [
                ('"\\ud800"', 422),  # a lone surrogate: no database can store it
                ('"a\\u0000b"', 422),  # NUL: PostgreSQL refuses it in text
                (json.dumps("x" * 2001), 422),
            ]:
                others = json.dumps(rest)[1:-1]
                r = _raw(c, path, "{" + (others + ", " if others else "") + f'"{field}": {text}}}')
                if r.status_code != want or "input" in r.text:
                    bad.append(f"{path} {field}={text[:20]} -> {r.status_code}: {r.text[:200]}")
            huge = json.dumps({**rest, field: "x" * 70_000})
            r = _raw(c, path, huge)
            if r.status_code != 413:
                bad.append(f"{path} with a 70 kB body -> {r.status_code}: {r.text[:200]}")
            chunks = (b"x" * 8192 for _ in range(10))  # no Content-Length: counted as it comes
            r = c.post(path, content=chunks, headers={"Content-Type": "application/json"})
            if r.status_code != 413:
                bad.append(f"{path} with a chunked 80 kB body -> {r.status_code}")
        for until in ("NaN", "Infinity", "-1", "1e300"):
            r = _raw(
                c, "/api/v1/security/findings/1/accept", f'{{"reason": "r", "until": {until}}}'
            )
            if r.status_code != 422:
                bad.append(f"accept until={until} -> {r.status_code}: {r.text[:200]}")
        for matchers, duration in [({"service": "a\x00"}, "2h"), ({"service": "x" * 201}, "2h"),
                                   ({"service": "web"}, "9" * 30 + "d"),
                                   ({"service": "web"}, "1" * 40 + "s")]:  # fmt: skip
            body = {"matchers": matchers, "duration": duration, "comment": "c"}
            r = c.post("/api/v1/alerts/silences", json=body)
            if r.status_code != 422:
                bad.append(f"silence {matchers} for {duration[:10]} -> {r.status_code}: {r.text}")
    assert bad == []


def _result(check: str, **kw: Any) -> dict[str, Any]:
    base = {"check_id": check, "ts": time.time() - 1, "status": "up", "error": None,
            "reason": "ok", "duration": 0.01, "attempts": 1, "phases": {"connect": 0.001},
            "details": {}}  # fmt: skip
    return {**base, **kw}


POISON = [  # (what, the bad result's field as JSON text, a word the refusal names)
    ("phases NaN", '"phases": {"connect": NaN}', "phases.connect"),
    ("phases Infinity", '"phases": {"connect": Infinity}', "phases.connect"),
    ("details -Infinity", '"details": {"a": {"b": [1, -Infinity]}}', "finite"),
    ("details NaN", '"details": {"x": NaN}', "finite"),
]
UNREADABLE = [  # the body itself is not JSON any database could hold: the whole batch is refused
    ("reason lone surrogate", '"reason": "\\udc00"'),
    ("details nested 300 deep", '"details": {"d": ' + "[" * 300 + "]" * 300 + "}"),
]


def _batch(field: str) -> str:
    """A batch of a good result and one whose ``field`` (raw JSON text) replaces its own."""
    key = field.split(":", 1)[0]
    bad = json.dumps({k: v for k, v in _result("web/b").items() if f'"{k}"' != key})
    return (
        f'{{"vantage": "v1", "results": [{json.dumps(_result("web/a"))}, {bad[:-1]}, {field}}}]}}'
    )


def _stored(api: Api) -> int:
    import sqlalchemy as sa

    with api.ctx.engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from results")).scalar_one())


@pytest.mark.parametrize(("name", "field", "needle"), POISON, ids=[p[0] for p in POISON])
def test_ingest_refuses_a_result_it_could_never_store_with_400_and_stores_nothing(
    api: Api, name: str, field: str, needle: str
) -> None:
    with httpx.Client(base_url=api.url, headers=api.auth("agent"), timeout=30) as c:
        r = c.post("/api/v1/ingest", content=_batch(field),
                   headers={"Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 400, r.text
        refused = r.json()["rejected"]
        assert [x["index"] for x in refused] == [1] and needle in refused[0]["reason"], r.text
        assert _stored(api) == 0
        for what, text in UNREADABLE:
            r = c.post("/api/v1/ingest", content=_batch(text),
                       headers={"Content-Type": "application/json"})  # fmt: skip
            assert r.status_code == 400 and "malformed batch" in r.text, (what, r.text)
            assert r.json()["rejected"] == [], what
        assert _stored(api) == 0
        ok = c.post("/api/v1/ingest", json={"vantage": "v1", "results": [_result("web/b")]})
        assert ok.status_code == 200 and ok.json() == {"stored": 1, "rejected": 0}, ok.text
    assert _stored(api) == 1


def test_ingest_keeps_a_result_whose_text_has_a_nul_as_u_fffd(api: Api) -> None:
    import sqlalchemy as sa

    body = {"vantage": "v1", "results": [_result("web/a", reason="a\x00b", error="x\x00")]}
    with httpx.Client(base_url=api.url, headers=api.auth("agent"), timeout=30) as c:
        r = c.post("/api/v1/ingest", json=body)
        assert r.status_code == 200 and r.json() == {"stored": 1, "rejected": 0}, r.text
    with api.ctx.engine.connect() as conn:
        row = conn.execute(sa.text("select reason, error from results")).one()
    assert tuple(row) == ("a\ufffdb", "x\ufffd")


def test_ingest_body_limit_is_the_configured_one(api: Api) -> None:
    limit = 1024 * 1024  # agents.max_body's default
    big = {"vantage": "v1", "results": [_result("web/a", reason="x" * 1900)] * 600}
    with httpx.Client(base_url=api.url, headers=api.auth("agent"), timeout=30) as c:
        r = c.post("/api/v1/ingest", json=big)
        assert r.status_code == 413 and f"{limit}-byte limit" in r.text, r.text
        ok = c.post("/api/v1/ingest", json={**big, "results": big["results"][:300]})
        assert ok.status_code == 200, ok.text[:300]


async def test_the_agent_drops_only_the_unstorable_result_and_says_so(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from threenines.agents.delivery import Delivery
    from threenines.agents.sender import AgentClient
    from threenines.core.queue import DiskQueue

    with served(db_url, tmp_path) as api:
        queue = DiskQueue(tmp_path / "agent" / "queue.db")
        now = time.time()
        queue.put([  # JSON as the agent's queue writes it: NaN, and "\\udc00" for the surrogate
            _result("web/a", ts=now - 5),
            _result("web/b", ts=now - 4, phases={"connect": float("nan")}),
            _result("web/b", ts=now - 3),
            _result("web/a", ts=now - 2, reason="bytes \udc00 decoded with surrogateescape"),
            _result("web/b", ts=now - 1),
        ], now)  # fmt: skip
        client = AgentClient(api.url, "v1", api.tokens["agent"])
        delivery = Delivery(queue, client)
        try:
            assert await delivery.drain(30)
        finally:
            await client.close()
        assert len(queue) == 0 and delivery.delivered == 3 and delivery.refused == 2
        assert _stored(api) == 3
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    dropped = [m for m in errors if "refused 1 result(s) for good, DROPPED" in m]
    assert len(dropped) == 2, errors
    assert "phases.connect" in dropped[0] and "surrogate" in dropped[1], dropped


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without its ``null`` alternative."""
    alts = [a for a in schema.get("anyOf", [schema]) if a.get("type") != "null"]
    assert len(alts) == 1, schema
    return alts[0]


def _unbounded_strings(node: Any, docs: dict[str, Any], path: str) -> list[str]:
    """Every string in a body schema that has no maxLength (nor an enum or a const)."""
    if isinstance(node, list):
        return [m for i, x in enumerate(node) for m in _unbounded_strings(x, docs, path)]
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _unbounded_strings(docs[name], docs, f"{path}>{name}")
    out = []
    if node.get("type") == "string" and not {"maxLength", "enum", "const"} & set(node):
        out.append(path)
    for key, value in node.items():
        if key not in ("default", "examples"):
            out += _unbounded_strings(value, docs, f"{path}.{key}")
    return out


def test_every_parameter_and_body_string_of_every_route_is_bounded() -> None:
    """The rule holds for every area's routes, present and future: integers within a bigint,
    numbers within bounds, strings of bounded length without control characters, and every
    string in a JSON body of bounded length."""
    doc = openapi_document()
    docs = doc.get("components", {}).get("schemas", {})
    bad = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            for p in op.get("parameters", []):
                s, name = _bare(p["schema"]), f"{where} {p['in']} {p['name']}"
                if s.get("type") in ("integer", "number"):
                    if not (-ROW_ID_MAX <= s.get("minimum", -(2**64)) <= s.get("maximum", 2**64)
                            <= ROW_ID_MAX):  # fmt: skip
                        bad.append(f"{name}: {s}")
                elif s.get("type") == "string" and not ("maxLength" in s and "pattern" in s):
                    bad.append(f"{name}: {s}")
            for media in op.get("requestBody", {}).get("content", {}).values():
                bad += _unbounded_strings(media["schema"], docs, f"{where} body")
    assert bad == []
