"""The lab state directory: pidfiles, logs, generated configs, certificates, active faults.

It lives on tmpfs by default (``/run/threenines-lab``), so it vanishes on reboot together with the
namespaces it describes. Mutations take ``ops.lock``; ``exclusive()`` takes a second, longer lock
so two test sessions (or a test and the demo) never share or tear down each other's lab.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path("/run/threenines-lab")


class LabError(Exception):
    """A lab operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class State:
    root: Path = DEFAULT_DIR

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def faults_file(self) -> Path:
        return self.root / "faults.json"

    @property
    def info_file(self) -> Path:
        return self.root / "lab.json"

    @property
    def haproxy_socket(self) -> Path:
        return self.root / "haproxy.sock"

    @property
    def ca_file(self) -> Path:
        return self.pki / "ca.pem"

    def ensure(self) -> None:
        for path in (self.root, self.pids, self.logs, self.pki):
            path.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)

    def read_json(self, path: Path, default: Any) -> Any:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            raise LabError(f"cannot read {path}: {exc}") from None

    def write_json(self, path: Path, data: Any) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    @contextlib.contextmanager
    def ops_lock(self) -> Iterator[None]:
        self.ensure()
        with _flock(self.root / "ops.lock", timeout=60.0, what="another lab command"):
            yield

    @contextlib.contextmanager
    def exclusive(self, timeout: float = 600.0) -> Iterator[None]:
        """Hold the lab for one user (a test module, the demo) until the block ends."""
        lock = self.root.parent / f"{self.root.name}.session.lock"
        with _flock(lock, timeout=timeout, what="another lab session (test or demo)"):
            yield


@contextlib.contextmanager
def _flock(path: Path, *, timeout: float, what: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(f"{path} is held by {what} for over {timeout:g}s") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock
