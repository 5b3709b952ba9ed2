"""Faults on demand: one small kind per entry in ``KINDS``, recorded in ``faults.json``.

    link-down SITE           the core's port to the site goes down (only that site is cut off)
    loss SITE 30%            packet loss on the core -> site direction of the WAN link
    latency SITE 200ms       added delay on the core -> site direction of the WAN link
    service-stop NODE NAME   a lab service (portal, snmpd, dns, postgres, haproxy) is stopped
    dc-cut DC                the core's port to the data centre goes down
    replay-pause DC          the DC's database standby stops replaying (it falls behind)

Loss and latency use ``tc netem`` when the kernel has it; otherwise iptables (``statistic`` for
loss, ``NFQUEUE`` + ``lab.wanem`` for delay) in the core namespace. Both give the same effect on
the same interface. A fault is reverted by ``clear``; ``held`` tells ``lab up`` what to leave
alone so re-running it never silently undoes an active fault.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from threenines.lab import database, netns, procs, services
from threenines.lab.state import LabError, State
from threenines.lab.topology import PREFIX, Topology

CORE_NS = PREFIX + "core"


@dataclass(frozen=True)
class Fault:
    id: int
    kind: str
    target: str
    value: str | None = None
    created: float = 0.0

    def describe(self) -> str:
        return " ".join(p for p in (self.kind, self.target, self.value) if p)


@dataclass(frozen=True)
class Kind:
    roles: tuple[str, ...]  # node roles the target may have
    value: Callable[[str | None, str], str | None]  # normalise/validate VALUE (target given)
    apply: Callable[[State, Topology, Fault], None]
    revert: Callable[[State, Topology, Fault], None]


def _no_value(value: str | None, _target: str) -> str | None:
    if value:
        raise LabError(f"this fault takes no value (got {value!r})")
    return None


def _percent(value: str | None, _target: str) -> str:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%?", (value or "").strip())
    if not match or not 0 < float(match.group(1)) <= 100:
        raise LabError(f"loss needs a percentage in (0, 100], e.g. 30% (got {value!r})")
    return f"{float(match.group(1)):g}%"


def _millis(value: str | None, _target: str) -> str:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s)?", (value or "").strip())
    if not match:
        raise LabError(f"latency needs a duration, e.g. 200ms or 1.5s (got {value!r})")
    ms = float(match.group(1)) * (1000 if match.group(2) == "s" else 1)
    if not 0 < ms <= 60_000:
        raise LabError(f"latency must be between 0 and 60s (got {value!r})")
    return f"{ms:g}ms"


def _core_dev(fault: Fault) -> str:
    return f"to-{fault.target}"


def _link(up: bool) -> Callable[[State, Topology, Fault], None]:
    def act(_state: State, topo: Topology, fault: Fault) -> None:
        netns.set_link(CORE_NS, _core_dev(fault), up)
        if up:  # taking a link down flushed the routes through it
            netns.apply(topo, skip_up=held_links(_others(_state, fault)))
            # ARP entries that failed while the link was down would refuse the first packets
            link = topo.link(fault.target)
            for end in (link.a, link.b):
                netns.ip("neigh", "flush", "dev", end.dev, ns=end.ns, check=False)

    return act


def _service_stop(state: State, topo: Topology, fault: Fault) -> None:
    services.stop(state, topo.node(fault.target), str(fault.value))


def _service_start(state: State, topo: Topology, fault: Fault) -> None:
    node = topo.node(fault.target)
    services.start(state, topo, node, str(fault.value))
    cut = any(f.kind == "dc-cut" and f.target == node.name for f in _others(state, fault))
    if not cut:  # answering again before `clear` returns; unreachable if its DC is cut off
        services.wait_service(topo, node, str(fault.value))
    if fault.value == "postgres":  # a restarted standby replays again
        reassert(state, topo, _others(state, fault))


def _replay(pause: bool) -> Callable[[State, Topology, Fault], None]:
    # Replay stops; the standby still receives WAL, so it catches up the moment it resumes.
    def act(state: State, topo: Topology, fault: Fault) -> None:
        node = topo.node(fault.target)
        proc = procs.get(state, node.ns, "postgres")
        if not pause and (proc is None or not proc.running):
            return  # stopped by another fault: it replays when started again
        database.sql(
            node, f"select pg_wal_replay_{'pause' if pause else 'resume'}()", db="postgres"
        )

    return act


def _impair_fault(state: State, topo: Topology, fault: Fault) -> None:
    impair(state, topo, fault.target, [*_others(state, fault), fault])


def _unimpair_fault(state: State, topo: Topology, fault: Fault) -> None:
    impair(state, topo, fault.target, _others(state, fault))


KINDS: dict[str, Kind] = {
    "link-down": Kind(("site",), _no_value, _link(False), _link(True)),
    "dc-cut": Kind(("dc",), _no_value, _link(False), _link(True)),
    "loss": Kind(("site",), _percent, _impair_fault, _unimpair_fault),
    "latency": Kind(("site",), _millis, _impair_fault, _unimpair_fault),
    "service-stop": Kind(("dc", "front-door"), lambda v, _t: v, _service_stop, _service_start),
    "replay-pause": Kind(("dc",), _no_value, _replay(True), _replay(False)),
}


def parse(topo: Topology, kind: str, target: str, value: str | None) -> Fault:
    """Validate a fault request against the topology; pure (no system access)."""
    spec = KINDS.get(kind)
    if spec is None:
        raise LabError(f"unknown fault kind {kind!r} (known: {', '.join(KINDS)})")
    try:
        node = topo.node(target)
    except KeyError as exc:
        raise LabError(str(exc.args[0])) from None
    if node.role not in spec.roles:
        wanted = ", ".join(n.name for n in topo.nodes if n.role in spec.roles)
        raise LabError(f"{kind} applies to {wanted}; {node.name} is a {node.role}")
    if kind == "service-stop":
        offered = services.names_for(topo, node)
        if value not in offered:
            raise LabError(f"{node.name} runs {', '.join(offered)}; which one? (got {value!r})")
    if kind == "replay-pause":
        if not database.runs(topo, node, "postgres"):
            raise LabError(database.MISSING)
        if not database.is_replica(topo, node):
            standbys = ", ".join(n.name for n in topo.nodes if database.is_replica(topo, n))
            raise LabError(f"{node.name} runs the primary database; standbys: {standbys}")
    return Fault(0, kind, node.name, spec.value(value, node.name))


# -- records ------------------------------------------------------------------------------


def active(state: State) -> list[Fault]:
    data = state.read_json(state.faults_file, {"next_id": 1, "faults": []})
    return [Fault(**f) for f in data["faults"]]


def _save(state: State, faults: list[Fault], next_id: int) -> None:
    state.write_json(state.faults_file, {"next_id": next_id, "faults": [asdict(f) for f in faults]})


def _others(state: State, fault: Fault) -> list[Fault]:
    return [f for f in active(state) if f.id != fault.id]


def add(state: State, topo: Topology, kind: str, target: str, value: str | None = None) -> Fault:
    """Inject a fault and record it; an identical active fault is an error, not a duplicate."""
    request = parse(topo, kind, target, value)
    current = active(state)
    for f in current:
        if (f.kind, f.target) == (request.kind, request.target) and f.value == request.value:
            raise LabError(f"fault {f.id} ({f.describe()}) is already active")
        if f.kind in ("loss", "latency") and (f.kind, f.target) == (request.kind, request.target):
            raise LabError(f"fault {f.id} ({f.describe()}) already sets {f.kind}; clear it first")
    data = state.read_json(state.faults_file, {"next_id": 1, "faults": []})
    fault = Fault(int(data["next_id"]), request.kind, request.target, request.value, time.time())
    KINDS[fault.kind].apply(state, topo, fault)
    _save(state, [*current, fault], fault.id + 1)
    return fault


def clear(state: State, topo: Topology, fault_id: int | None = None) -> list[Fault]:
    """Revert one fault (or all when ``fault_id`` is None); return what was cleared."""
    data = state.read_json(state.faults_file, {"next_id": 1, "faults": []})
    current = active(state)
    chosen = [f for f in current if fault_id is None or f.id == fault_id]
    if fault_id is not None and not chosen:
        raise LabError(f"no active fault {fault_id} (see `threenines lab fault list`)")
    for fault in reversed(chosen):
        KINDS[fault.kind].revert(state, topo, fault)
        current = [f for f in current if f.id != fault.id]
        _save(state, current, int(data["next_id"]))
    return chosen


def held_links(faults: list[Fault]) -> set[str]:
    return {f"{CORE_NS}/to-{f.target}" for f in faults if f.kind in ("link-down", "dc-cut")}


def held_services(faults: list[Fault]) -> set[tuple[str, str]]:
    return {(f.target, str(f.value)) for f in faults if f.kind == "service-stop"}


def reapply(state: State, topo: Topology) -> None:
    """Re-assert loss/latency after ``lab up`` rebuilt namespaces (links/services are held)."""
    faults = active(state)
    for target in sorted({f.target for f in faults if f.kind in ("loss", "latency")}):
        impair(state, topo, target, faults)


def reassert(state: State, topo: Topology, faults: list[Fault] | None = None) -> None:
    """Pause replay again on standbys that a fault paused, once their PostgreSQL runs (a
    restarted standby replays; pausing one that already is paused changes nothing)."""
    for fault in active(state) if faults is None else faults:
        if fault.kind == "replay-pause":
            proc = procs.get(state, topo.node(fault.target).ns, "postgres")
            if proc is not None and proc.running:
                database.wait_ready(topo.node(fault.target))
                KINDS["replay-pause"].apply(state, topo, fault)


# -- loss and latency ---------------------------------------------------------------------


def impair(state: State, topo: Topology, site: str, faults: list[Fault]) -> str:
    """Set the core->``site`` impairment to what ``faults`` ask for; return the backend used."""
    mine = [f for f in faults if f.target == site and f.kind in ("loss", "latency")]
    loss = sum(float(str(f.value).rstrip("%")) for f in mine if f.kind == "loss")
    delay = sum(float(str(f.value).removesuffix("ms")) for f in mine if f.kind == "latency")
    dev, chain, name = f"to-{site}", f"tn-imp-{site}"[:28], f"wanem-{site}"
    subprocess.run(["tc", "-n", CORE_NS, "qdisc", "del", "dev", dev, "root"], capture_output=True)
    _iptables("-D", "POSTROUTING", "-o", dev, "-j", chain, check=False)
    _iptables("-F", chain, check=False)
    _iptables("-X", chain, check=False)
    procs.stop(state, CORE_NS, name)
    if not mine:
        return "none"
    netem = ["netem", *(["delay", f"{delay:g}ms"] if delay else [])]
    netem += ["loss", f"{loss:g}%"] if loss else []
    cmd = ["tc", "-n", CORE_NS, "qdisc", "replace", "dev", dev, "root", *netem]
    tried = subprocess.run(cmd, capture_output=True, text=True)
    if tried.returncode == 0:
        return "netem"
    _iptables("-N", chain)
    if loss:
        prob = f"{min(loss, 100.0) / 100:.4f}"
        _iptables(
            "-A", chain, "-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP"
        )
    if delay:
        queue = str(100 + [s.name for s in topo.by_role("site")].index(site))
        _iptables("-A", chain, "-j", "NFQUEUE", "--queue-num", queue, "--queue-bypass")
        argv = [
            sys.executable,
            "-m",
            "threenines.lab.wanem",
            "--queue",
            queue,
            "--delay",
            f"{delay:g}",
        ]
        env = {"PYTHONPATH": str(services.PROJECT)}
        procs.spawn(state, CORE_NS, name, argv, env=env, cwd=services.PROJECT)
        _wait_queue_bound(queue)
    _iptables("-A", "POSTROUTING", "-o", dev, "-j", chain)
    return "iptables"


def _wait_queue_bound(queue: str, timeout: float = 5.0) -> None:
    """Wait until wanem holds the queue, so the fault is in force when ``add`` returns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = netns.run_in(CORE_NS, ["cat", "/proc/net/netfilter/nfnetlink_queue"]).stdout
        if any(line.split()[:1] == [queue] for line in table.splitlines()):
            return
        time.sleep(0.02)
    raise LabError(f"the WAN emulator did not bind NFQUEUE {queue} within {timeout:g}s")


def _iptables(*args: str, check: bool = True) -> None:
    argv = ["ip", "netns", "exec", CORE_NS, "iptables", "-w", "5", "-t", "mangle", *args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabError(f"`{' '.join(argv[4:])}` failed: {proc.stderr.strip()}")
