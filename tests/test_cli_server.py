"""The CLI through a running server's API (issue 18): a real ``threenines run`` subprocess on
SQLite, listening on 127.0.0.1, driven by ``--server URL --token-file PATH`` (and
THREENINES_SERVER / THREENINES_TOKEN_FILE) with no config file and so no database
credentials: status, availability, maintenance list/add/remove/approve, alerts
list/silence/silences/ack/resolve, failover status/history, report (render, deliveries, send,
verify), availability summarise, ha status. Each prints what the local mode prints (same rows,
same lines, same exit). A wrong token is one line naming the 401, exit 1, and the
token is never printed; an unreadable token file is exit 2.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner, Result

from bench._wait import until
from threenines.app.cli import app as cli

EXE = str(Path(sys.executable).parent / "threenines")
PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    url: str
    cfg: Path
    tokens: dict[str, Path]  # role -> token file
    secret: dict[str, str]  # role -> token
    mails: list[bytes]  # what the SMTP server on 127.0.0.1 received (the report receiver)

    def remote(self, *args: str, role: str = "operator", env: bool = False) -> Result:
        """``threenines ARGS`` through the server; with ``env``, the env variables instead of
        the flags. No config: a missing /etc/threenines file must not matter."""
        environ = {"THREENINES_CONFIG": str(self.cfg.parent / "absent.yaml")}
        if env:
            environ |= {"THREENINES_SERVER": self.url,
                        "THREENINES_TOKEN_FILE": str(self.tokens[role])}  # fmt: skip
            argv = list(args)
        else:
            argv = [*args, "--server", self.url, "--token-file", str(self.tokens[role])]
        return CliRunner().invoke(cli, argv, env=environ)

    def local(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "-c", str(self.cfg)])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("cliserver")
    port, closed = _free_port(), _free_port()  # nothing listens on ``closed``: the check is down
    mails: list[bytes] = []

    class Mailbox:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            mails.append(bytes(getattr(envelope, "content", b"")))
            return "250 OK"

    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=_free_port())
    smtp.start()
    mailto = (f"mailto://127.0.0.1:{smtp.port}?mode=insecure&from=threenines@example.org"
              "&to=board@example.org")  # fmt: skip
    cfg = tmp / "c.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{tmp}/s.db', flush_interval: 50ms, spool: '{tmp}/sp.db'}}\n"
        f"server: {{listen: '127.0.0.1:{port}'}}\n"
        "timezone: Europe/London\n"
        "sites: [{name: dc1, kind: datacentre}, {name: dc2, kind: datacentre, mirror_of: dc1}]\n"
        "services:\n"
        "  - name: web\n"
        "    site: dc1\n"
        "    checks:\n"
        f"      - {{name: a, type: tcp, host: 127.0.0.1, port: {closed}, interval: 200ms, "
        "timeout: 200ms, retries: 0}\n"
        # an approve-mode plan that never triggers (confirm_for 1h): approvals and cancels only
        f"failover: {{project_dir: '{PLAYBOOKS}', data_dir: '{tmp}/runs', plans: [{{name: p1, "
        "primary: dc1, mirror: dc2, trigger: {datacentre: dc1, confirm_for: 1h, quorum: 1}, "
        "guards: {mode: approve, approval_ttl: 5m}, "
        "playbook: {path: failover.yml, inventory: inventory/local.yml}, "
        "failback: {path: failback.yml, inventory: inventory/local.yml}}]}\n"
        f"alerts: {{receivers: [{{name: board, url: '{mailto}'}}]}}\n"
        # yearly, and a missed send is never caught up: the service itself sends nothing here
        "reports: {schedules: [{name: board-yearly, period: yearly, formats: [csv], "
        "receivers: [board], catch_up: 1s}], delivery: {poll_interval: 10m, max_attempts: 2}}\n"
    )
    tokens, secret = {}, {}
    for role in ("viewer", "operator", "admin"):
        made = CliRunner().invoke(cli, ["token", "create", "--role", role, "--name", f"{role}1",
                                        "-c", str(cfg)])  # fmt: skip
        assert made.exit_code == 0, made.output
        secret[role] = made.stdout.strip().splitlines()[-1]
        tokens[role] = tmp / f"{role}.token"
        tokens[role].write_text(secret[role] + "\n")
        tokens[role].chmod(0o600)
    log = (tmp / "run.log").open("wb")
    proc = subprocess.Popen([EXE, "run", "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None  # died: stop waiting, the assert below says so

    try:
        until("the server's /healthz", up, limit=60, every=0.1)
        assert proc.poll() is None, (tmp / "run.log").read_text()
        yield Running(url, cfg, tokens, secret, mails)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        smtp.stop()


def _steady(text: str) -> str:
    """``text`` without the failover plan's running clock ("seen for 3s of 3600")."""
    return re.sub(r"for \d+s of", "for Ns of", text)


