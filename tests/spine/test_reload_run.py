"""Reload without a gap (issue 18), with real processes: a ``threenines run`` subprocess on
SQLite probing a loopback HTTP server; the config file rewritten under it.

``threenines reload --pid-file`` (SIGHUP) applies one check changed, one added and one removed
while 20 others run every 200 ms; none of those 20 has a gap (their state interval is never
closed for lack of data, the longest silence between results stays below their ``max_gap``),
the changed check keeps its state interval, the removed one stops. Then an invalid file,
reloaded through the API with an admin token (and by ``threenines reload --token-file``), is
refused with its problem and the running config is kept; without a token the API answers 401,
with a viewer's 403. The service tells systemd's notify socket when it is ready and reloading.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bench._wait import until
from threenines.app.cli import app as cli

EXE = str(Path(sys.executable).parent / "threenines")
KEPT = 20  # unchanged checks, every 200 ms
INTERVAL = 0.2
TIMEOUT = 1.0
MAX_GAP = 2 * INTERVAL + TIMEOUT  # the "no data" rule for these checks (no retries)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # 22 checks connect at once, every 200 ms
    daemon_threads = True


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[int]:
    srv = _Server(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path, listen: int, target: int, checks: list[str], extra: str = "") -> str:
    lines = [
        f"storage: {{url: 'sqlite:///{tmp}/r.db', flush_interval: 50ms, spool: '{tmp}/sp.db'}}",
        f"server: {{listen: '127.0.0.1:{listen}'}}",
        "sites: [{name: dc1, kind: datacentre}]",
        "services:",
        "  - name: web",
        "    site: dc1",
        "    checks:",
    ]
    for c in checks:
        name, _, path = c.partition(":")
        lines.append(f"      - {{name: {name}, type: http, url: 'http://127.0.0.1:{target}/"
                     f"{path or name}', interval: {INTERVAL}s, timeout: {TIMEOUT}s, "
                     f"retries: 0}}")  # fmt: skip
    return "\n".join(lines) + "\n" + extra


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _token(cfg: Path, role: str) -> str:
    made = CliRunner().invoke(cli, ["token", "create", "--role", role, "--name", "ops",
                                    "-c", str(cfg)])  # fmt: skip
    assert made.exit_code == 0, made.output
    return str(made.stdout.strip().splitlines()[-1])


def test_reload_under_load_no_gap_and_invalid_kept(tmp_path: Path, target: int) -> None:
    port = _free_port()
    kept = [f"k{i}" for i in range(KEPT)]
    cfg, db, pid_file = tmp_path / "c.yaml", tmp_path / "r.db", tmp_path / "run.pid"
    cfg.write_text(_config(tmp_path, port, target, [*kept, "chg", "gone"]))
    admin, viewer = _token(cfg, "admin"), _token(cfg, "viewer")
    log = (tmp_path / "run.log").open("wb")
    # systemd's readiness protocol (Type=notify), on a datagram socket of the test's own
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    proc = subprocess.Popen([EXE, "run", "-c", str(cfg), "--pid-file", str(pid_file)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        count = "SELECT count(DISTINCT check_id) FROM results"
        until("every check's first result", lambda: db.exists() and _rows(db, count)[0][0] >= 22,
              limit=60, every=0.1)  # fmt: skip
        started = time.time()
        time.sleep(0.5)
        # one changed (its path), one added, one removed; the 20 others as they were
        cfg.write_text(_config(tmp_path, port, target, [*kept, "chg:changed", "new"]))
        done = subprocess.run([EXE, "reload", "-c", str(cfg), "--pid-file", str(pid_file),
                               "--json"], capture_output=True, text=True, timeout=60)  # fmt: skip
        reloaded = time.time()
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["result"] == "applied", answer
        assert answer["source"] == "SIGHUP"
        assert answer["checks"] == {"added": ["web/new"], "removed": ["web/gone"],
                                    "changed": ["web/chg"], "unchanged": KEPT}  # fmt: skip
        new = "SELECT count(*) FROM results WHERE check_id = 'web/new'"
        until("the added check's results", lambda: _rows(db, new)[0][0] >= 3, limit=30)
        assert len(list(pid_file.read_text().split())) == 1

        # an invalid file, through the API: refused, the running config kept
        cfg.write_text(_config(tmp_path, port, target, [*kept, "chg:changed", "new"],
                               extra="target: 101\n"))  # fmt: skip
        assert httpx.post(f"{url}/api/v1/config/reload").status_code == 401
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        assert httpx.post(f"{url}/api/v1/config/reload", headers=as_viewer).status_code == 403
        r = httpx.post(f"{url}/api/v1/config/reload", headers={"Authorization": f"Bearer {admin}"},
                       timeout=30)  # fmt: skip
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["result"] == "refused"
        assert body["problems"] == [f"{cfg}:30 target: Input should be less than or equal to 100"]
        health = httpx.get(f"{url}/healthz").json()
        assert health["checks"] == KEPT + 2
        assert health["config"]["last_reload"]["result"] == "refused"
        # validate (no body: the file) says the same, and applies nothing
        v = httpx.post(f"{url}/api/v1/config/validate",
                       headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
        assert v.status_code == 422 and v.json()["problems"] == body["problems"]
        # the CLI through the API: an admin token file; without one, a one-line refusal
        (tmp_path / "admin.token").write_text(admin + "\n")
        by_api = subprocess.run([EXE, "reload", "--server", url, "--token-file",
                                 str(tmp_path / "admin.token")], capture_output=True, text=True,
                                timeout=60, env={**env, "THREENINES_TOKEN": ""})  # fmt: skip
        assert by_api.returncode == 2, by_api.stderr
        assert "refused, the running config is kept" in by_api.stderr
        assert body["problems"][0] in by_api.stderr
        no_token = subprocess.run([EXE, "reload", "--server", url], capture_output=True,
                                  text=True, timeout=60,
                                  env={**env, "THREENINES_TOKEN": ""})  # fmt: skip
        assert no_token.returncode == 2 and len(no_token.stderr.splitlines()) == 1
        assert "needs an admin token" in no_token.stderr
        metrics = httpx.get(f"{url}/metrics").text
        assert 'threenines_config_reloads_total{result="refused"} 2.0' in metrics
        assert 'threenines_config_reloads_total{result="applied"} 1.0' in metrics
        time.sleep(0.5)
    finally:
        stopping = time.time()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        notify.setblocking(False)
        told = []
        while True:
            try:
                told += notify.recv(4096).decode().splitlines()
            except BlockingIOError:
                break
        notify.close()
    assert proc.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert not pid_file.exists()  # removed at exit
    # ready once serving; around each reload (SIGHUP, then the API) reloading ... ready
    states = [t for t in told if t in ("READY=1", "RELOADING=1", "STOPPING=1")]
    assert states == ["READY=1", *["RELOADING=1", "READY=1"] * 3, "STOPPING=1"], told
    assert any(t.startswith("MONOTONIC_USEC=") for t in told)
    text = (tmp_path / "run.log").read_text()
    assert "reload of" in text and "refused, the running config is kept" in text
    assert "target: Input should be less than or equal to 100" in text

    for name in kept:  # no gap: one interval each, never closed for lack of data
        ts = [r[0] for r in _rows(db, "SELECT ts FROM results WHERE check_id = ? ORDER BY ts",
                                  f"web/{name}")]  # fmt: skip
        assert ts[0] < started and ts[-1] > stopping - MAX_GAP
        assert max(b - a for a, b in itertools.pairwise(ts)) < MAX_GAP, name
        spans = _rows(db, "SELECT state, start FROM state_intervals WHERE check_id = ?",
                      f"web/{name}")  # fmt: skip
        bad = _rows(db, "SELECT ts, status, error, reason FROM results WHERE check_id = ? "
                    "AND status != 'up'", f"web/{name}")  # fmt: skip
        assert len(spans) == 1 and spans[0][0] == "up", (name, spans, bad)
    # the changed check kept its state interval; the removed one stopped
    spans = _rows(db, "SELECT state FROM state_intervals WHERE check_id = 'web/chg'")
    assert spans == [("up",)]
    late = _rows(db, "SELECT count(*) FROM results WHERE check_id = 'web/gone' AND ts > ?",
                 reloaded + TIMEOUT)  # fmt: skip
    assert late == [(0,)]
