"""The config's fast checks of URLs and DNS names accept only what httpx and dnspython accept
(they exist because those parsers were a third of validating a 10,000-check file)."""

from __future__ import annotations

import dns.name
import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from threenines.probes._common import _PLAIN_URL, _http_url
from threenines.probes.dns import _PLAIN_NAME, _is_ip


@settings(max_examples=400, deadline=None)
@given(st.from_regex(_PLAIN_URL, fullmatch=True))
def test_a_url_taken_on_the_fast_path_is_one_httpx_takes(url: str) -> None:
    parsed = httpx.URL(url)
    assert parsed.scheme in ("http", "https") and parsed.host


@settings(max_examples=400, deadline=None)
@given(st.from_regex(_PLAIN_NAME, fullmatch=True).filter(lambda n: len(n) <= 253))
def test_a_name_taken_on_the_fast_path_is_one_dnspython_takes(name: str) -> None:
    dns.name.from_text(name)


def test_the_rest_is_still_judged_by_httpx() -> None:
    assert (
        _http_url("https://portal.council.example/path?q=1")
        == "https://portal.council.example/path?q=1"
    )
    assert _http_url("http://[::1]:8080/") == "http://[::1]:8080/"  # not plain: httpx's
    assert _http_url("https://bücher.example/") == "https://bücher.example/"
    for bad in ("ftp://x/", "http://", "https://:80/"):
        try:
            _http_url(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_resolvers_are_ip_addresses() -> None:
    assert _is_ip("192.0.2.53") and _is_ip("::1")
    assert not _is_ip("resolver.example") and not _is_ip("999.1.1.1")
