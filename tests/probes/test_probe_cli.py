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


def _json(args: list[str]) -> tuple[int, dict]:
    result = runner.invoke(app, ["check", *args, "--json"])
    return result.exit_code, json.loads(result.output)


def test_http_expectations_and_request_flags(http_base: str, dns_port: int) -> None:
    code, doc = _json(
        [f"{http_base}/headers", "-H", "X-Probe: yes", "--expect", '"X-Probe": "yes"']
    )
    assert (code, doc["status"]) == (0, "up"), doc
    code, doc = _json([f"{http_base}/ok", "--not-expect", "hello"])
    assert (code, doc["error"], doc["reason"]) == (2, "expect_mismatch", "body matches /hello/")
    code, doc = _json([f"{http_base}/status/404", "--status", "404"])
    assert code == 0, doc
    code, doc = _json(
        [
            f"{http_base}/echo",
            "-X",
            "POST",
            "--data",
            "a=1",
            "-H",
            "Content-Type: application/x-www-form-urlencoded",
        ]
    )
    assert (code, doc["details"]["status_code"]) == (0, 200), doc
    port = http_base.rsplit(":", 1)[1]
    code, doc = _json([f"http://www.test:{port}/ok", "--resolver", f"127.0.0.1:{dns_port}"])
    assert (code, doc["details"]["address"]) == (0, "127.0.0.1"), doc
    code, doc = _json(
        [f"http://www.test:{port}/ok", "--resolver", f"127.0.0.1:{dns_port}", "--ip", "6"]
    )
    assert (code, doc["error"]) == (2, "refused"), doc


def test_tls_flags(servers, pki) -> None:
    url = f"https://127.0.0.1:{servers.https['wronghost']}/ok"
    code, doc = _json([url, "--ca-file", pki.ca_file, "--sni", "other.example"])
    assert code == 0, doc
    code, doc = _json([f"https://localhost:{servers.https['selfsigned']}/ok", "--insecure"])
    assert code == 0, doc
    code, doc = _json([f"https://localhost:{servers.https['mtls']}/ok", "--ca-file", pki.ca_file])
    assert doc["error"] == "tls_client_cert", doc
    mtls = [f"https://localhost:{servers.https['mtls']}/ok", "--ca-file", pki.ca_file]
    code, doc = _json([*mtls, "--cert", pki.client_pem])
    assert code == 0, doc
    code, doc = _json(
        [
            f"localhost:{servers.https['tls12']}",
            "-t",
            "tls",
            "--ca-file",
            pki.ca_file,
            "--min-tls",
            "TLSv1.3",
        ]
    )
    assert doc["error"] == "tls_protocol", doc


def test_tcp_and_dns_flags(banner_port: int, dns_port: int) -> None:
    code, doc = _json([f"127.0.0.1:{banner_port}", "--data", "PING\\r\\n", "--expect", "^PONG"])
    assert code == 0, doc
    code, doc = _json(["www.test/AAAA", "-t", "dns", "--resolver", f"127.0.0.1:{dns_port}"])
    assert (code, doc["details"]["answers"]) == (0, ["::1"]), doc


def test_flag_errors(http_base: str, banner_port: int) -> None:
    result = runner.invoke(app, ["check", f"127.0.0.1:{banner_port}", "--method", "POST"])
    assert result.exit_code == 2
    assert "--method does not apply to tcp (only to http)" in result.output
    result = runner.invoke(app, ["check", f"{http_base}/ok", "--ip", "5"])
    assert result.exit_code == 2 and "--ip takes 4 or 6" in result.output
    result = runner.invoke(app, ["check", f"{http_base}/ok", "-H", "novalue"])
    assert result.exit_code == 2 and "use 'Name: value'" in result.output
    result = runner.invoke(app, ["check", f"{http_base}/ok", "--min-tls", "SSLv3"])
    assert result.exit_code == 2 and "min_version" in result.output
    assert "Traceback" not in result.output
