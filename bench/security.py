"""Security scans, side by side with nmap, in throw-away namespaces (root; 198.19.x only).

1. ARP sweep of a /24 with 50 answering addresses: ours (scapy, paced) vs ``nmap -sn -PR``.
   Goal: under 5 s.
2. SYN scan of 50 hosts x 1,000 ports (3 open on each): ours (scapy-crafted SYNs, paced to
   ``--rate``) vs ``nmap -sS`` at the same ``--max-rate``, and nmap unthrottled (-T4).
   Goal: under 60 s at the configured rate. The open-port sets must agree.

Run: ``python -m bench.security [--rate 2000]``. Everything is bounded and torn down.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from threenines.security import scapy_net, scapy_scan
from threenines.security.config import Scope
from threenines.security.testnet import TestNet

HOSTS, OPEN = 50, (22, 80, 443)
LISTEN = """
import socket, sys, time
ss = [socket.create_server(("0.0.0.0", int(p)), backlog=512) for p in sys.argv[1:]]
time.sleep(900)
"""


def nmap(args: list[str], timeout: float = 300) -> tuple[float, ET.Element]:
    start = time.monotonic()
    out = subprocess.run(
        ["nmap", "-n", "-oX", "-", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    ).stdout
    return time.monotonic() - start, ET.fromstring(out)


def _get(el: ET.Element, child: str, attr: str) -> str:
    node = el.find(child)
    return "" if node is None else node.get(attr, "")


def nmap_up(root: ET.Element) -> set[str]:
    return {
        _get(h, "address", "addr") for h in root.iter("host") if _get(h, "status", "state") == "up"
    }


def nmap_open(root: ET.Element) -> dict[str, set[int]]:
    return {
        _get(h, "address", "addr"): {
            int(p.get("portid", "0")) for p in h.iter("port") if _get(p, "state", "state") == "open"
        }
        for h in root.iter("host")
    }


def row(name: str, seconds: float, detail: str, goal: float | None = None) -> None:
    verdict = "" if goal is None else ("  (goal met)" if seconds < goal else "  (GOAL MISSED)")
    print(f"  {name:<38} {seconds:8.2f} s   {detail}{verdict}", flush=True)


def arp_bench(net: TestNet, rate: float) -> None:
    print(f"ARP sweep of {net.cidr} ({HOSTS} answering), rate {rate:g}/s", flush=True)
    scope = Scope((ipaddress.IPv4Network(net.cidr),))
    scapy_net.vendor("00:00:00:00:00:00")  # import scapy first: a one-off ~1-2 s at start-up
    start = time.monotonic()
    replies = scapy_net.sweep(net.bridge, [net.cidr], scope, rate, 1.0)
    ours_t, ours = time.monotonic() - start, {r.psrc for r in replies}
    row("threenines sweep", ours_t, f"{len(ours)} up", goal=5.0)
    t, root = nmap(["-sn", "-PR", "-e", net.bridge, net.cidr])
    theirs = nmap_up(root) - {net.addr(1)}  # nmap lists the scanning host itself
    row("nmap -sn -PR", t, f"{len(theirs)} up")
    print(f"  agree: {ours == theirs}   ratio ours/nmap: {ours_t / t:.2f}", flush=True)


def syn_bench(net: TestNet, hosts: list[str], rate: float) -> None:
    total = len(hosts) * 1000
    print(f"SYN scan {len(hosts)} hosts x 1000 ports = {total} probes", flush=True)
    scope = Scope((ipaddress.IPv4Network(net.cidr),))
    start = time.monotonic()
    ours = scapy_scan.syn_scan(hosts, range(1, 1001), scope, rate, 1.0, iface=net.bridge)
    ours_t = time.monotonic() - start
    n_open = sum(len(v) for v in ours.values())
    row(f"threenines SYN (rate {rate:g}/s)", ours_t, f"{n_open} open", goal=60.0)
    common = ["-sS", "-Pn", "-p", "1-1000", "-e", net.bridge, *hosts]
    t1, r1 = nmap(["--max-rate", str(int(rate)), *common])
    row(f"nmap -sS --max-rate {rate:g}", t1, f"{sum(map(len, nmap_open(r1).values()))} open")
    t2, r2 = nmap(["-T4", *common])
    row("nmap -sS -T4 (unthrottled)", t2, f"{sum(map(len, nmap_open(r2).values()))} open")
    start = time.monotonic()
    fast = scapy_scan.syn_scan(hosts, range(1, 1001), scope, 25_000, 1.0, iface=net.bridge)
    fast_t = time.monotonic() - start
    row("threenines SYN (rate 25000/s)", fast_t, f"{sum(map(len, fast.values()))} open")
    agree = all(ours[h] == nmap_open(r1).get(h, set()) == fast[h] for h in hosts)
    print(
        f"  agree with nmap: {agree}   ratio ours/nmap(same rate): {ours_t / t1:.2f}  "
        f"ours@25k/nmap -T4: {fast_t / t2:.2f}",
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=2000.0, help="packets per second")
    args = ap.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    if os.geteuid() != 0:
        print("bench.security needs root (namespaces, raw sockets); skipped")
        return 0
    net = TestNet().up()
    listener = None
    try:
        net.add_host("hosts", list(range(10, 10 + HOSTS)))
        hosts = [net.addr(i) for i in range(10, 10 + HOSTS)]
        for h in (hosts[0], hosts[-1]):
            net.assert_routed(h)
        listener = net.popen("hosts", [sys.executable, "-c", LISTEN, *map(str, OPEN)])
        time.sleep(0.5)
        arp_bench(net, args.rate)
        syn_bench(net, hosts, args.rate)
    finally:
        if listener:
            listener.kill()
            listener.wait()
        net.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