def _ok(r: Result) -> str:
    assert r.exit_code == 0, (r.exit_code, r.output)
    return str(r.stdout)


def test_status_availability_failover_report_as_locally(running: Running) -> None:
    until("a result for web/a", lambda: json.loads(_ok(running.remote("status", "--json")))
          ["checks"][0]["last_seen"], limit=30)  # fmt: skip
    remote = json.loads(_ok(running.remote("status", "--json", role="viewer")))
    local = json.loads(_ok(running.local("status", "--json")))
    assert remote.keys() == local.keys()
    assert [c["state"] for c in remote["services"]] == [c["state"] for c in local["services"]]
    table = _ok(running.remote("status", env=True))
    assert "web" in table and "down" in table
    # a past period: the figures cannot move between the two calls
    for args in (["availability", "--period", "2026-11"],
                 ["availability", "--period", "2026-11", "--json"],
                 ["availability", "--period", "2026-11", "--service", "web"],
                 ["failover", "history"], ["failover", "history", "--json"]):  # fmt: skip
        assert _steady(_ok(running.remote(*args, role="viewer"))) == _steady(
            _ok(running.local(*args))
        ), args
    # the plan's decision is live: on a busy machine the 200 ms check's data can go stale
    # between the two calls ("confirming", then "no_data"), so the pair is asked again
    for args in (["failover", "status"], ["failover", "status", "--json"]):
        pairs = []
        for _ in range(5):
            pair = (_steady(_ok(running.remote(*args, role="viewer"))),
                    _steady(_ok(running.local(*args))))  # fmt: skip
            if pair[0] == pair[1]:
                break
            pairs.append(pair)
        else:
            raise AssertionError((args, pairs))
    window = json.loads(_ok(running.remote("availability", "--window", "1h", "--json")))
    assert window["label"] and window["rows"][0]["subject"] == "estate"
    bad = running.remote("availability", "--period", "2026-13")
    assert bad.exit_code == 2 and bad.stdout == ""
    assert "2026-13" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    unknown = running.remote("availability", "--service", "nope")
    assert unknown.exit_code == 2 and unknown.stderr.strip() == "unknown service 'nope'"
    csv = _ok(running.remote("report", "--period", "2026-11", "--format", "csv"))
    assert csv.splitlines()[0] == _ok(running.local("report", "--period", "2026-11", "--format",
                                                    "csv")).splitlines()[0]  # fmt: skip


def test_maintenance_through_the_api_keeps_the_audit_rules(running: Running) -> None:
    added = _ok(running.remote("maintenance", "add", "upgrade", "--start", "2030-01-05T02:00",
                               "--duration", "2h", "--service", "web"))  # fmt: skip
    assert added.startswith("maintenance window ") and "2030-01-05 02:00 GMT" in added
    late = _ok(running.remote("maintenance", "add", "late", "--start", "2026-11-02T02:00",
                              "--duration", "1h", "--reason", "core switch"))  # fmt: skip
    assert "pending a second admin's approval" in late
    rid = json.loads(_ok(running.remote("maintenance", "list", "--json", role="viewer")))[-1]
    for args in (["maintenance", "list"], ["maintenance", "list", "--all"],
                 ["maintenance", "list", "--json"]):  # fmt: skip
        assert _ok(running.remote(*args, role="viewer")) == _ok(running.local(*args)), args
    # the history's rules, over the API: a retroactive window needs a reason; a viewer may not
    # record one; the author may not approve their own
    no_reason = running.remote("maintenance", "add", "x", "--start", "2026-11-01T00:00",
                               "--duration", "1h")  # fmt: skip
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    viewer = running.remote("maintenance", "add", "y", "--start", "2030-01-01T00:00",
                            "--duration", "1h", role="viewer")  # fmt: skip
    assert viewer.exit_code == 1 and "403" in viewer.stderr
    own = running.remote("maintenance", "approve", str(rid["record"]), role="admin")
    assert own.exit_code == 0, own.output  # the admin did not make it: approved
    again = running.remote("maintenance", "approve", str(rid["record"]), role="admin")
    assert again.exit_code == 2 and "was approved by" in again.stderr
    shown = json.loads(_ok(running.local("maintenance", "list", "--all", "--json")))
    approved = next(r for r in shown if r["record"] == rid["record"])
    assert approved["approval"]["by"] == "admin1" and approved["created_by"] == "operator1"
    first = shown[0]["window"]
    removed = _ok(running.remote("maintenance", "remove", str(first), "--reason", "moved"))
    assert removed == f"maintenance window {first} removed (record {len(shown) + 1}; history " \
                      "kept)\n"  # fmt: skip
    absent = running.remote("maintenance", "remove", "999", "--reason", "x")
    assert absent.exit_code == 2 and absent.stderr.strip() == "no maintenance window 999"


