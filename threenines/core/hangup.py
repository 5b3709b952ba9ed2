"""Signals and readiness between ``threenines run`` and whoever runs it (systemd, a script).

Light on purpose (no third-party import): ``defer_hangups`` is the first thing ``run`` does,
so that a SIGHUP while the service starts is a reload once it runs, not the default action
(terminate). ``notify`` speaks systemd's ``sd_notify`` protocol when ``$NOTIFY_SOCKET`` is
set (``Type=notify``): ``READY=1`` once serving, ``RELOADING=1`` ... ``READY=1`` around a
reload, ``STOPPING=1`` at shutdown; without the variable it does nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time


def defer_hangups() -> list[int]:
    """Until the service handles SIGHUP itself, note each one (the list returned)."""
    seen: list[int] = []
    if threading.current_thread() is threading.main_thread():  # signals are the main thread's
        signal.signal(signal.SIGHUP, lambda signum, _frame: seen.append(signum))
    return seen


def notify(*states: str) -> bool:
    """Send ``states`` (``"READY=1"``, ...) to systemd; False when not run under it."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if "RELOADING=1" in states:  # systemd wants the monotonic time of a reload's start
        states = (*states, f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto("\n".join(states).encode(), address)
    except OSError:
        return False
    return True
