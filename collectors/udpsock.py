"""Small socket helpers: ``is_ip``, the trap receiver's UDP buffer and drop counter
(Linux-specific, all optional), and ``DatagramSocket``, the poller's one UDP socket for its
v2c requests to every device."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import cast


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def enlarge_buffer(sock: socket.socket) -> None:
    """A burst of traps should wait in the kernel, not be dropped by it: ask for 8 MiB."""
    for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if opt is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 8 * 1024 * 1024)
            return
        except OSError:
            continue


def socket_drops(inode: int) -> int | None:
    """Datagrams the kernel dropped on our socket (the last column of /proc/net/udp)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    cols = line.split()
                    if len(cols) > 12 and cols[9] == str(inode):
                        return int(cols[12])
        except OSError:
            continue
    return None


Address = tuple[str, int]


class DatagramSocket(asyncio.DatagramProtocol):
    """One unconnected UDP socket (IPv4) for requests to many peers: ``sendto`` any peer,
    every datagram that comes back goes to ``on_datagram(data, addr)``. Send errors are the
    caller's timeout (an unconnected socket hears no ICMP); the kernel buffer is enlarged so
    answers from many devices at once wait there rather than being dropped."""

    def __init__(self, on_datagram: Callable[[bytes, Address], None]):
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, on_datagram: Callable[[bytes, Address], None]) -> DatagramSocket:
        loop = asyncio.get_running_loop()
        _transport, proto = await loop.create_datagram_endpoint(
            lambda: cls(on_datagram), family=socket.AF_INET
        )
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            enlarge_buffer(sock)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.on_datagram(data, addr[:2])

    def error_received(self, exc: Exception) -> None:
        pass  # the request it belonged to times out

    def sendto(self, data: bytes, addr: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
