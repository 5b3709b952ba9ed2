"""Every address of a name, raced with Happy Eyeballs, and ``ip_protocol``.

The measured false DOWN: ``dual.test`` -> ::1 and 127.0.0.1, the server on 127.0.0.1 only;
the probes took getaddrinfo's first answer (::1) and said ``refused``. The name exists only in
a private mount namespace whose /etc/hosts says so (``unshare -m`` + a bind mount, root), so
no lookup of it ever leaves the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import require, require_command, require_root
from pydantic import ValidationError

from threenines.core.results import Status
from threenines.probes import _connect, http


def test_interleave_starts_with_the_resolvers_first_family() -> None:
    got = _connect.interleave(["::1", "::2", "127.0.0.1", "127.0.0.2", "127.0.0.3"])
    assert got == ["::1", "127.0.0.1", "::2", "127.0.0.2", "127.0.0.3"]
    assert _connect.interleave(["127.0.0.1", "::1"]) == ["127.0.0.1", "::1"]


async def test_literal_needs_no_lookup() -> None:
    assert await _connect.resolve("[::1]", 80, "ipv4", fallback=False) == ["::1"]
    assert await _connect.resolve("127.0.0.1", 80) == ["127.0.0.1"]


async def test_happy_eyeballs_reaches_the_address_that_answers(banner_port: int) -> None:
    attempts = _connect.Attempts()
    sock = await _connect.connect(["::1", "127.0.0.1"], banner_port, attempts)
    sock.close()
    assert attempts.address == "127.0.0.1"
    assert attempts.summary() == [{"address": "::1", "error": "refused"}]


async def test_dual_stack_through_a_given_resolver(http_base: str, dns_port: int) -> None:
    # www.test on the loopback DNS server: AAAA ::1, A 127.0.0.1 and 127.0.0.2
    port = http_base.rsplit(":", 1)[1]
    url = f"http://www.test:{port}/ok"
    c = http.Config.model_validate(
        {"type": "http", "name": "h", "url": url, "resolver": f"127.0.0.1:{dns_port}"}
    )
    r = await http.probe(c, timeout=5)
    assert (r.status, r.details["address"]) == (Status.UP, "127.0.0.1"), r
    failed = r.details["failed_addresses"]  # the A records come in either order
    assert failed[0] == {"address": "::1", "error": "refused"}
    assert failed[1:] in ([], [{"address": "127.0.0.2", "error": "refused"}])
    r = await http.probe(
        c.model_copy(update={"ip_protocol": "ipv6", "ip_protocol_fallback": False}), timeout=5
    )
    assert (r.error, r.reason) == ("refused", f"connection refused by www.test:{port}"), r
    r = await http.probe(c.model_copy(update={"url": f"http://nope.test:{port}/"}), timeout=5)
    assert (r.error, r.reason) == ("dns", "cannot resolve nope.test: NXDOMAIN from 127.0.0.1"), r
    with pytest.raises(ValidationError, match=r"resolver 'dns\.example' must be IP"):
        http.Config.model_validate(
            {"type": "http", "name": "h", "url": url, "resolver": "dns.example"}
        )


_PROBES = """
import asyncio, json, sys
from threenines.probes import http, tcp, tls
http_port, tcp_port, tls_port = map(int, sys.argv[1:4])

def h(**kw):
    return http.Config.model_validate(
        {"type": "http", "name": "h", "url": f"http://dual.test:{http_port}/ok", **kw})

async def main():
    runs = {
        "http": http.probe(h(), timeout=5),
        "http_ipv6_only": http.probe(h(ip_protocol="ipv6", ip_protocol_fallback=False), timeout=5),
        "http_ipv4": http.probe(h(ip_protocol="ipv4"), timeout=5),
        "tcp": tcp.probe(tcp.Config(type="tcp", name="t", host="dual.test", port=tcp_port,
                                    expect="^220 "), timeout=5),
        "tcp_v4only_ipv6": tcp.probe(tcp.Config(type="tcp", name="t", host="v4only.test",
            port=tcp_port, ip_protocol="ipv6", ip_protocol_fallback=False), timeout=5),
        "tcp_v4only_ipv6_fallback": tcp.probe(tcp.Config(type="tcp", name="t",
            host="v4only.test", port=tcp_port, ip_protocol="ipv6"), timeout=5),
        "tls": tls.probe(tls.Config(type="tls", name="s", host="dual.test", port=tls_port,
                                    server_name="localhost", verify=False), timeout=5),
    }
    out = {}
    for name, run in runs.items():
        r = await run
        out[name] = [r.status.value, r.error, r.reason, dict(r.details)]
    print(json.dumps(out, default=str))

asyncio.run(main())
"""


@pytest.mark.root
def test_dual_stack_name_with_server_on_ipv4_only(
    tmp_path: Path, http_base: str, banner_port: int, servers
) -> None:
    require_root()
    require_command("unshare", "mount")
    require(Path("/proc/sys/net/ipv6").exists(), "needs IPv6 on loopback (::1)")
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 dual.test\n127.0.0.1 dual.test\n127.0.0.1 v4only.test localhost\n")
    script = tmp_path / "probes.py"
    script.write_text(textwrap.dedent(_PROBES))
    http_port = http_base.rsplit(":", 1)[1]
    inner = f'mount --bind {hosts} /etc/hosts && exec "$@"'
    cmd = ["unshare", "-m", "sh", "-c", inner, "sh", sys.executable, str(script)]
    cmd += [http_port, str(banner_port), str(servers.https["good"])]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)

    status, error, _reason, details = got["http"]
    assert (status, error, details["address"]) == ("up", None, "127.0.0.1"), got["http"]
    assert details["failed_addresses"] == [{"address": "::1", "error": "refused"}]
    status, error, reason, details = got["http_ipv6_only"]
    assert (status, error, details["address"]) == ("down", "refused", "::1"), got
    status, error, _reason, details = got["http_ipv4"]
    assert (status, details["address"], "failed_addresses" in details) == ("up", "127.0.0.1", False)

    status, error, _reason, details = got["tcp"]
    assert (status, error, details["address"]) == ("up", None, "127.0.0.1"), got["tcp"]
    assert details["banner"].startswith("220 ")
    status, error, reason, _details = got["tcp_v4only_ipv6"]
    assert (status, error) == ("down", "dns") and "no IPv6 address" in reason, got
    assert got["tcp_v4only_ipv6_fallback"][0] == "up", got

    status, error, _reason, details = got["tls"]
    assert (status, error, details["address"]) == ("up", None, "127.0.0.1"), got["tls"]