def test_alerts_through_the_api(running: Running) -> None:
    made = _ok(running.remote("alerts", "silence", "--match", "service=web", "--for", "1h",
                              "--comment", "works"))  # fmt: skip
    assert made.startswith("silence ")
    for args in (["alerts", "silences"], ["alerts", "silences", "--json"]):
        assert _ok(running.remote(*args, role="viewer")) == _ok(running.local(*args)), args
    sid = json.loads(_ok(running.local("alerts", "silences", "--json")))[0]
    assert sid["author"] == "operator1"
    _ok(running.remote("alerts", "unsilence", sid["uid"]))
    assert _ok(running.remote("alerts", "list", role="viewer")) == _ok(
        running.local("alerts", "list")
    )
    # the down check opens an incident; ack and resolve it through the API
    rows = until("an incident for web", lambda: json.loads(_ok(running.remote(
        "alerts", "list", "--json", role="viewer"))), limit=30)  # fmt: skip
    ref = str(rows[0]["id"])
    assert _ok(running.remote("alerts", "ack", ref, "--note", "on it")) == "ack: done\n"
    shown = json.loads(_ok(running.local("alerts", "show", ref, "--json")))
    assert shown["status"] == "acknowledged" and shown["acked_by"] == "operator1"
    resolved = running.remote("alerts", "resolve", ref, "--note", "fixed", env=True)
    assert _ok(resolved) == "resolve: done\n"
    done = json.loads(_ok(running.local("alerts", "show", ref, "--json")))
    assert done["status"] == "resolved" and done["resolved_at"] is not None
    missing = running.remote("alerts", "ack", "no-such-incident")
    assert missing.exit_code == 1 and "404" in missing.stderr


