"""End to end with real delivery: the AlertService, the outbox and Apprise sending to a local
SMTP server (mailto://) and a local HTTP receiver (json://). A manual clock drives time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alerts_receivers import JsonReceiver, SmtpReceiver, json_receiver, smtp_receiver

from threenines.alerts.service import AlertService
from threenines.alerts.tables import alert_attempts, alert_deliveries
from threenines.app.config import Config, parse_config
from threenines.app.db import make_engine, migrate
from threenines.core.results import Status
from threenines.core.store import StateChange

T0 = 1_780_000_000.0
HERE = Path(__file__).parent


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rx() -> Iterator[tuple[JsonReceiver, SmtpReceiver]]:
    with json_receiver() as j, smtp_receiver() as s:
        yield j, s


def _config(
    tmp_path: Path, j: JsonReceiver, s: SmtpReceiver, routes: str, services: str, extra: str = ""
) -> Config:
    os.environ["T9_ALERT_HOOK"] = j.url("hooks/S3cr3tT0ken")
    (tmp_path / "mail.url").write_text(s.url())
    text = f"""
timezone: Europe/London
storage: {{url: "sqlite:///{tmp_path}/t.db"}}
sites:
  - {{name: hq, kind: datacentre}}
  - {{name: lib, depends_on: [wan-lib]}}
