"""``threenines check``: one-off probes against the loopback servers, table and --json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.probes.cli import guess_type

runner = CliRunner()


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("http://x/", "http"),
        ("HTTPS://x:8443/a", "http"),
        ("db.example:5432", "tcp"),
        ("[::1]:22", "tcp"),
        ("10.0.0.1", "icmp"),
        ("gw.site-3", "icmp"),
        ("::1", "icmp"),
    ],
)
def test_guess_type(target: str, kind: str) -> None:
    assert guess_type(target) == kind


def test_http_table(http_base: str) -> None:
    result = runner.invoke(app, ["check", f"{http_base}/ok"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"UP  http {http_base}/ok")
    for phase in ("dns", "connect", "ttfb", "total"):
        assert f" {phase} " in result.output
    assert "status_code" in result.output


def test_http_json_down(http_base: str) -> None:
    result = runner.invoke(app, ["check", f"{http_base}/status/500", "--json"])
    assert result.exit_code == 2
    doc = json.loads(result.output)
    assert (doc["type"], doc["status"], doc["error"]) == ("http", "down", "http_status")
    assert doc["details"]["status_code"] == 500 and "total" in doc["phases"]


def test_http_degraded_exit_code(http_base: str) -> None:
    # no threshold from the command line: degraded comes only from config, so a slow page is up
    result = runner.invoke(app, ["check", f"{http_base}/slow", "--json", "--timeout", "5"])
    assert result.exit_code == 0 and json.loads(result.output)["status"] == "up"


def test_tcp_guessed_from_host_port(banner_port: int, refused_port: int) -> None:
    result = runner.invoke(app, ["check", f"127.0.0.1:{banner_port}"])
    assert result.exit_code == 0 and result.output.startswith("UP  tcp"), result.output
    result = runner.invoke(app, ["check", f"127.0.0.1:{refused_port}", "--json"])
    doc = json.loads(result.output)
    assert (result.exit_code, doc["type"], doc["error"]) == (2, "tcp", "refused")


def test_tls_and_dns_types(servers, dns_port: int) -> None:
    result = runner.invoke(app, ["check", f"www.test@127.0.0.1:{dns_port}", "-t", "dns", "--json"])
    doc = json.loads(result.output)
    assert doc["status"] == "up" and doc["details"]["answers"] == ["127.0.0.1", "127.0.0.2"]
    result = runner.invoke(app, ["check", f"localhost:{servers.https['good']}", "--type", "tls"])
    assert result.exit_code == 2 and "tls_untrusted" in result.output  # test CA not trusted


def test_bad_arguments() -> None:
    result = runner.invoke(app, ["check", "ftp://x", "--type", "http"])
    assert result.exit_code == 2
    assert "url: not a valid URL (it must start with http:// or https://)" in result.output
    result = runner.invoke(app, ["check", "x", "--type", "nope"])
    assert result.exit_code == 2 and "unknown probe type 'nope'" in result.output


def test_help() -> None:
    result = runner.invoke(app, ["check", "--help"])
    assert result.exit_code == 0 and "--json" in result.output
