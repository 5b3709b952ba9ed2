"""The lab's Python API (re-exported by ``threenines.lab``); see the package docstring."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from threenines.lab import database, faults, netns, procs, services
from threenines.lab.faults import Fault
from threenines.lab.netns import run_in
from threenines.lab.state import DEFAULT_DIR, LabError, State
from threenines.lab.topology import PREFIX, Topology, check, estate

ESTATE = estate()
REQUIRED_COMMANDS = ("ip", "tc", "haproxy", "snmpd", "iptables")  # PostgreSQL: optional

__all__ = [
    "DEFAULT_DIR",
    "ESTATE",
    "Fault",
    "LabError",
    "NotRoot",
    "State",
    "attach_host",
    "down",
    "fault_add",
    "fault_clear",
    "fault_list",
    "run_in",
    "session",
    "spawn",
    "status",
    "stop",
    "up",
]


class NotRoot(LabError):
    """The lab needs root (network namespaces); the CLI exits 2 on this."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise NotRoot(
            "the lab needs root to create network namespaces: run `sudo threenines lab up` "
            "(or `make demo` as root); nothing was changed"
        )
    missing = [c for c in REQUIRED_COMMANDS if shutil.which(c) is None]
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)}: apt-get install iproute2 haproxy snmpd iptables"
        )


def _state(state: State | Path | None) -> State:
    if isinstance(state, State):
        return state
    return State(Path(state)) if state is not None else State()


def up(state: State | Path | None = None, topo: Topology = ESTATE) -> dict[str, Any]:
    """Build (or repair) the lab and start its services; returns timings and counts.

    Active faults are kept: links they hold stay down, services they stopped stay stopped.
    """
    require_root()
    st = _state(state)
    problems = check(topo)
    if problems:
        raise LabError("bad topology: " + "; ".join(problems))
    start = time.monotonic()
    with st.ops_lock():
        active = faults.active(st)
        netns.apply(topo, skip_up=faults.held_links(active))
        faults.reapply(st, topo)
        held = faults.held_services(active)
        services.start_all(st, topo, skip=held, unreachable=_cut_off(topo, active))
        faults.reassert(st, topo)
        info = {
            "namespaces": len(topo.nodes),
            "links": len(topo.links),
            "up_at": time.time(),
            "database": database.describe(topo),
        }
        st.write_json(st.info_file, info)
    return {**info, "seconds": round(time.monotonic() - start, 3)}


def _cut_off(topo: Topology, active: list[Fault]) -> set[tuple[str, str]]:
    """Services unreachable from the host because a fault cut their node off."""
    cut = {f.target for f in active if f.kind == "dc-cut"}
    return {(n, s) for n in cut for s in services.names_for(topo, topo.node(n))}


def down(state: State | Path | None = None, prefix: str = PREFIX) -> dict[str, Any]:
    """Remove every ``tn-*`` namespace, root link and lab process, and the state directory.

    Works from names alone, so it also cleans up after a crash or a lost state directory.
    """
    require_root()
    st = _state(state)
    start = time.monotonic()
    with st.ops_lock():
        services.stop_databases(netns.namespaces(prefix))  # cleanly: no shared memory left
        removed = netns.teardown(prefix)
    shutil.rmtree(st.root, ignore_errors=True)
    return {**removed, "seconds": round(time.monotonic() - start, 3)}


def status(state: State | Path | None = None, topo: Topology = ESTATE) -> dict[str, Any]:
    """What exists now: namespaces (expected and stray), links, processes, faults."""
    st = _state(state)
    present = netns.namespaces() if shutil.which("ip") else []
    links = []
    for link in topo.links:
        for end in (link.a, link.b):
            if end.ns in present or end.ns == "":
                state_ = netns.link_state(end.ns, end.dev)
            else:
                state_ = "missing"
            links.append(
                {"link": link.name, "ns": end.ns or "root", "dev": end.dev, "state": state_}
            )
    return {
        "state_dir": str(st.root),
        "namespaces": {ns: ns in present for ns in topo.namespaces()},
        "stray_namespaces": [ns for ns in present if ns not in topo.namespaces()],
        "links": links,
        "processes": [
            {"ns": p.ns, "name": p.name, "pid": p.pid, "running": p.running}
            for p in procs.all_procs(st)
        ],
        "faults": [asdict(f) for f in faults.active(st)] if st.root.exists() else [],
    }