services:
{services}
alerts:
  receivers:
    - {{name: hook, url: "${{T9_ALERT_HOOK}}"}}
    - {{name: mail, url: "file:{tmp_path}/mail.url"}}
    - {{name: oncall, url: "{j.url("oncall")}"}}
  outbox: {{backoff: 1s, lease: 1s}}
  routes:
{routes}
{extra}
"""
    return parse_config(text, "test.yaml")


def _svc_yaml(names: list[str], site: str = "lib", criticality: str = "medium") -> str:
    return "\n".join(
        f"  - {{name: {n}, site: {site}, criticality: {criticality}, checks: "
        f"[{{name: tcp, type: tcp, host: 127.0.0.1, port: 9}}]}}"
        for n in names
    )


ROUTE = """    - {name: ops, receivers: [hook, mail], group_wait: 2s, group_interval: 1m,
       repeat_interval: 0s}"""


async def _drive(svc: AlertService, clock: Clock, seconds: float, every: float = 1.0) -> None:
    end = clock.t + seconds
    while clock.t < end:
        clock.t += every
        await svc.tick()
        await svc.sender.run_once()


def _flips(names: list[str], status: Status, at: float) -> list[StateChange]:
    old = Status.UP if status is Status.DOWN else Status.DOWN
    err = "connect_timeout" if status is Status.DOWN else None
    return [StateChange(f"{n}/tcp", "central", at, old, status, err, "no answer") for n in names]


def _service(cfg: Config, tmp_path: Path, clock: Clock) -> AlertService:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    return AlertService(cfg, engine, clock=clock)


async def test_wan_link_down_one_grouped_notification_then_recovery(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    j, s = rx
    names = [f"svc{i:02d}" for i in range(30)]
    cfg = _config(tmp_path, j, s, ROUTE, _svc_yaml(["wan-lib", *names]))
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    await svc.on_flips(_flips(names, Status.DOWN, T0))
    clock.t += 1
    await svc.on_flips(_flips(["wan-lib"], Status.DOWN, T0 + 1))
    await _drive(svc, clock, 30)
    assert len(j.messages) == 1 and len(s.mails) == 1
    title = "[FIRING] service wan-lib is down (30 affected behind it)"
    uid = svc.state.incidents["service:wan-lib"].uid
    body = [
        "FIRING major availability: service wan-lib is down",
        "  since: 2026-05-28 21:26:41 BST (1s ago)",
        "  cause: check tcp: connect_timeout: no answer",
        "  seen from: central",
        "  where: site lib service wan-lib",
        "  suppressed behind it (30):",
        *(f"    - service {n} (open: check tcp: connect_timeout: no answer)" for n in names),
        f"  acknowledge: threenines alerts ack {uid} --note '...'",
    ]
    assert j.messages[0]["title"] == title and j.messages[0]["type"] == "failure"
    assert j.messages[0]["message"].splitlines() == body
    assert s.mails[0]["Subject"] == title and s.mails[0]["To"] == "oncall@example.org"
    assert s.text(s.mails[0]).splitlines() == body
    # recovery: everything comes back; one recovery notification per receiver
    clock.t += 300
    await svc.on_flips(_flips(["wan-lib", *names], Status.UP, clock.t))
    await _drive(svc, clock, 120)
    assert len(j.messages) == 2 and len(s.mails) == 2
    assert j.messages[1]["title"] == "[RESOLVED] service wan-lib recovered (30 affected behind it)"
    assert j.messages[1]["type"] == "success"
    assert "    - service svc29 (resolved: check tcp: connect_timeout: no answer)" in (
        j.messages[1]["message"].splitlines()
    )


async def test_flapping_sends_one_notification(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    j, s = rx
    cfg = _config(tmp_path, j, s, ROUTE, _svc_yaml(["web"]), "  flap_threshold: 5")
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    for i in range(16):
        clock.t += 1
        await svc.on_flips(_flips(["web"], Status.DOWN if i % 2 == 0 else Status.UP, clock.t))
        await svc.tick()
        await svc.sender.run_once()
    await _drive(svc, clock, 60)
    assert [m["title"] for m in j.messages] == [
        "[FLAPPING] service web is flapping (notifications held until it is stable)"
    ]
    assert len(s.mails) == 1


async def test_silence_holds_notifications_and_they_are_not_sent_later(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    j, s = rx
    cfg = _config(tmp_path, j, s, ROUTE, _svc_yaml(["web", "dns"]))
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    sil = await svc.silence({"service": "web"}, 600, "alice", "replacing the web server")
    await svc.on_flips(_flips(["web"], Status.DOWN, clock.t))
    await _drive(svc, clock, 3600, every=30)  # the silence ends after 10 minutes
    assert j.messages == [] and s.mails == []
    row = svc.store.incident("service:web")
    assert row is not None and row["held"] == f"silence:{sil.id}"
    assert [n["held"] for n in svc.store.notifications_for(row["uid"])] == [f"silence:{sil.id}"]
    await svc.on_flips(_flips(["dns"], Status.DOWN, clock.t))  # not silenced: goes out
    await _drive(svc, clock, 10)
    assert [m["title"] for m in j.messages] == ["[FIRING] service dns is down"]


ESC = """    - {name: ops, receivers: [hook], group_wait: 0s, repeat_interval: 0s,
       escalate_after: 5m, escalate_to: oncall}
    - {name: oncall, receivers: [oncall], group_wait: 0s, repeat_interval: 0s,
       match: {kind: [none]}}"""


@pytest.mark.parametrize("ack", [None, "api", "cli"])
async def test_escalation_after_timeout_unless_acknowledged(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path, ack: str | None
) -> None:
    j, s = rx
    cfg = _config(tmp_path, j, s, ESC, _svc_yaml(["payroll"], "hq", "critical"))
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    await svc.on_flips(_flips(["payroll"], Status.DOWN, T0))
    await _drive(svc, clock, 60)
    assert [m["title"] for m in j.by_path("hooks/S3cr3tT0ken")] == [
        "[FIRING] service payroll is down"
    ]
    if ack == "api":
        assert await svc.ack("service:payroll", "carol", "restarting the app pool") == []
    elif ack == "cli":
        svc.store.add_command("ack", {"incident": "service:payroll", "who": "carol"}, clock.t)
    await _drive(svc, clock, 900, every=10)
    escalated = [m["title"] for m in j.by_path("oncall")]
    if ack is None:
        assert escalated == ["[ESCALATED] service payroll is down"]
    else:
        assert escalated == []
        assert svc.store.incident("service:payroll")["acked_by"] == "carol"  # type: ignore[index]


async def test_retries_with_backoff_and_errors_never_show_the_url(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    j, s = rx
    route = """    - {name: ops, receivers: [hook, oncall], group_wait: 0s}"""
    cfg = _config(tmp_path, j, s, route, _svc_yaml(["web"]))
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    j.fail_next = 2  # the first two requests get HTTP 500
    await svc.on_flips(_flips(["web"], Status.DOWN, T0))
    await _drive(svc, clock, 10, every=0.5)
    assert len(j.messages) == 2  # each receiver exactly once in the end
    with svc.engine.connect() as conn:
        rows = conn.execute(sa.select(alert_attempts.c.outcome, alert_attempts.c.error)).all()
        states = conn.execute(sa.select(alert_deliveries.c.state)).scalars().all()
    assert sorted(r.outcome for r in rows) == ["error", "error", "ok", "ok"]
    assert set(states) == {"sent"}
    errors = " ".join(r.error for r in rows if r.error)
    assert "S3cr3tT0ken" not in errors and str(j.port) not in errors
    assert svc.sender.stats == {"sent": 2, "failed": 0, "retried": 2}


def _child(cfg_path: Path, url: str, phase: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{Path.cwd()}:{HERE}"}
    return subprocess.Popen(
        [sys.executable, str(HERE / "alerts_crash_child.py"), str(cfg_path), url, phase],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_line(proc: subprocess.Popen[str], text: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if text in line:
            return
        assert line, f"child exited before {text!r}"
    raise AssertionError(f"no {text!r} from child")


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["write-only", "mid-send"])
def test_killed_between_outbox_write_and_send_delivers_exactly_once_after_restart(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path, phase: str
) -> None:
    j, s = rx
    route = """    - {name: ops, receivers: [hook, mail], group_wait: 0s, repeat_interval: 0s}"""
    cfg_path = tmp_path / "alerts.yaml"
    cfg_path.write_text(f"""
