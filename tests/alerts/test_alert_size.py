"""A grouped notification respects each receiver's size limit (issue 17, "bounded messages").

1,000 checks failing behind one WAN link make a body of about 60 KB: more than e-mail and JSON
hooks take by Apprise's own limits (32,768), far more than a chat room (Discord-like, 2,000).
Each receiver gets at most its limit: the whole body where it fits, else the summary (counts by
site and cause, the first names, the console's link), sent through real Apprise to a real HTTP
receiver and a real SMTP server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alerts_receivers import JsonReceiver, SmtpReceiver, json_receiver, smtp_receiver

from threenines.alerts.deliver import CUT, fit
from threenines.alerts.render import SUMMARY_NAMES
from threenines.alerts.service import AlertService
from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.core.results import Status
from threenines.core.store import StateChange

T0 = 1_780_000_000.0
N = 1_000


class Clock:
    t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rx() -> Iterator[tuple[JsonReceiver, SmtpReceiver]]:
    with json_receiver() as j, smtp_receiver() as s:
        yield j, s


def _config(tmp_path: Path, j: JsonReceiver, s: SmtpReceiver) -> str:
    services = "\n".join(
        f"  - {{name: s{i:04d}, site: lib, checks: [{{name: tcp, type: tcp, host: 127.0.0.1, "
        f"port: 9}}]}}"
        for i in range(N)
    )
    return f"""
storage: {{url: "sqlite:///{tmp_path}/t.db"}}
sites: [{{name: hq, kind: datacentre}}, {{name: lib, depends_on: [wan-lib]}}]
services:
  - {{name: wan-lib, site: lib, criticality: critical,
     checks: [{{name: tcp, type: tcp, host: 127.0.0.1, port: 9}}]}}
{services}
alerts:
  templates: {{console_url: "https://threenines.example.gov.uk/"}}
  receivers:
    - {{name: hook, url: "{j.url("hook")}"}}
    - {{name: chat, url: "{j.url("chat")}", max_length: 2000}}
    - {{name: mail, url: "{s.url()}"}}
    - {{name: sms, url: "{j.url("sms")}", format: short}}
  outbox: {{backoff: 1s, lease: 1s}}
  routes: [{{name: ops, receivers: [hook, chat, mail, sms], group_wait: 2s}}]
"""


async def test_a_storm_is_summarised_within_each_receivers_limit(
    rx: tuple[JsonReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    j, s = rx
    cfg = parse_config(_config(tmp_path, j, s), "test.yaml")
    engine = make_engine(cfg.storage.url)
    migrate(engine)
    clock = Clock()
    svc = AlertService(cfg, engine, clock=clock)
    names = ["wan-lib", *(f"s{i:04d}" for i in range(N))]
    flips = [
        StateChange(f"{n}/tcp", "central", T0, Status.UP, Status.DOWN, "connect_timeout", "x")
        for n in names
    ]
    await svc.on_flips(flips)
    for _ in range(10):
        clock.t += 1
        await svc.tick()
        await svc.sender.run_once()
    engine.dispose()
    hook, chat, sms = j.by_path("hook"), j.by_path("chat"), j.by_path("sms")
    assert len(hook) == len(chat) == len(sms) == len(s.mails) == 1  # one notification each
    for text, limit in ((hook[0]["message"], 32_768), (chat[0]["message"], 2_000)):
        assert len(text) <= limit
        lines = text.splitlines()
        assert lines[0] == hook[0]["title"]  # the summary starts with the title
        assert lines[1].startswith("acknowledge: threenines alerts ack ")
        assert "1 alert(s): 1 FIRING; 1,000 more affected behind them" in lines
        assert "by site: lib 1,001" in lines
        assert "by cause: behind service wan-lib 1,000 · " in text
        assert sum(line.startswith("- ") for line in lines) == SUMMARY_NAMES
        assert (
            lines[-1]
            == f"+{N + 1 - SUMMARY_NAMES:,} more: https://threenines.example.gov.uk/incidents"
        )
    mail = s.text(s.mails[0])
    assert len(mail) <= 32_768 and "by site: lib 1,001" in mail
    assert len(sms[0]["message"]) <= 160


def test_fit_sends_the_body_when_it_fits_else_the_summary_cut_at_a_line() -> None:
    assert fit("short body", "summary", 100) == "short body"
    assert fit("x" * 200, "the summary", 100) == "the summary"
    summary = "\n".join(f"line {i:02d} " + "y" * 20 for i in range(10))
    cut = fit("x" * 500, summary, 120)
    assert len(cut) <= 120 and cut.endswith(CUT)
    assert all(line.startswith("line ") for line in cut.removesuffix(CUT).splitlines())
    assert len(fit("z" * 500, "", 120)) <= 120  # no summary: the body, cut
