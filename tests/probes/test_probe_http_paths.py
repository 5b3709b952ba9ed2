"""The http probe's two paths (``http.plain``): which checks take the first request straight
through the probe's transport, and that both paths give the same result for the same target
(the other http test modules run every test on both, through ``conftest.http_path``)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from threenines.core.results import ProbeResult
from threenines.probes import http


def cfg(url: str, **kw: Any) -> http.Config:
    return http.from_target(url, **kw)


@pytest.mark.parametrize(
    ("options", "qualifies"),
    [
        ({}, True),
        ({"method": "HEAD", "follow_redirects": False, "expect_status": ["3xx"]}, True),
        ({"headers": {"X-A": "b"}, "bearer_token": None, "verify": False}, True),
        ({"method": "POST", "body": "x"}, False),
        ({"proxy": "http://127.0.0.1:3128"}, False),
        ({"proxy_from_env": True}, False),
        ({"http2": True}, False),
    ],
)
def test_which_checks_take_the_plain_path(options: dict[str, Any], qualifies: bool) -> None:
    assert http.plain(cfg("http://127.0.0.1:1/", **options)) is qualifies


def _same(r: ProbeResult) -> tuple[Any, ...]:
    reason = re.sub(r"\d+ ms", "N ms", r.reason)  # the one thing that differs run to run
    details = {k: v for k, v in r.details.items() if k != "cert_days_left"}
    return r.status, r.error, reason, sorted(r.phases), details


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("/ok", {"body_contains": "hello"}),
        ("/redirect", {"body_contains": "hello"}),
        ("/redirect", {"follow_redirects": False}),
        ("/redirect", {"max_redirects": 0}),
        ("/loop/a", {"max_redirects": 3}),
        ("/gzip", {"body_contains": "hello"}),
        ("/status/503", {}),
        ("/garbage", {}),
        ("/dashboard", {}),
    ],
)
async def test_both_paths_give_the_same_result(
    http_base: str, monkeypatch: pytest.MonkeyPatch, path: str, options: dict[str, Any]
) -> None:
    check = cfg(f"{http_base}{path}", **options)
    assert http.plain(check)
    fast = await http.probe(check, timeout=5)
    monkeypatch.setattr(http, "plain", lambda cfg: False)
    slow = await http.probe(check, timeout=5)
    assert _same(fast) == _same(slow), (fast, slow)