def fault_add(
    kind: str,
    target: str,
    value: str | None = None,
    *,
    state: State | Path | None = None,
    topo: Topology = ESTATE,
) -> Fault:
    require_root()
    st = _state(state)
    with st.ops_lock():
        return faults.add(st, topo, kind, target, value)


def fault_clear(
    fault_id: int | None = None, *, state: State | Path | None = None, topo: Topology = ESTATE
) -> list[Fault]:
    """Clear one fault by id, or every fault when ``fault_id`` is None."""
    require_root()
    st = _state(state)
    with st.ops_lock():
        return faults.clear(st, topo, fault_id)


def fault_list(state: State | Path | None = None) -> list[Fault]:
    st = _state(state)
    return faults.active(st) if st.root.exists() else []


def spawn(
    ns: str,
    name: str,
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    state: State | Path | None = None,
) -> procs.Proc:
    """Start a long-running process (e.g. an agent) in a lab namespace; ``down`` stops it."""
    return procs.spawn(_state(state), ns, name, argv, env=env)


def stop(ns: str, name: str, *, state: State | Path | None = None) -> bool:
    return procs.stop(_state(state), ns, name)


def attach_host(name: str, site: str, address: str, *, mac: str | None = None) -> str:
    """Plug a new namespace ``tn-<name>`` into ``site``'s LAN bridge with ``address`` (CIDR).

    For security tests (a rogue device on a library's subnet). Returns the namespace name;
    ``lab down`` removes it with the rest.
    """
    require_root()
    try:
        node = ESTATE.node(site)
    except KeyError as exc:
        raise LabError(str(exc.args[0])) from None
    lan = [b for b in ESTATE.bridges if b.ns == node.ns]
    if not lan:
        raise LabError(f"{node.name} has no LAN to plug into (sites do)")
    ns, peer = PREFIX + name, f"h-{name}"[:15]
    if ns not in netns.namespaces():
        netns.ip("netns", "add", ns)
    netns.ip("link", "set", "lo", "up", ns=ns)
    if netns.link_state(ns, "eth0") == "missing":
        netns.ip(
            "link",
            "add",
            "eth0",
            "netns",
            ns,
            "type",
            "veth",
            "peer",
            "name",
            peer,
            "netns",
            node.ns,
        )
    if mac:
        netns.ip("link", "set", "dev", "eth0", "address", mac, ns=ns)
    netns.ip("link", "set", "dev", peer, "master", "lan0", "up", ns=node.ns)
    netns.ip("addr", "replace", address, "dev", "eth0", ns=ns)
    netns.ip("link", "set", "dev", "eth0", "up", ns=ns)
    gateway = lan[0].addr.split("/")[0]
    netns.ip("route", "replace", "default", "via", gateway, ns=ns, check=False)  # off-LAN: none
    return ns


def detach_host(name: str) -> None:
    require_root()
    netns.kill_all([PREFIX + name])
    netns.ip("netns", "del", PREFIX + name, check=False)


@contextlib.contextmanager
def session(state: State | Path | None = None, *, wait: float = 600.0) -> Iterator[State]:
    """Exclusive use of a fresh, fault-free lab; always torn down at the end, even on error."""
    require_root()
    st = _state(state)
    with st.exclusive(timeout=wait):
        try:
            if st.root.exists() or netns.namespaces(PREFIX):
                # the session lock is free, so whoever left this lab is gone (a killed run):
                # begin from nothing rather than repair what it may have left half-made
                down(st)
            up(st)
            fault_clear(state=st)
            yield st
        finally:
            down(st)
