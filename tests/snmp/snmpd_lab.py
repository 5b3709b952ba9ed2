"""Real net-snmp agents for the SNMP tests: ``snmpd`` on 127.0.0.1 high ports, generated configs.

Each ``Snmpd`` has its own directory (config, persistent dir for the v3 users, log, the JSON
that the ``pass_persist`` agent serves). ``stop`` always kills the process, so no agent
outlives its test; ``restart`` keeps the port and the persistent dir (engine boots go up, as
on a real reboot).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_udp_port

HERE = Path(__file__).resolve().parent
COMMUNITY = "lab-community"
V3_USER, V3_AUTH, V3_PRIV = "labuser", "lab-auth-key-1", "lab-priv-key-1"
V3_USER256 = "labuser256"  # SHA-256 / AES-256 (net-snmp "AES-256": Blumenthal)
NO_MIBS = ["-m", "", "-M", "/nonexistent"]


class Snmpd:
    def __init__(self, root: Path, *, passed: dict[str, str] | None = None, extra: str = ""):
        """``passed``: subtree OID -> "override" (priority 1, hides snmpd's own) or "add"."""
        self.root = root
        self.port = free_udp_port()
        self.data = root / "pass.json"
        self.passed = passed or {}
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        (root / "persist").mkdir(exist_ok=True)
        self.set_values({})

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_values(self, values: dict[str, tuple[str, Any]]) -> None:
        """What the pass_persist agent answers from now on: {oid: (type, value)}."""
        tmp = self.data.with_suffix(".tmp")
        tmp.write_text(json.dumps({oid: list(tv) for oid, tv in values.items()}))
        os.replace(tmp, self.data)  # atomic: the agent never reads half a file

    def _config(self) -> str:
        wrapper = self.root / "passagent.sh"
        wrapper.write_text(
            f"#!/bin/sh\nexec {sys.executable} {HERE / 'passagent.py'} {self.data}\n"
        )
        wrapper.chmod(0o755)
        lines = [
            f"agentaddress udp:127.0.0.1:{self.port}",
            f"rocommunity {COMMUNITY} 127.0.0.1",
            f"createUser {V3_USER} SHA-256 {V3_AUTH} AES {V3_PRIV}",
            f"createUser {V3_USER256} SHA-256 {V3_AUTH} AES-256 {V3_PRIV}",
            f"rouser {V3_USER} priv",
            f"rouser {V3_USER256} priv",
        ]
        for oid, how in self.passed.items():
            prio = "-p 1 " if how == "override" else ""
            lines.append(f"pass_persist {prio}.{oid.strip('.')} {wrapper}")
        lines.append(self.extra)
        lines.append(f"[snmp] persistentDir {self.root / 'persist'}")
        return "\n".join(lines) + "\n"

    def start(self) -> Snmpd:
        conf = self.root / "snmpd.conf"
        conf.write_text(self._config())
        log = open(self.root / "snmpd.log", "ab")
        cmd = ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-I", "-smux", *NO_MIBS]
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"snmpd exited: {(self.root / 'snmpd.log').read_text()[-2000:]}")
            if self.snmpget("1.3.6.1.2.1.1.3.0", timeout=0.3).returncode == 0:
                return
        raise RuntimeError("snmpd did not answer within 10 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- net-snmp's own tools, for comparison -----------------------------------------------

    def _tool(
        self, tool: str, args: list[str], timeout: float = 2.0
    ) -> subprocess.CompletedProcess:
        cmd = [tool, *NO_MIBS, "-On", "-v2c", "-c", COMMUNITY, "-t", str(timeout), "-r", "0"]
        return subprocess.run(
            [*cmd, self.address, *args], capture_output=True, text=True, timeout=timeout + 10
        )

    def snmpget(self, *oids: str, timeout: float = 2.0) -> subprocess.CompletedProcess:
        return self._tool("snmpget", list(oids), timeout)

    def snmpwalk(self, oid: str) -> subprocess.CompletedProcess:
        return self._tool("snmpbulkwalk", [oid])

    def walk_values(self, oid: str) -> dict[str, str]:
        """``snmpbulkwalk -On`` as {index below ``oid``: value text (after ``TYPE: ``)}."""
        out = {}
        prefix = "." + oid.strip(".") + "."
        for line in self.snmpwalk(oid).stdout.splitlines():
            name, _, value = line.partition(" = ")
            if name.startswith(prefix):
                out[name[len(prefix) :]] = value.split(": ", 1)[-1].strip('"')
        return out

    def value(self, oid: str) -> str:
        """The value part of ``snmpget -On`` (after ``TYPE: ``)."""
        out = self.snmpget(oid).stdout.strip()
        return out.split(" = ", 1)[1].split(": ", 1)[-1]


@pytest.fixture
def snmpd_factory(tmp_path: Path) -> Iterator[Any]:
    from conftest import require_command

    require_command("snmpd", "snmpget", "snmpbulkwalk")
    agents: list[Snmpd] = []

    def make(**kw: Any) -> Snmpd:
        agent = Snmpd(tmp_path / f"snmpd{len(agents)}", **kw)
        agents.append(agent)
        return agent.start()

    try:
        yield make
    finally:
        for agent in agents:
            agent.stop()


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
