"""journey probe: login form with a CSRF token and a session cookie, on a real server."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from threenines.core.results import Status
from threenines.probes import journey

LOGIN: list[dict[str, Any]] = [
    {
        "name": "login-page",
        "url": "/login",
        "body_contains": "csrf_token",
        "extract": {"csrf": r'name="csrf_token" value="([0-9a-f]+)"'},
    },
    {
        "name": "login",
        "method": "POST",
        "url": "/login",
        "form": {"csrf_token": "{csrf}", "username": "alice", "password": "{password}"},
        "body_contains": "Welcome, alice",
    },
    {"name": "dashboard", "url": "/dashboard", "body_regex": "Welcome, \\w+"},
]


def cfg(base: str, steps: list[dict[str, Any]] = LOGIN, **kw: Any) -> journey.Config:
    data: dict[str, Any] = {"type": "journey", "name": "portal", "base_url": base, "steps": steps}
    data.setdefault("variables", {"password": "s3cret"})
    return journey.Config.model_validate({**data, **kw})


async def test_login_journey_up(http_base: str) -> None:
    r = await journey.probe(cfg(http_base), timeout=5)
    assert r.status is Status.UP, r
    assert list(r.phases) == ["login-page", "login", "dashboard", "total"]
    assert [s["status_code"] for s in r.details["steps"]] == [200, 200, 200]
    assert "s3cret" not in json.dumps(r.to_dict())


async def test_wrong_password_names_the_step(http_base: str) -> None:
    r = await journey.probe(cfg(http_base, variables={"password": "nope"}), timeout=5)
    assert (r.status, r.error) == (Status.DOWN, "http_status")
    assert r.reason == "step 'login': status 401 not in [2xx]"
    assert r.details["failed_step"] == "login"
    assert "nope" not in json.dumps(r.to_dict())


async def test_missing_csrf_token_is_rejected(http_base: str) -> None:
    steps = [LOGIN[0] | {"extract": {}}, LOGIN[1] | {"form": {"csrf_token": "forged"}}]
    r = await journey.probe(cfg(http_base, steps), timeout=5)
    assert r.reason == "step 'login': status 403 not in [2xx]", r


async def test_extract_finds_nothing(http_base: str) -> None:
    steps = [{"name": "home", "url": "/ok", "extract": {"tok": "token=(\\w+)"}}]
    r = await journey.probe(cfg(http_base, steps), timeout=5)
    assert r.error == "expect_mismatch"
    assert r.reason == "step 'home': nothing to extract into {tok} with /token=(\\w+)/"


async def test_extract_named_group_and_whole_match(http_base: str) -> None:
    steps = [
        {"name": "a", "url": "/json", "extract": {"v": '"version": (?P<v>\\d+)', "w": "ok"}},
        {"name": "b", "url": "/headers", "headers": {"X-V": "{v}{w}"}, "body_contains": "3ok"},
    ]
    r = await journey.probe(cfg(http_base, steps), timeout=5)
    assert r.status is Status.UP, r


async def test_cookie_jar_is_per_run(http_base: str) -> None:
    # without logging in first, the dashboard redirects to the login page
    steps = [{"name": "dashboard", "url": "/dashboard", "body_contains": "Welcome"}]
    r = await journey.probe(cfg(http_base, steps), timeout=5)
    assert r.error == "expect_mismatch" and r.reason.startswith("step 'dashboard'")


async def test_timeout_and_refused_name_the_step(http_base: str, refused_port: int) -> None:
    steps = [{"name": "home", "url": "/ok"}, {"name": "stuck", "url": "/hang"}]
    r = await journey.probe(cfg(http_base, steps), timeout=0.5)
    assert (r.error, r.details["failed_step"]) == ("timeout", "stuck"), r
    assert "stuck" in r.phases
    steps = [{"name": "home", "url": f"http://127.0.0.1:{refused_port}/"}]
    r = await journey.probe(cfg(http_base, steps), timeout=2)
    assert r.error == "refused" and r.reason.startswith("step 'home': connection refused")


async def test_slow_journey_degraded(http_base: str) -> None:
    steps = [{"name": "slow", "url": "/slow"}]
    r = await journey.probe(cfg(http_base, steps, degraded_after="0.1s"), timeout=5)
    assert (r.status, r.error) == (Status.DEGRADED, "slow"), r


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"name": "a", "url": "/x?t={tok}"}], "unknown variable {tok}"),
        ([{"name": "a", "url": "/"}, {"name": "a", "url": "/"}], "must be unique"),
        ([{"name": "a", "url": "/", "extract": {"a-b": "(x)"}}], "'a-b' is not a variable name"),
        ([{"name": "a", "url": "/", "extract": {"x": "(?P<x"}}], "invalid regex"),
        ([{"name": "a", "url": "/", "form": {}, "body": "x"}], "either form or body"),
    ],
)
def test_invalid_journeys(steps: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        cfg("http://127.0.0.1:1", steps)


def test_relative_url_needs_base_url() -> None:
    with pytest.raises(ValidationError, match="absolute, or set base_url"):
        journey.Config.model_validate(
            {"type": "journey", "name": "j", "steps": [{"name": "a", "url": "/x"}]}
        )


async def test_steps_have_the_http_probes_assertions(http_base: str) -> None:
    """A step is judged by the http probe's own code: header asserts, must-not-match,
    body_limit, HTTP version, JSON paths, fail_if_ssl — same codes, same reasons."""

    async def step(**kw: Any) -> Any:
        steps = [{"name": "only", "url": kw.pop("url", "/ok"), **kw}]
        return await journey.probe(cfg(http_base, steps), timeout=5)

    r = await step(body_not_contains="hello")
    assert (r.status, r.error) == (Status.DOWN, "expect_mismatch"), r
    assert r.reason == "step 'only': body contains 'hello'"
    r = await step(expect_headers=[{"name": "X-Frame-Options"}])
    assert r.reason == "step 'only': header X-Frame-Options is missing", r
    r = await step(url="/big", body_contains="keyword")
    assert r.reason.endswith("in its first 1 MiB (body_limit reached; the rest was not read)"), r
    assert (await step(url="/big", body_contains="keyword", body_limit="2MiB")).ok
    r = await step(valid_http_versions=["HTTP/2"])
    assert (r.error, r.reason) == (
        "http_version",
        "step 'only': answered in HTTP/1.1, not in [HTTP/2]",
    ), r
    r = await step(fail_if_not_ssl=True)
    assert r.error == "tls_missing", r
    r = await step(url="/json", json=[{"path": "$.status", "equals": "nope"}])
    assert r.error == "expect_mismatch" and r.reason.startswith("step 'only': JSON $.status"), r
