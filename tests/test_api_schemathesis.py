"""Schemathesis against the service's own OpenAPI: no request, valid or not, gets a 5xx or a
response that breaks the schema.

The full app (``threenines.app.api.create_app``, every area's routes) on a real
``ServiceContext`` over a temporary SQLite database, served on 127.0.0.1 with its writer
running; every generated request, valid (positive) and invalid (negative), is sent once with
each role's token (viewer, operator, admin, agent) and once with none, and fails the test on a
5xx, an undocumented status, a body that breaks the response schema, or invalid input accepted.

Bounded: at most ``MAX_EXAMPLES`` cases per operation and generation mode, no example database,
and pytest's per-test timeout. On a busy 2-core machine: 27 operations, about 1,400 cases, so
about 7,000 requests in about a minute: marked slow (``make test`` runs it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import schemathesis
from api_support import ROLES, Api, openapi_document, served
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from threenines.failover.ledger import Ledger
from threenines.security.findings import Finding, RunResult
from threenines.security.store import SecurityStore
from threenines.security.store_baselines import BaselineStore

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _seed(api: Api) -> None:
    """Rows with id 1 (a finding, a baseline change, a failover run), so that the id routes
    meet a row as well as absent ones. No incident: with no alerts service running, an ack would
    wait out its ``wait``."""
    now, engine = time.time(), api.ctx.engine
    f = Finding.make("port_opened", "h/23", "critical", "exposure:x", "h:23", "telnet open")
    SecurityStore(engine).record(RunResult("exposure:x", [f]), now=now)
    BaselineStore(engine).propose("198.19.0.10", "server", 23, "add", f.key, now)
    Ledger(engine, "test").create_run(now, "main-to-mirror", "failover")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    with served(f"sqlite:///{tmp}/api.db", tmp) as api:
        _seed(api)
        yield api


schema = schemathesis.openapi.from_dict(openapi_document())
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    # the document's bearer scheme: the test sends each role's token (and none) itself, so
    # schemathesis must not generate (or leave out, as "invalid") the Authorization header
    with_security_parameters=False,
)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_5xx_and_every_response_matches_the_schema(case: schemathesis.Case, api: Api) -> None:
    for role in (*ROLES, None):
        headers = api.auth(role) if role else {}
        case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS, timeout=30)
