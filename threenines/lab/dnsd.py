"""The council's DNS in the lab: a small authoritative server for ``council.lab`` (dnspython).

Each data centre runs one on port 53 (UDP and TCP). Both read the same zone file in the state
directory and reload it when it changes, so a test can simulate a hijacked record by editing it.
Names outside the zone are REFUSED (it is not a resolver). ``zone_text`` builds the zone from the
topology: ``portal`` -> the front door, ``dc-main``/``dc-mirror``, ``gw-<site>`` -> WAN gateways.

Run: ``python -m lab.dnsd --address 198.18.21.10 --zone /run/threenines-lab/dns/council.lab.zone``.
"""

from __future__ import annotations

import argparse
import signal
import socket
import socketserver
import struct
import threading
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.zone

from threenines.lab.topology import Topology, site_addresses


def zone_text(topo: Topology, domain: str = "council.lab") -> str:
    dcs = topo.by_role("dc")
    lines = [
        f"$ORIGIN {domain}.",
        "$TTL 60",
        "@ SOA ns1 hostmaster 1 3600 600 86400 60",
        *(f"@ NS ns{i + 1}" for i in range(len(dcs))),
        *(f"ns{i + 1} A {dc.address}" for i, dc in enumerate(dcs)),
        *(f"{dc.name} A {dc.address}" for dc in dcs),
    ]
    for node in topo.by_role("front-door"):
        lines += [f"portal A {node.address}", f"{node.name} A {node.address}", "www CNAME portal"]
    for i, node in enumerate(topo.by_role("site")):
        lines += [
            f"gw-{node.name} A {site_addresses(i)['gateway']}",
            f"{node.name} A {node.address}",
        ]
    return "\n".join(lines) + "\n"


class Zone:
    """The zone file, re-read when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path, self.lock = path, threading.Lock()
        self.mtime = -1.0
        self.zone: dns.zone.Zone | None = None
        self.refresh()

    def refresh(self) -> dns.zone.Zone:
        with self.lock:
            mtime = self.path.stat().st_mtime
            if mtime != self.mtime or self.zone is None:
                self.zone = dns.zone.from_file(str(self.path), relativize=False)
                self.mtime = mtime
            return self.zone

    def answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # garbage on port 53 is expected; dnspython raises many kinds
            return None
        response = dns.message.make_response(query)
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        zone = self.refresh()
        if zone.origin is None or not question.name.is_subdomain(zone.origin):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        response.flags |= dns.flags.AA
        node = zone.get_node(question.name)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            for rtype in (question.rdtype, dns.rdatatype.CNAME):
                rdataset = node.get_rdataset(question.rdclass, rtype)
                if rdataset is not None:
                    rrset = response.find_rrset(
                        response.answer, question.name, question.rdclass, rtype, create=True
                    )
                    rrset.update(rdataset)
                    break
        return response.to_wire()


def _udp(sock: socket.socket, zone: Zone) -> None:
    while True:
        wire, peer = sock.recvfrom(4096)
        reply = zone.answer(wire)
        if reply is not None:
            sock.sendto(reply, peer)


class _Tcp(socketserver.BaseRequestHandler):
    zone: Zone

    def handle(self) -> None:
        self.request.settimeout(5.0)
        try:
            head = self.request.recv(2)
            (length,) = struct.unpack("!H", head)
            wire = b""
            while len(wire) < length:
                chunk = self.request.recv(length - len(wire))
                if not chunk:
                    return
                wire += chunk
        except (OSError, struct.error):
            return
        reply = self.zone.answer(wire)
        if reply is not None:
            self.request.sendall(struct.pack("!H", len(reply)) + reply)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Authoritative DNS for the lab zone")
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--zone", type=Path, required=True)
    args = parser.parse_args(argv)
    zone = Zone(args.zone)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((args.address, args.port))
    threading.Thread(target=_udp, args=(udp, zone), daemon=True).start()
    handler = type("Handler", (_Tcp,), {"zone": zone})
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    tcp = socketserver.ThreadingTCPServer((args.address, args.port), handler)
    tcp.daemon_threads = True
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"dns {zone.refresh().origin} on {args.address}:{args.port}", flush=True)
    done.wait()
    tcp.shutdown()


if __name__ == "__main__":
    main()
