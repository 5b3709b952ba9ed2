"""Scheduled board reports, delivered for real: a local SMTP server (aiosmtpd) receives the
monthly PDF as an attachment; each receiver gets each period once, across restarts, on SQLite
and PostgreSQL; the service extension sends on its own clock; ``threenines report send``."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import require_command
from prometheus_client import generate_latest
from reports_support import (
    LONDON,
    ORG,
    SEND_OCT,
    config_text,
    estate,
    free_port,
    pdf_text,
    smtp_server,
)
from typer.testing import CliRunner

from threenines.reports.schedule import latest_complete
from threenines.reports.sender import ReportSender


def mailto(port: int, to: str) -> str:
    return f"mailto://127.0.0.1:{port}?mode=insecure&from=threenines@example.org&to={to}"


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_monthly_pdf_is_mailed_once_per_receiver_across_restarts(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_command("pdftotext")
    caplog.set_level(logging.DEBUG)
    cio_port = free_port()  # the CIO's mail server is down at first
    with smtp_server() as board:
        cfg, engine = estate(db_url, board.url("board@example.org"), mailto(cio_port, "cio@x.org"))
        clock = Clock(SEND_OCT - 60)
        assert await ReportSender(cfg, engine, clock=clock).run_once() == []  # not yet
        clock.now = SEND_OCT + 5
        out = await ReportSender(cfg, engine, clock=clock).run_once()
        assert [(o.receiver, o.period, o.state) for o in out] == [
            ("board-email", "2026-10", "sent"),
            ("cio-email", "2026-10", "pending"),  # retried later
        ]
        assert len(board.mails) == 1
        mail = board.mails[0]
        assert mail["Subject"] == f"{ORG}: service availability report October 2026"
        files = board.attachments(mail)
        assert [(name, kind) for name, kind, _ in files] == [
            ("threenines-availability-2026-10.pdf", "application/pdf"),
            ("threenines-availability-2026-10.csv", "text/csv"),
        ]
        pdf = files[0][2]
        assert pdf.startswith(b"%PDF-")
        text = pdf_text(pdf, tmp_path)
        assert ORG in text and "October 2026" in text and "payments" in text
        assert b"section,name" in files[1][2] or b"payments" in files[1][2]
        body = board.text(mail)
        assert "Overall availability:" in body and "Services below target: payments." in body
        error = out[1].error or ""
        assert "delivery failed" in error and str(cio_port) not in error

        # a restart: a new sender (another owner); the CIO's server is back; only it is sent to
        with smtp_server(cio_port) as cio:
            clock.now = SEND_OCT + 120
            out = await ReportSender(cfg, engine, clock=clock).run_once()
            assert [(o.receiver, o.state) for o in out] == [("cio-email", "sent")]
            clock.now = SEND_OCT + 3 * 86400
            assert await ReportSender(cfg, engine, clock=clock).run_once() == []
            assert len(board.mails) == 1 and len(cio.mails) == 1
            assert board.attachments(cio.mails[0])[0][0].endswith("2026-10.pdf")
    engine.dispose()
    # our log lines (Apprise's own DEBUG/INFO lines name recipients, in privacy form)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("threenines"))
    assert "report monthly-board for 2026-10 to board-email sent" in logged
    assert "board@example.org" not in logged and f":{cio_port}" not in logged
    assert "mailto" not in logged


async def test_stopping_mid_send_gives_back_only_the_receivers_not_yet_tried(
    tmp_path: Path,
) -> None:
    with smtp_server() as board, smtp_server() as cio:
        board.hold = threading.Event()  # the board's server is slow to accept the mail
        url = f"sqlite:///{tmp_path}/stop.db"
        cfg, engine = estate(url, board.url("b@x.org"), cio.url("c@x.org"))
        sender = ReportSender(cfg, engine, clock=Clock(SEND_OCT + 5))
        task = asyncio.create_task(sender.run_once())
        assert await asyncio.to_thread(board.arrived.wait, 60)
        task.cancel()  # the service is stopping
        with pytest.raises(asyncio.CancelledError):
            await task
        rows = {r["receiver"]: (r["state"], r["attempts"]) for r in sender.store.rows()}
        # the mail in flight stays claimed until its lease expires (never sent twice at once);
        # the CIO's, never tried, is back in the queue at once with no attempt counted
        assert rows == {"board-email": ("sending", 1), "cio-email": ("pending", 0)}
        board.hold.set()
        out = await ReportSender(cfg, engine, clock=Clock(SEND_OCT + 6)).run_once()
        assert [(o.receiver, o.state) for o in out] == [("cio-email", "sent")]
        assert len(cio.mails) == 1
    engine.dispose()


async def test_the_service_extension_sends_when_due_and_not_again_after_restart(
    tmp_path: Path,
) -> None:
    from threenines.app.db import migrate
    from threenines.app.service import build_context
    from threenines.reports import extension

    today = datetime.now(LONDON)
    last = latest_complete("monthly", time.time(), LONDON)
    expected = datetime.fromtimestamp(last.start + 43200, LONDON).strftime("%B %Y")
    url = f"sqlite:///{tmp_path}/svc.db"
    with smtp_server() as board, smtp_server() as cio:
        cfg, engine = estate(
            url, board.url("b@x.org"), cio.url("c@x.org"), day=min(today.day, 28), time="00:00"
        )
        engine.dispose()
        for run in range(2):  # the second run is a restart
            ctx = build_context(cfg)
            migrate(ctx.engine)
            sender = extension.setup(ctx)
            assert sender is not None and [n for n, _ in ctx.singleton_tasks][-1] == "reports"
            task = asyncio.create_task(dict(ctx.singleton_tasks)["reports"]())
            for _ in range(600):  # at most 60 s
                if sender.passes >= 1:
                    break
                await asyncio.sleep(0.1)
            ctx.stopping.set()
            await asyncio.wait_for(task, 30)
            assert sender.passes >= 1
            assert sender.stats["sent"] == (2 if run == 0 else 0)
            scrape = generate_latest(ctx.metrics.registry).decode()
            ctx.engine.dispose()
            assert len(board.mails) == 1 and len(cio.mails) == 1
            assert 'threenines_report_deliveries{state="sent"} 2.0' in scrape
        assert board.mails[0]["Subject"].endswith(expected)


def test_cli_send_records_so_the_scheduler_does_not_resend(tmp_path: Path) -> None:
    from threenines.app.cli import app

    runner = CliRunner()
    url = f"sqlite:///{tmp_path}/cli.db"
    down = free_port()
    with smtp_server() as board, smtp_server() as cio:
        cfg, engine = estate(url, board.url("b@x.org"), cio.url("c@x.org"))
        path = tmp_path / "council.yaml"
        path.write_text(config_text(url, board.url("b@x.org"), cio.url("c@x.org")))
        res = runner.invoke(app, ["report", "send", "monthly-board", "-p", "2026-10", "-c", path])
        assert res.exit_code == 0, res.output
        assert "monthly-board 2026-10 -> board-email: sent" in res.stderr
        assert len(board.mails) == 1 and len(cio.mails) == 1
        assert board.attachments(board.mails[0])[0][1] == "application/pdf"
        res = runner.invoke(app, ["report", "deliveries", "-c", str(path)])
        assert res.exit_code == 0 and res.stdout.count("\tsent\t") == 2
        # the scheduler's own send time comes: already recorded, nothing is sent again
        clock = Clock(SEND_OCT + 5)
        assert asyncio.run(ReportSender(cfg, engine, clock=clock).run_once()) == []
        assert len(board.mails) == 1
        # asking again is an explicit resend; an unknown schedule or period is refused
        res = runner.invoke(app, ["report", "send", "monthly-board", "-p", "2026-10", "-c", path])
        assert res.exit_code == 0 and len(board.mails) == 2
        res = runner.invoke(app, ["report", "send", "nope", "-c", str(path)])
        assert res.exit_code == 2 and "unknown schedule 'nope'" in res.stderr
        res = runner.invoke(app, ["report", "send", "monthly-board", "-p", "2026-13", "-c", path])
        assert res.exit_code == 2
        # a receiver that cannot be reached: exit 1, its URL never printed
        path.write_text(config_text(url, board.url("b@x.org"), mailto(down, "c@x.org")))
        res = runner.invoke(app, ["report", "send", "monthly-board", "-p", "2026-09", "-c", path])
        assert res.exit_code == 1 and "cio-email: pending" in res.stderr
        assert str(down) not in res.output and "c@x.org" not in res.output
        assert len(board.mails) == 3
        # the existing report command still works
        res = runner.invoke(app, ["report", "-p", "2026-10", "-f", "json", "-c", str(path)])
        assert res.exit_code == 0 and '"period": "2026-10"' in res.stdout
    engine.dispose()