def test_wrong_token_is_one_line_and_never_printed(running: Running, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.token"
    token = "tn_" + "x" * 40
    wrong.write_text(token)
    for args in (["status"], ["alerts", "list"], ["maintenance", "list"],
                 ["failover", "history"]):  # fmt: skip
        r = CliRunner().invoke(cli, [*args, "--server", running.url, "--token-file", str(wrong)])
        assert r.exit_code == 1, (args, r.output)
        assert r.stdout == "" and r.stderr.strip() == (
            "the server refused: 401 invalid or revoked token"
        ), args
        assert token not in r.output and "Traceback" not in r.output
    unreadable = CliRunner().invoke(cli, ["status", "--server", running.url, "--token-file",
                                          str(tmp_path / "absent")])  # fmt: skip
    assert unreadable.exit_code == 2 and "cannot read" in unreadable.stderr
    bare = {"THREENINES_TOKEN": "", "THREENINES_TOKEN_FILE": ""}
    none = CliRunner().invoke(cli, ["status", "--server", running.url], env=bare)
    assert none.exit_code == 2 and "needs an API token" in none.stderr
    away = CliRunner().invoke(cli, ["status", "--server", f"http://127.0.0.1:{_free_port()}",
                                    "--token-file", str(running.tokens["viewer"])])  # fmt: skip
    assert away.exit_code == 1 and away.stderr.startswith("cannot reach the server")
    assert os.environ.get("THREENINES_SERVER") is None


def test_tokens_through_the_api_need_an_admin(running: Running) -> None:
    listed = _ok(running.remote("token", "list", role="admin"))
    assert listed == _ok(running.local("token", "list"))
    made = running.remote("token", "create", "--role", "viewer", "--name", "grafana", role="admin")
    plain = _ok(made).strip()
    assert plain.startswith("tn_") and "created viewer token id=" in made.stderr
    (row,) = [t for t in json.loads(_ok(running.local("token", "list", "--json")))
              if t["name"] == "grafana"]  # fmt: skip
    assert plain not in _ok(running.remote("token", "list", "--json", role="admin"))
    assert _ok(running.remote("token", "revoke", row["id"], role="admin")) == (
        f"revoked {row['id']}\n"
    )
    refused = httpx.get(f"{running.url}/api/v1/tokens",
                        headers={"Authorization": f"Bearer {plain}"}, timeout=10)  # fmt: skip
    assert refused.status_code == 401
    viewer = running.remote("token", "list", role="operator")
    assert viewer.exit_code == 1 and viewer.stderr.strip() == (
        "the server refused: 403 a admin token is required"
    )


def test_console_users_through_the_api(running: Running, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("correct horse battery staple\n")
    added = running.remote("user", "add", "ann", "--role", "operator", "--password-file",
                           str(secret), role="admin")  # fmt: skip
    assert added.exit_code == 0 and "added operator ann" in added.stderr
    assert "correct horse" not in added.output
    again = running.remote("user", "add", "ann", "--role", "operator", "--password-file",
                           str(secret), role="admin")  # fmt: skip
    assert again.exit_code == 2 and again.stderr.strip() == "user 'ann' exists already"
    for args in (["user", "list"], ["user", "list", "--json"]):
        assert _ok(running.remote(*args, role="admin")) == _ok(running.local(*args)), args
    assert _ok(running.remote("user", "disable", "ann", role="admin")) == "disabled ann\n"
    (ann,) = json.loads(_ok(running.local("user", "list", "--json")))
    assert ann["name"] == "ann" and ann["disabled"] is not None and "hash" not in ann
    gone = running.remote("user", "disable", "ann", role="admin")
    assert gone.exit_code == 2 and gone.stderr.strip() == "no enabled user 'ann'"


def test_token_and_user_changes_are_in_the_audit_log(running: Running, tmp_path: Path) -> None:
    """Creating/revoking a token and adding/disabling a console user write hash-chained audit
    rows naming who acted: the admin token's name through the server, ``--by`` locally."""
    made = running.remote("token", "create", "--role", "viewer", "--name", "audited", role="admin")
    tid = made.stderr.split("id=")[1].split()[0]
    assert _ok(running.local("token", "revoke", tid, "--by", "carol")) == f"revoked {tid}\n"
    local = running.local("token", "create", "--role", "viewer", "--by", "dave")
    lid = local.stderr.split("id=")[1].split()[0]
    assert _ok(running.remote("token", "revoke", lid, role="admin")) == f"revoked {lid}\n"
    secret = tmp_path / "pw"
    secret.write_text("correct horse battery staple\n")
    _ok(running.local("user", "add", "bob", "--role", "viewer", "--password-file", str(secret),
                      "--by", "erin"))  # fmt: skip
    _ok(running.remote("user", "disable", "bob", role="admin"))
    rows = [json.loads(line) for line in _ok(running.local("audit", "log")).splitlines()]
    seen = {(r["action"], r["subject"]): r["actor"] for r in rows}
    assert seen[("token_created", f"token:{tid}")] == "admin1"
    assert seen[("token_revoked", f"token:{tid}")] == "carol"
    assert seen[("token_created", f"token:{lid}")] == "dave"
    assert seen[("token_revoked", f"token:{lid}")] == "admin1"
    assert seen[("user_added", "user:bob")] == "erin"
    assert seen[("user_disabled", "user:bob")] == "admin1"
    assert not any(s.startswith("tn_") for r in rows for s in map(str, r["detail"].values()))
    assert _ok(running.local("audit", "verify")).startswith("audit log intact: ")


def test_revoking_an_unknown_token_is_the_same_locally_and_remotely(running: Running) -> None:
    remote = running.remote("token", "revoke", "nosuch", role="admin")
    local = running.local("token", "revoke", "nosuch")
    assert (remote.exit_code, remote.stderr.strip()) == (2, "no active token with id 'nosuch'")
    assert (local.exit_code, local.stderr.strip()) == (remote.exit_code, remote.stderr.strip())


def test_alerts_show_as_locally(running: Running) -> None:
    until("the incident of the down check", lambda: json.loads(_ok(running.local(
        "alerts", "list", "--all", "--json"))), limit=30)  # fmt: skip
    (first,) = json.loads(_ok(running.local("alerts", "list", "--all", "--json")))[-1:]
    ref = str(first["id"])
    assert _ok(running.remote("alerts", "show", ref, role="viewer")) == _ok(
        running.local("alerts", "show", ref)
    )
    remote = json.loads(_ok(running.remote("alerts", "show", ref, "--json", role="viewer")))
    local = json.loads(_ok(running.local("alerts", "show", ref, "--json")))
    local.pop("data")  # the API leaves the incident's internal data out
    assert remote == local and "notifications" in remote
    for r in (running.remote("alerts", "show", "nosuch", role="viewer"),
              running.local("alerts", "show", "nosuch")):  # fmt: skip
        assert (r.exit_code, r.stderr.strip()) == (2, "no incident 'nosuch'")


def test_failover_approve_cancel_and_drills_through_the_api(running: Running) -> None:
    approved = _ok(running.remote("failover", "approve", "p1", "--note", "drill", role="operator"))
    assert approved.startswith("approval ") and approved.endswith(" for p1, valid for 300s\n")
    assert _ok(running.local("failover", "approve", "p1", "--by", "ann")).endswith(
        " for p1, valid for 300s\n"
    )
    assert _ok(running.remote("failover", "cancel", "p1")) == _ok(
        running.local("failover", "cancel", "p1")
    ) == "nothing runs\n"  # fmt: skip
    viewer = running.remote("failover", "approve", "p1", role="viewer")
    assert viewer.exit_code == 1 and "403" in viewer.stderr
    absent = running.remote("failover", "approve", "nosuch")
    assert absent.exit_code == 2 and absent.stderr.strip() == "no failover plan 'nosuch'"
    unnamed = running.remote("failover", "cancel")
    assert unnamed.exit_code == 2 and "name the plan" in unnamed.stderr
    for args in (["drill", "list"], ["drill", "list", "--json"]):
        assert _ok(running.remote(*args, role="viewer")) == _ok(running.local(*args)), args
    rows = [json.loads(line) for line in _ok(running.local("audit", "log")).splitlines()]
    approvals = {r["actor"] for r in rows if r["action"].startswith("failover_approv")}
    assert approvals >= {"api:operator1", "ann"}, [r["action"] for r in rows]


def test_security_findings_and_decisions_through_the_api(running: Running) -> None:
    import time

    from threenines.core.db import make_engine
    from threenines.security.findings import Finding, RunResult
    from threenines.security.store import SecurityStore

    engine = make_engine(f"sqlite:///{running.cfg.parent}/s.db")
    try:
        found = [Finding.make("port_opened", f"h/{port}", "critical", "exposure:x", f"h:{port}",
                              f"port {port} open") for port in (23, 3389)]  # fmt: skip
        SecurityStore(engine).record(RunResult("exposure:x", found), now=time.time())
    finally:
        engine.dispose()
    for args in (["security", "findings"], ["security", "findings", "--json"],
                 ["security", "baseline", "show", "--json"]):  # fmt: skip
        assert _ok(running.remote(*args, role="viewer")) == _ok(running.local(*args)), args
    rows = json.loads(_ok(running.local("security", "findings", "--json")))
    first, second = (str(r["id"]) for r in rows[:2])
    assert _ok(running.remote("security", "accept", first, "--reason", "lab", role="operator")
               ) == f"finding {first} accepted until revoked\n"  # fmt: skip
    again = running.remote("security", "accept", first, "--reason", "lab")
    local = running.local("security", "accept", first, "--reason", "lab", "--by", "ann")
    assert (again.exit_code, local.exit_code) == (2, 2)
    assert "not open" in again.stderr and "not open" in local.stderr
    assert _ok(running.remote("security", "resolve", second, "--reason", "closed")) == (
        f"finding {second} resolved\n"
    )
    nobody = running.local("security", "resolve", first, "--reason", "x")
    assert nobody.exit_code == 2 and "--by is required" in nobody.stderr
    decided = json.loads(_ok(running.local("security", "findings", "--status", "all", "--json")))
    assert {r["status"] for r in decided if str(r["id"]) in (first, second)} == {
        "accepted", "resolved"
    }  # fmt: skip


def test_audit_verify_and_log_through_the_api(running: Running) -> None:
    remote = running.remote("audit", "verify", role="admin")
    assert _ok(remote).startswith("audit log intact: ")
    assert remote.stdout.split(", head")[1] == _ok(running.local("audit", "verify")).split(
        ", head")[1]  # fmt: skip
    for args in (["audit", "log"], ["audit", "log", "--subject", "token:", "--limit", "3"]):
        assert _ok(running.remote(*args, role="admin")) == _ok(running.local(*args)), args
    refused = running.remote("audit", "log", role="operator")
    assert refused.exit_code == 1 and "403" in refused.stderr and not refused.stdout


def test_a_console_session_reads_the_api_but_never_writes(running: Running) -> None:
    """Swagger UI in a signed-in browser: the session cookie authenticates GETs with the
    user's role; a write with only the cookie is refused (CSRF), a token is needed."""
    import time

    from threenines.console.identity import Identity, SessionStore
    from threenines.core.db import make_engine

    engine = make_engine(f"sqlite:///{running.cfg.parent}/s.db")
    try:
        cookie, _ = SessionStore(engine).start(Identity("olive", "operator"), now=time.time(),
                                               ttl=600)  # fmt: skip
    finally:
        engine.dispose()
    jar = {"tn_session": cookie}
    with httpx.Client(base_url=running.url, cookies=jar, timeout=10) as web:
        assert web.get("/api/v1/alerts").status_code == 200
        assert web.get("/api/v1/failover/drills").status_code == 200
        assert web.get("/api/v1/tokens").status_code == 403  # an operator is not an admin
        write = web.post("/api/v1/maintenance/999/remove", json={"reason": "x"})
        assert write.status_code == 401, write.text
    with httpx.Client(base_url=running.url, cookies={"tn_session": "forged"}, timeout=10) as web:
        assert web.get("/api/v1/alerts").status_code == 401


def test_failover_run_and_failback_are_server_jobs_the_cli_follows(running: Running) -> None:
    """``failover run``/``failback`` through the server: the route answers 202 with a job at
    once, the server runs the playbook (check mode here: nothing changes), and the CLI follows
    the job to the same lines and exit as the local mode."""
    remote = running.remote("failover", "run", "p1", "--dry-run", "--by", "x")
    assert remote.stderr.startswith("note: with --server the token's name is recorded")
    assert re.search(r"job \d+: failover\.run p1 started on the server", remote.stderr)
    local = running.local("failover", "run", "p1", "--dry-run")
    run_line = re.compile(r"run \d+: ")
    assert remote.exit_code == local.exit_code, (remote.output, local.output)
    assert run_line.sub("run N: ", remote.stdout) == run_line.sub("run N: ", local.stdout)
    assert run_line.match(remote.stdout), remote.output  # a run was made and reported
    back = running.remote("failover", "failback", "p1", "--dry-run")
    assert run_line.match(back.stdout), back.output
    assert back.exit_code == running.local("failover", "failback", "p1", "--dry-run").exit_code
    # the job is there to follow, with the document the CLI printed from
    headers = {"Authorization": f"Bearer {running.secret['viewer']}"}
    jobs = httpx.get(f"{running.url}/api/v1/jobs", headers=headers, timeout=10).json()
    assert [j["kind"] for j in jobs[:2]] == ["failover.run", "failover.run"]
    assert jobs[0]["state"] == "done" and jobs[0]["result"]["outcome"] == "run"
    assert jobs[0]["by"] == "api:operator1"
    gone = httpx.get(f"{running.url}/api/v1/jobs/999999", headers=headers, timeout=10)
    assert gone.status_code == 404 and "no job 999999" in gone.json()["detail"]
    # roles: a viewer may not run; --force is an admin's alone; an admin may
    viewer = running.remote("failover", "run", "p1", "--dry-run", role="viewer")
    assert viewer.exit_code == 1 and "403" in viewer.stderr
    forced = running.remote("failover", "run", "p1", "--dry-run", "--force")
    assert forced.exit_code == 1 and "403" in forced.stderr and "admin" in forced.stderr
    by_admin = running.remote("failover", "run", "p1", "--dry-run", "--force", role="admin")
    assert run_line.match(by_admin.stdout), by_admin.output
    absent = running.remote("failover", "run", "nosuch")
    assert absent.exit_code == 2 and absent.stderr.strip() == "no failover plan 'nosuch'"


def test_security_scan_is_a_server_job(running: Running) -> None:
    remote = running.remote("security", "scan", "--json")
    assert remote.exit_code == 0, remote.output
    assert json.loads(remote.stdout) == json.loads(_ok(running.local("security", "scan", "--json")))
    viewer = running.remote("security", "scan", role="viewer")
    assert viewer.exit_code == 1 and "403" in viewer.stderr
    headers = {"Authorization": f"Bearer {running.secret['operator']}"}
    bad = httpx.post(f"{running.url}/api/v1/security/scan", json={"parts": ["nmap"]},
                     headers=headers, timeout=10)  # fmt: skip
    assert bad.status_code == 422 and "unknown part(s) ['nmap']" in bad.text
    job = httpx.post(f"{running.url}/api/v1/security/scan", json={"parts": ["posture"]},
                     headers=headers, timeout=10)  # fmt: skip
    assert job.status_code == 202 and job.headers["location"] == f"/api/v1/jobs/{job.json()['id']}"


def test_a_drill_run_report_and_sign_off_through_the_server(running: Running) -> None:
    """``drill run`` is a server job the CLI follows to the local mode's lines; the report
    downloads; a sign-off names the signer and the token, once per role (exit 1 again, as
    locally)."""
    ran = running.remote("drill", "run", "p1", "--scenario", "tabletop", "--max-wait", "1")
    first = ran.stdout.splitlines()[0] if ran.stdout else ""
    assert re.fullmatch(r"drill \d+: \w+", first), ran.output
    drill_id = first.split()[1].rstrip(":")
    local = running.local("drill", "run", "p1", "--scenario", "tabletop", "--max-wait", "1")
    assert ran.exit_code == local.exit_code, (ran.output, local.output)
    strip = re.compile(r"\d+(\.\d+)?")
    assert [strip.sub("N", x) for x in ran.stdout.splitlines()] == [
        strip.sub("N", x) for x in local.stdout.splitlines()
    ]
    html = _ok(running.remote("drill", "report", drill_id, role="viewer"))
    assert "<html" in html.lower() and f"drill {drill_id}" in html.lower()
    signed = running.remote("drill", "sign", drill_id, "--role", "Witness", "--by", "Ann Lee")
    assert _ok(signed) == f"drill {drill_id} signed off as Witness by Ann Lee (api:operator1)\n"
    again = running.remote("drill", "sign", drill_id, "--role", "Witness", "--by", "Bob")
    assert again.exit_code == 1 and "was signed off as Witness by Ann Lee" in again.stderr
    role = running.remote("drill", "sign", drill_id, "--role", "Janitor", "--by", "x")
    assert role.exit_code == 2 and "unknown role 'Janitor'" in role.stderr
    absent = running.remote("drill", "report", "999999", role="viewer")
    assert absent.exit_code == 2 and absent.stderr.strip() == "no drill 999999"


def test_alerts_test_through_the_server(running: Running) -> None:
    remote = running.remote("alerts", "test", "nosuch")
    local = running.local("alerts", "test", "nosuch")
    assert remote.exit_code == local.exit_code == 2
    assert remote.stderr.strip() == local.stderr.strip() and "nosuch" in remote.stderr


def _same(remote: Result, local: Result) -> tuple[int, str, str]:
    """The exit, stdout and stderr, asserted equal between the remote and the local run."""
    got = (remote.exit_code, remote.stdout, remote.stderr)
    assert got == (local.exit_code, local.stdout, local.stderr), (got, local.output)
    return got


def test_report_send_deliveries_and_verify_as_locally(running: Running, tmp_path: Path) -> None:
    """``report send`` is a server job the CLI follows to the local mode's lines; ``report
    deliveries`` and ``report verify`` print what the local mode prints, exits included."""
    args = ["report", "deliveries"]
    assert _same(running.remote(*args, role="viewer"), running.local(*args)) == (
        0, "", "no report deliveries recorded\n"
    )  # fmt: skip
    sent = running.remote("report", "send", "board-yearly", "-p", "2026-11", env=True)
    assert sent.exit_code == 0, sent.output
    job, *lines = sent.stderr.splitlines()
    assert re.fullmatch(r"job \d+: reports\.send board-yearly 2026-11 started on the server", job)
    assert lines == ["board-yearly 2026-11 -> board: sent"] and sent.stdout == ""
    again = running.local("report", "send", "board-yearly", "-p", "2026-11")
    assert (again.exit_code, again.stderr.splitlines()) == (0, lines)
    assert len(running.mails) == 2  # sent again when asked again
    listed = ("report", "deliveries")
    for args in ([*listed], [*listed, "--json"], [*listed, "board-yearly"], [*listed, "nope"]):
        _same(running.remote(*args, role="viewer"), running.local(*args))
    (row,) = json.loads(_ok(running.remote("report", "deliveries", "--json", role="viewer")))
    assert (row["schedule"], row["period"], row["state"]) == ("board-yearly", "2026-11", "sent")
    # refusals: the same line and exit 2 as locally; a viewer may not send
    for args in (["report", "send", "nope"], ["report", "send", "board-yearly", "-p", "2026-13"]):
        code, out, text = _same(running.remote(*args), running.local(*args))
        assert code == 2 and out == "" and len(text.strip().splitlines()) == 1, text
    viewer = running.remote("report", "send", "board-yearly", role="viewer")
    assert viewer.exit_code == 1 and "403" in viewer.stderr and "job" not in viewer.stderr
    # verify: an issued file is OK (exit 0), an edited copy and a file never issued are not (1)
    issued = tmp_path / "issued.csv"
    made = running.local("report", "--period", "2026-10", "--format", "csv", "--issue", "--by",
                         "ann", "--out", str(issued))  # fmt: skip
    assert made.exit_code == 0, made.output
    edited = tmp_path / "edited.csv"
    edited.write_bytes(issued.read_bytes().replace(b"web", b"wob", 1))
    plain = tmp_path / "plain.csv"
    plain.write_bytes(_ok(running.local("report", "--period", "2026-10", "--format", "csv"))
                      .encode().replace(b"threenines-issue", b"x"))  # fmt: skip
    want = {issued: 0, edited: 1, plain: 1}
    for path, code in want.items():
        got = _same(running.remote("report", "verify", str(path), role="viewer"),
                    running.local("report", "verify", str(path)))  # fmt: skip
        assert got[0] == code and str(path) in got[1] + got[2], got
    absent = running.remote("report", "verify", str(tmp_path / "absent.csv"))
    assert absent.exit_code == 2 and "cannot read" in absent.stderr


def test_availability_summarise_and_ha_status_as_locally(running: Running) -> None:
    """``availability summarise`` is a server job (an operator's); ``ha status`` reads the
    server's store as the local mode reads it."""
    remote = running.remote("availability", "summarise", "--days", "3")
    assert remote.exit_code == 0, remote.output
    assert re.fullmatch(r"job \d+: availability\.summarise 3d started on the server\n",
                        remote.stderr)  # fmt: skip
    assert remote.stdout == _ok(running.local("availability", "summarise", "--days", "3"))
    assert remote.stdout == "6 daily summaries written\n"  # one service and one check, 3 days
    viewer = running.remote("availability", "summarise", role="viewer")
    assert viewer.exit_code == 1 and "403" in viewer.stderr
    ages = re.compile(r"\d+\.\d+s")
    table = ages.sub("Ns", _ok(running.remote("ha", "status", role="viewer")))
    assert table == ages.sub("Ns", _ok(running.local("ha", "status"))) and "active" in table
    docs = [json.loads(_ok(r)) for r in (running.remote("ha", "status", "--json", role="viewer"),
                                         running.local("ha", "status", "--json"))]  # fmt: skip
    shown = [[(n["name"], n["role"], n["pid"]) for n in d["nodes"]] for d in docs]
    assert shown[0] == shown[1] and len(shown[0]) == 1
    assert docs[0]["lease"]["holder"] == docs[1]["lease"]["holder"] == shown[0][0][0]
