"""A database outage is a 503 on every API route, never a 500: ``{"detail": "database
unavailable"}`` with a Retry-After, never the URL or the driver's message; and the API answers
again once the database is back.

The outage is real: a PostgreSQL server of the test's own, stopped under the running service.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import Api, served
from private_postgres import PrivatePostgres, private_postgres

from threenines.console.live import STALE_AFTER
from threenines.core.deps import require_operator, require_viewer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TEXT = json.dumps({"detail": "database unavailable"})
# decisions, each with a body its route accepts, on rows that need not exist
DECISIONS: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/alerts/1/ack", {"note": "n"}),
    ("POST", "/api/v1/alerts/silences", {"matchers": {"service": "web"}, "comment": "c"}),
    ("DELETE", "/api/v1/alerts/silences/x", None),
    ("POST", "/api/v1/security/findings/1/accept", {"reason": "known"}),
    ("POST", "/api/v1/failover/nope/cancel", None),
]
QUERIES = {"/api/v1/security/summary": "?start=0&end=1"}
NEEDS_THE_DATABASE = {"/api/v1/status", "/api/v1/alerts", "/api/v1/security/summary?start=0&end=1"}


def _routes(api: Api) -> list[tuple[str, str, Any]]:
    """Every GET route of the API (path parameters filled with 1), then the decisions."""
    paths = api.app.openapi()["paths"]
    gets = [re.sub(r"\{[^}]+\}", "1", p) for p, ops in paths.items() if "get" in ops]
    gets = [p + QUERIES.get(p, "") for p in sorted(gets) if p.startswith("/api/v1/")]
    return [("GET", p, None) for p in gets] + DECISIONS


@pytest.fixture
def pg() -> Any:
    with private_postgres() as pg:
        yield pg


def test_every_route_answers_503_while_the_database_is_down(
    pg: PrivatePostgres, tmp_path: Path
) -> None:
    with served(pg.url, tmp_path) as api:
        # past the token check, as if the token was checked a moment before the outage: the
        # route itself meets the dead database
        tokens = dict(api.app.dependency_overrides)
        api.app.dependency_overrides[require_viewer] = lambda: None
        api.app.dependency_overrides[require_operator] = lambda: "tester"
        routes = _routes(api)
        assert {p for _, p, _ in routes} >= NEEDS_THE_DATABASE
        with httpx.Client(base_url=api.url, timeout=60) as c:
            before = {(m, p): c.request(m, p, json=b).status_code for m, p, b in routes}
            assert [k for k, s in before.items() if s >= 500] == []
            pg.stop()
            # the public status view is kept by a background task, however many callers (its
            # cost must not scale with its audience): a request builds it itself, and finds the
            # outage, once the last view built is STALE_AFTER seconds old
            time.sleep(STALE_AFTER + 0.5)
            wrong = []
            for method, path, body in routes:
                r = c.request(method, path, json=body)
                if r.status_code == before[method, path] and path not in NEEDS_THE_DATABASE:
                    continue  # a route that does not read the database (the plans, say)
                if (r.status_code, r.text, r.headers.get("retry-after")) != (503, TEXT, "5"):
                    wrong.append(f"{method} {path} -> {r.status_code} {r.text[:200]}")
            assert wrong == []
            assert str(pg.port) not in c.get("/api/v1/status").text
            # the real token check meets the outage first: a 503 too
            api.app.dependency_overrides.update(tokens)
            r = c.get("/api/v1/alerts", headers=api.auth("viewer"))
            assert r.status_code == 503 and "database unavailable" in r.json()["detail"]
            pg.start()
            assert c.get("/api/v1/status").status_code == 200
            assert c.get("/api/v1/alerts", headers=api.auth("viewer")).status_code == 200
