"""Small socket helpers: ``is_ip``, and the trap receiver's UDP buffer and drop counter
(Linux-specific, all optional)."""

from __future__ import annotations

import ipaddress
import socket


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
