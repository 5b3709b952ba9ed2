"""A PostgreSQL server of our own (initdb, pg_ctl) on a free loopback port, which a test or a
benchmark may stop and start again: a database outage that is real, not the shared server's.
``private_postgres(require)``: ``require(ok, reason)`` decides what a missing initdb means
(tests: skip, or fail under CI=true).

initdb refuses to run as root, so under root the server runs as the ``postgres`` user, in a
directory of its own outside pytest's (which only root may enter).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def _bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    def __init__(self, initdb: str, pg_ctl: str):
        self.dir = Path(tempfile.mkdtemp(prefix="threenines-pg-"))
        self.pg_ctl = pg_ctl
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._user: list[str] = []
        if os.geteuid() == 0:
            self._user = ["runuser", "-u", "postgres", "--"]
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(initdb, "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-N")

    def _run(self, *argv: str) -> None:
        res = subprocess.run([*self._user, *argv], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir}"
        log = str(self.dir / "server.log")
        self._run(self.pg_ctl, "-D", str(self.dir), "-o", opts, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.dir), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def private_postgres(
    require: Callable[[bool, str], None] | None = None,
) -> Iterator[PrivatePostgres]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if require is not None:
        require(initdb is not None and pg_ctl is not None, "needs initdb and pg_ctl (postgresql)")
    assert initdb is not None and pg_ctl is not None
    pg = PrivatePostgres(initdb, pg_ctl)
    try:
        pg.start()
        yield pg
    finally:
        with contextlib.suppress(AssertionError):
            pg.stop()
        shutil.rmtree(pg.dir, ignore_errors=True)
