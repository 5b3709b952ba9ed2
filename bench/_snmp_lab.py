"""Agents and peers for ``bench.snmp``: one net-snmp ``snmpd`` answering N communities (N
"devices"), optionally inside a network namespace with 48 veth interfaces (a switch-sized
ifTable; root only, 198.19.251.0/30 on a veth pair), and Debian's prometheus-snmp-exporter.

Everything is removed on exit: processes are killed, the namespace deleted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NETNS, HOST_IP, AGENT_IP = "tn-snmpbench", "198.19.251.1", "198.19.251.2"
IF_COLUMNS = [f"1.3.6.1.2.1.2.2.1.{c}" for c in (2, 5, 7, 8, 10, 13, 14, 16, 19, 20)]
IFX_COLUMNS = [f"1.3.6.1.2.1.31.1.1.1.{c}" for c in (1, 6, 10, 15, 19)]


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextmanager
def namespace(interfaces: int) -> Iterator[str]:
    """A namespace whose snmpd sees ``interfaces`` links; yields the agent address."""
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)
    _ip("netns", "add", NETNS)
    try:
        _ip("link", "add", "tn-snmpb0", "type", "veth", "peer", "name", "tn-snmpb1")
        _ip("link", "set", "tn-snmpb1", "netns", NETNS)
        _ip("addr", "add", f"{HOST_IP}/30", "dev", "tn-snmpb0")
        _ip("link", "set", "tn-snmpb0", "up")
        _ip("-n", NETNS, "addr", "add", f"{AGENT_IP}/30", "dev", "tn-snmpb1")
        _ip("-n", NETNS, "link", "set", "tn-snmpb1", "up")
        _ip("-n", NETNS, "link", "set", "lo", "up")
        for i in range(0, interfaces, 2):  # veth pairs: no dummy module on every kernel
            a, b = f"ge-0-0-{i}", f"ge-0-0-{i + 1}"
            _ip("-n", NETNS, "link", "add", a, "type", "veth", "peer", "name", b)
            _ip("-n", NETNS, "link", "set", a, "up")
            _ip("-n", NETNS, "link", "set", b, "up")
        yield AGENT_IP
    finally:
        subprocess.run(["ip", "link", "del", "tn-snmpb0"], capture_output=True)
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)


@contextmanager
def snmpd(root: Path, communities: list[str], address: str, netns: bool) -> Iterator[int]:
    """snmpd answering every community read-only on ``address``; yields its port."""
    port = free_port() if address.startswith("127.") else 161
    persist = root / "persist"
    persist.mkdir(parents=True, exist_ok=True)
    conf = root / "snmpd.conf"
    lines = [f"agentaddress udp:{address}:{port}"]
    lines += [f"rocommunity {c} default" for c in communities]
    lines += ["maxGetbulkResponses 200", "dontLogTCPWrappersConnects yes"]
    lines += [f"[snmp] persistentDir {persist}"]
    conf.write_text("\n".join(lines) + "\n")
    cmd = ["snmpd", "-f", "-Lf", str(root / "snmpd.log"), "-C", "-c", str(conf), "-I", "-smux"]
    cmd += ["-m", "", "-M", "/nonexistent"]
    if netns:
        cmd = ["ip", "netns", "exec", NETNS, *cmd]
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        probe = ["snmpget", "-m", "", "-v2c", "-c", communities[0], "-t", "0.3", "-r", "0"]
        for _ in range(50):
            if subprocess.run([*probe, f"{address}:{port}", "1.3.6.1.2.1.1.3.0"],
                              capture_output=True).returncode == 0:  # fmt: skip
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("snmpd did not start")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def exporter_config(path: Path, communities: list[str], max_repetitions: int) -> None:
    """An ``if_mib``-equivalent module per community (snmp_exporter 0.21 keeps auth in the
    module), walking the same columns threenines polls. Debian ships no snmp.yml (MIB
    licences), so this is written by hand rather than by the generator."""
    metrics = []
    for oid in IF_COLUMNS + IFX_COLUMNS:
        name = "c_" + oid.replace(".", "_")
        kind = "DisplayString" if oid.endswith((".2.2.1.2", ".31.1.1.1.1")) else "gauge"
        metrics.append(
            f"    - name: {name}\n      oid: {oid}\n      type: {kind}\n"
            "      indexes: [{labelname: ifIndex, type: gauge}]\n"
        )
    walk = "[" + ", ".join(IF_COLUMNS + IFX_COLUMNS) + "]"
    modules = [
        f"if_mib_{i}:\n  walk: {walk}\n  version: 2\n  max_repetitions: {max_repetitions}\n"
        f"  retries: 1\n  timeout: 5s\n  auth:\n    community: {c}\n  metrics:\n" + "".join(metrics)
        for i, c in enumerate(communities)
    ]
    path.write_text("".join(modules))


@contextmanager
def exporter(config: Path) -> Iterator[tuple[int, int]]:
    """prometheus-snmp-exporter on 127.0.0.1; yields (port, pid)."""
    binary = shutil.which("prometheus-snmp-exporter")
    if binary is None:
        raise RuntimeError("prometheus-snmp-exporter is not installed")
    port = free_port(socket.SOCK_STREAM)
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def encode_trap(community: str, index: int) -> bytes:
    """A v2c linkDown trap for ifIndex ``index``, BER-encoded with pysnmp's proto API."""
    from pyasn1.codec.ber import encoder
    from pysnmp.proto.api import v2c as api

    pdu = api.SNMPv2TrapPDU()
    api.apiTrapPDU.set_defaults(pdu)
    api.apiTrapPDU.set_varbinds(
        pdu,
        [
            (api.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), api.TimeTicks(1234)),
            (
                api.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"),
                api.ObjectIdentifier("1.3.6.1.6.3.1.1.5.3"),
            ),
            (api.ObjectIdentifier(f"1.3.6.1.2.1.2.2.1.1.{index}"), api.Integer(index)),
        ],
    )
    msg = api.Message()
    api.apiMessage.set_defaults(msg)
    api.apiMessage.set_community(msg, community)
    api.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process (from /proc, in seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