storage: {{url: "sqlite:///{tmp_path}/t.db"}}
sites: [{{name: hq}}]
services: [{{name: payroll, site: hq}}]
alerts:
  receivers:
    - {{name: hook, url: "{j.url("hooks/S3cr3tT0ken")}"}}
    - {{name: mail, url: "{s.url()}"}}
  outbox: {{lease: 1s}}
  routes:
{route}
""")
    url = f"sqlite:///{tmp_path}/crash.db"
    migrate(make_engine(url))
    proc = _child(cfg_path, url, phase)
    try:
        _wait_line(proc, "SENDING mail" if phase == "mid-send" else "WRITTEN")
        if phase == "mid-send":  # the hook confirmed before the crash; the mail did not
            engine = make_engine(url)
            end = time.monotonic() + 20
            while time.monotonic() < end and len(j.messages) < 1:
                time.sleep(0.05)
            q = sa.select(alert_deliveries.c.receiver, alert_deliveries.c.state)
            while time.monotonic() < end:
                with engine.connect() as conn:
                    if dict(conn.execute(q).all()).get("hook") == "sent":
                        break
                time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(s.mails) == 0
    for _ in range(2):  # restart, and restart again: nothing is sent twice
        again = _child(cfg_path, url, "resume")
        out, _ = again.communicate(timeout=60)
        assert again.returncode == 0, out
    assert len(j.messages) == 1 and len(s.mails) == 1
    assert j.messages[0]["title"] == s.mails[0]["Subject"] == "[FIRING] service payroll is down"


async def test_unreachable_receiver_error_names_no_credentials() -> None:
    import socket

    from threenines.alerts.config import Receiver
    from threenines.alerts.deliver import Deliverer, Message

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    url = (
        f"mailto://robot:Pa55w0rdXYZ@127.0.0.1:{port}?mode=insecure&to=a@example.org"
        "&from=robot@example.org"
    )
    d = Deliverer([Receiver(name="mail", url=url)], timeout=20)  # type: ignore[arg-type]
    error = await d.send("mail", Message("t", "b", "s"))
    assert error is not None and error.startswith("receiver 'mail': delivery failed")
    assert "Pa55w0rdXYZ" not in error and "robot" not in error and str(port) not in error
    assert await d.send("nobody", Message("t", "b", "s")) == "unknown receiver 'nobody'"


async def test_an_outage_begun_before_start_is_paged_once(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    """A service already down in the store when the alerting starts (it began while no node
    did the alerting: a high-availability takeover, a restart) is paged; started again with the
    incident open, nothing more is sent."""
    from threenines.core.tables import state_intervals

    j, s = rx
    cfg = _config(tmp_path, j, s, ROUTE, _svc_yaml(["payroll"]))
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    with svc.engine.begin() as conn:
        conn.execute(sa.insert(state_intervals).values(
            check_id="payroll/tcp", vantage="central", state="down", start=T0 - 30, end=None,
            last_seen=T0, error="connect_timeout", reason="no answer"))  # fmt: skip
    await svc.start()
    await _drive(svc, clock, 10)
    assert [m["title"] for m in j.messages] == ["[FIRING] service payroll is down"], j.messages
    again = _service(cfg, tmp_path, clock)
    await again.start()
    await _drive(again, clock, 10)
    assert len(j.messages) == 1 and len(s.mails) == 1, j.messages


async def test_a_send_under_way_when_the_node_stops_being_active_is_recorded_not_sent_again(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    """The alerting is cancelled (this node stopped being the active one) while the receiver
    holds its answer to a page it already has: the delivery ends and is recorded as sent, so
    neither this node nor the next active one sends it again when the claim's lease runs out.
    (Cancelling the request itself left the row claimed: the HA lab saw the page twice.)"""
    import asyncio

    j, s = rx
    route = "    - {name: oncall, receivers: [oncall], group_wait: 0s, repeat_interval: 0s}"
    cfg = _config(tmp_path, j, s, route, _svc_yaml(["payroll"]))
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    j.block = threading.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    await svc.on_flips(_flips(["payroll"], Status.DOWN, T0))
    for _ in range(500):  # the receiver has the page (its answer held), within 10 s
        if j.messages:
            break
        await asyncio.sleep(0.02)
    assert [m["title"] for m in j.messages] == ["[FIRING] service payroll is down"]
    task.cancel()  # as ``core.service._singletons`` does when the lease is lost
    await asyncio.sleep(0.2)
    j.block.set()  # the receiver answers
    await asyncio.wait([task], timeout=10)
    with svc.engine.connect() as conn:
        rows = conn.execute(sa.select(alert_deliveries.c.state)).scalars().all()
    assert rows == ["sent"], rows
    clock.t += 120  # past the claim's lease (1 s): the next active node finds nothing to send
    nxt = _service(cfg, tmp_path, clock)
    await nxt.start()
    await nxt.sender.run_once()
    assert len(j.messages) == 1, j.messages


async def test_a_service_removed_by_a_reload_has_its_open_incident_resolved(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    """An incident whose service a reload removed would stay open for ever (nothing will flip
    it): the reload resolves it, naming why, and on-call hears that it is closed."""
    j, s = rx
    route = (
        "    - {name: oncall, receivers: [oncall], group_wait: 0s, group_interval: 0s,"
        " repeat_interval: 0s}"
    )
    both = _svc_yaml(["payroll"]) + "\n" + _svc_yaml(["library"], site="hq")
    cfg = _config(tmp_path, j, s, route, both)
    clock = Clock()
    svc = _service(cfg, tmp_path, clock)
    await svc.start()
    await svc.on_flips(_flips(["payroll", "library"], Status.DOWN, T0))
    await _drive(svc, clock, 3)
    assert {m["title"] for m in j.messages} >= {"[FIRING] service payroll is down"}, j.messages
    await svc.reconfigure(_config(tmp_path, j, s, route, _svc_yaml(["library"], site="hq")))
    await _drive(svc, clock, 3)
    incidents = {i.service: i for i in svc.state.incidents.values()}
    assert incidents["payroll"].status == "resolved", incidents["payroll"]
    assert incidents["payroll"].resolved_by == "config reload"
    assert "removed from the configuration" in incidents["payroll"].ack_note
    assert incidents["library"].status == "open"  # still in the config: untouched
    told = [m["title"] for m in j.messages if "payroll" in m["title"]]
    assert told[-1].startswith("[RESOLVED]"), j.messages
