"""A tiny WAN emulator for kernels without ``sch_netem``: delay (and drop) packets via NFQUEUE.

The lab prefers ``tc qdisc ... netem``. Where the kernel lacks netem (some cloud and microVM
kernels), ``lab.faults`` sends a link's egress packets to an NFQUEUE with iptables and runs this
process in the core namespace: it holds each packet for ``--delay`` milliseconds and then
accepts it (FIFO, so order is kept), or drops it with probability ``--loss`` percent.

It speaks nfnetlink_queue directly over a netlink socket (stdlib only): bind the queue, copy
metadata only, and send one verdict per packet. Run: ``python -m lab.wanem --queue N --delay MS``.
"""

from __future__ import annotations

import argparse
import collections
import errno
import random
import select
import signal
import socket
import struct
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 0, 1, 2
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
CFG_CMD, CFG_PARAMS = 1, 2
CMD_BIND, CMD_UNBIND = 1, 2
COPY_META = 1
PACKET_HDR, VERDICT_HDR = 1, 2
NF_DROP, NF_ACCEPT = 0, 1
SOL_NETLINK, NETLINK_NO_ENOBUFS = 270, 5


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _message(kind: int, queue: int, attrs: bytes, flags: int, seq: int) -> bytes:
    body = struct.pack("=BB", socket.AF_INET, 0) + struct.pack(">H", queue) + attrs
    return (
        struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body
    )


class Queue:
    def __init__(self, num: int) -> None:
        self.num, self.seq = num, 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        self.sock.bind((0, 0))
        cmd = struct.pack("=BB", CMD_BIND, 0) + struct.pack(">H", socket.AF_INET)
        self._config(_attr(CFG_CMD, cmd))
        self._config(_attr(CFG_PARAMS, struct.pack(">IB", 0, COPY_META)))

    def _config(self, attrs: bytes) -> None:
        self.seq += 1
        self.sock.send(_message(MSG_CONFIG, self.num, attrs, NLM_F_REQUEST | NLM_F_ACK, self.seq))
        data = self.sock.recv(65536)
        _len, kind = struct.unpack_from("=IH", data)
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, 16)
            if code:
                raise OSError(-code, f"nfqueue config: {errno.errorcode.get(-code, code)}")

    def packets(self) -> list[int]:
        """Packet ids from one read of the socket (several messages may arrive together)."""
        data = self.sock.recv(1 << 16)
        ids: list[int] = []
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | MSG_PACKET:
                pos, end = offset + 20, offset + length  # after nlmsghdr + nfgenmsg
                while pos + 4 <= end:
                    alen, atype = struct.unpack_from("=HH", data, pos)
                    if alen < 4:
                        break
                    if atype & 0x3FFF == PACKET_HDR:
                        ids.append(struct.unpack_from(">I", data, pos + 4)[0])
                    pos += (alen + 3) & ~3
            offset += (length + 3) & ~3
        return ids

    def verdict(self, packet_id: int, verdict: int) -> None:
        self.seq += 1
        attrs = _attr(VERDICT_HDR, struct.pack(">II", verdict, packet_id))
        self.sock.send(_message(MSG_VERDICT, self.num, attrs, NLM_F_REQUEST, self.seq))


def run(queue: Queue, delay: float, loss: float, stop: list[bool]) -> None:
    held: collections.deque[tuple[float, int]] = collections.deque()
    while not stop[0]:
        wait = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
        readable, _, _ = select.select([queue.sock], [], [], wait)
        if readable:
            try:
                ids = queue.packets()
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.ENOBUFS):
                    continue
                raise
            now = time.monotonic()
            for pid in ids:
                if loss and random.random() * 100 < loss:
                    queue.verdict(pid, NF_DROP)
                else:
                    held.append((now + delay, pid))
        now = time.monotonic()
        while held and held[0][0] <= now:
            queue.verdict(held.popleft()[1], NF_ACCEPT)
    for _, pid in held:  # let what we hold go on exit rather than lose it
        queue.verdict(pid, NF_ACCEPT)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="NFQUEUE delay/loss emulator for the lab")
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="milliseconds")
    parser.add_argument("--loss", type=float, default=0.0, help="percent")
    args = parser.parse_args(argv)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
    queue = Queue(args.queue)
    print(f"wanem queue {args.queue}: delay {args.delay}ms loss {args.loss}%", flush=True)
    run(queue, args.delay / 1000.0, args.loss, stop)


if __name__ == "__main__":
    main()
