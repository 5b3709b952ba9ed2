"""Apply a ``Topology`` with iproute2, idempotently, and tear down everything named ``tn-*``.

Every step is "make it so": existing namespaces and links are kept, addresses and routes are
``replace``d, so ``lab up`` on a running lab only fixes what is missing. Interfaces named in
``skip_up`` (links held down by a fault) are left down, and routes through them are skipped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence

from threenines.lab.state import LabError
from threenines.lab.topology import PREFIX, ROOT, Bridge, End, Link, Route, Topology


def ip(*args: str, ns: str = ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip [-n NS] ARGS``; on failure raise a ``LabError`` quoting iproute2's message."""
    argv = ["ip", *(["-n", ns] if ns else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    if check and proc.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {proc.stderr.strip() or proc.returncode}")
    return proc


def run_in(
    ns: str,
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    check: bool = False,
    capture: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command inside namespace ``ns`` (``tn-`` prefix optional) and wait for it.

    Output is captured as text unless ``capture`` is False (then it goes to our stdout/stderr).
    """
    name = ns if ns.startswith(PREFIX) else PREFIX + ns
    return subprocess.run(
        ["ip", "netns", "exec", name, *argv],
        capture_output=capture,
        text=True,
        timeout=timeout,
        check=check,
        input=input,
    )


def namespaces(prefix: str = PREFIX) -> list[str]:
    out = ip("netns", "list").stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def root_links(prefix: str = PREFIX) -> list[str]:
    out = ip("-o", "link", "show").stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]
    return sorted(n for n in names if n.startswith(prefix))


def _exists(end: End | Bridge) -> bool:
    return ip("link", "show", "dev", end.dev, ns=end.ns, check=False).returncode == 0


def _sysctl(ns: str, key: str, value: str) -> None:
    path = f"/proc/sys/{key.replace('.', '/')}"
    subprocess.run(
        ["ip", "netns", "exec", ns, "sh", "-c", f"echo {value} > {path}"],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _ensure_namespace(ns: str, forward: bool) -> None:
    if ns not in namespaces():
        ip("netns", "add", ns)
    ip("link", "set", "lo", "up", ns=ns)
    _sysctl(ns, "net.ipv4.ip_forward", "1" if forward else "0")


def _ensure_link(link: Link) -> None:
    a, b = link.a, link.b
    have_a, have_b = _exists(a), _exists(b)
    if have_a and have_b:
        return
    for end, have in ((a, have_a), (b, have_b)):
        if have:  # half a pair cannot exist for veth; a stale device of the same name can
            ip("link", "del", "dev", end.dev, ns=end.ns)
    ip(
        "link",
        "add",
        a.dev,
        *(["netns", a.ns] if a.ns else []),
        "type",
        "veth",
        "peer",
        "name",
        b.dev,
        *(["netns", b.ns] if b.ns else []),
    )


def _configure_end(end: End, hold_down: bool) -> None:
    if end.master:
        ip("link", "set", "dev", end.dev, "master", end.master, ns=end.ns)
    if end.addr:
        ip("addr", "replace", end.addr, "dev", end.dev, ns=end.ns)
    if not hold_down:
        ip("link", "set", "dev", end.dev, "up", ns=end.ns)


def _route(route: Route) -> None:
    ip("route", "replace", route.dst, "via", route.via, "dev", route.dev, ns=route.ns)


def apply(topo: Topology, *, skip_up: Iterable[str] = ()) -> None:
    """Create or repair every namespace, bridge, link, address and route in ``topo``.

    ``skip_up`` holds ``ns/dev`` keys of interfaces a fault keeps down.
    """
    held = set(skip_up)
    for node in topo.nodes:
        _ensure_namespace(node.ns, node.forward)
    for bridge in topo.bridges:
        if not _exists(bridge):
            ip("link", "add", bridge.dev, "type", "bridge", ns=bridge.ns)
        ip("addr", "replace", bridge.addr, "dev", bridge.dev, ns=bridge.ns)
        ip("link", "set", "dev", bridge.dev, "up", ns=bridge.ns)
    for link in topo.links:
        _ensure_link(link)
        for end in (link.a, link.b):
            _configure_end(end, f"{end.ns}/{end.dev}" in held)
    for route in topo.routes:
        if f"{route.ns}/{route.dev}" in held or _peer_held(topo, route, held):
            continue  # the kernel refuses a route through a down link; re-added on clear
        _route(route)


def _peer_held(topo: Topology, route: Route, held: set[str]) -> bool:
    for link in topo.links:
        for end, other in ((link.a, link.b), (link.b, link.a)):
            if end.ns == route.ns and end.dev == route.dev:
                return f"{other.ns}/{other.dev}" in held
    return False


def set_link(ns: str, dev: str, up: bool) -> None:
    ip("link", "set", "dev", dev, "up" if up else "down", ns=ns)


def link_state(ns: str, dev: str) -> str:
    proc = ip("-o", "link", "show", "dev", dev, ns=ns, check=False)
    if proc.returncode != 0:
        return "missing"
    flags = proc.stdout.split("<", 1)[-1].split(">", 1)[0].split(",")
    if "UP" not in flags:
        return "down"
    return "up" if "LOWER_UP" in flags else "no-carrier"


def pids_in(ns: str) -> list[int]:
    proc = ip("netns", "pids", ns, check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def kill_all(ns_list: Iterable[str], grace: float = 3.0) -> int:
    """SIGTERM every process in the namespaces, then SIGKILL what is left; return the count."""
    targets = {pid for ns in ns_list for pid in pids_in(ns)} - {os.getpid()}
    for pid in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = set(targets)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = {pid for pid in alive if _running(pid)}
    for pid in alive:
        _signal(pid, signal.SIGKILL)
    return len(targets)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _running(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie; reaps it if it is our child."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def teardown(prefix: str = PREFIX) -> dict[str, int]:
    """Remove every ``prefix`` namespace (after killing its processes) and root interface."""
    found = namespaces(prefix)
    killed = kill_all(found)
    for ns in found:
        ip("netns", "del", ns, check=False)
    links = root_links(prefix)
    for dev in links:
        ip("link", "del", "dev", dev, check=False)
    return {"namespaces": len(found), "processes": killed, "root_links": len(links)}
