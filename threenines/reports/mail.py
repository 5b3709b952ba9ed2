"""A scheduled report as a notification: the headline figures as text, the files attached.

``compose`` builds the board report once and renders each of the schedule's formats from it,
so the PDF, HTML, CSV and JSON sent together carry the same figures. Blocking (database,
WeasyPrint): the sender runs it in a thread.
"""

from __future__ import annotations

from sqlalchemy import Engine

from threenines.alerts.deliver import Attachment, Message
from threenines.availability.display import percent
from threenines.availability.periods import parse_period
from threenines.core.config.schema import Config
from threenines.core.durations import format_duration
from threenines.reports.board import BoardReport, Row
from threenines.reports.config import ReportSchedule
from threenines.reports.deliver import MEDIA_TYPES, board_report, filename, render


def _pct(row: Row) -> str:
    return percent(row.availability, unit=" %", target=row.target, met=row.met)


def _verdict(met: bool | None) -> str:
    return "no data" if met is None else ("met" if met else "missed")


def _budget(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    return sign + format_duration(round(abs(seconds)))


def text(report: BoardReport, heading: str, files: list[str], schedule: str) -> tuple[str, str]:
    """(body, short): what the mail says about the attached report."""
    o = report.overall
    scope = "" if report.scope == "estate" else f", site {report.scope}"
    missed = sorted(s.name for s in report.services if s.met is False)
    body = "\n".join(
        [
            f"Service availability report for {report.organisation}{scope}: {heading}",
            f"({report.start_local} to {report.end_local}, {report.timezone}).",
            "",
            f"Overall availability: {_pct(o)} against a target of "
            f"{report.target:g} % ({_verdict(o.met)}).",
            f"Error budget remaining: {_budget(o.budget_remaining)}; "
            f"incidents: {len(report.incidents)}.",
            f"Services below target: {', '.join(missed) if missed else 'none'}.",
            "",
            "Attached: " + ", ".join(files),
            f"Sent by threenines (schedule {schedule}).",
        ]
    )
    short = (
        f"{report.organisation} availability {report.period}: {_pct(o)} "
        f"(target {report.target:g} %, {_verdict(o.met)})"
    )
    return body, short


def compose(
    cfg: Config, engine: Engine, schedule: ReportSchedule, period: str, now: float
) -> Message:
    """The message for ``schedule``'s report of ``period``, its files attached."""
    from threenines.reports.html import title
    from threenines.reports.issue import issue, issued

    report = board_report(cfg, engine, parse_period(period, cfg.tz), now, schedule.site)
    by = f"schedule:{schedule.name}"
    # A retried send resends the files issued the first time: an issue is never re-rendered.
    prior = issued(engine, report.period, report.scope, by)
    if {r["format"] for r in prior} == set(schedule.formats):
        order = list(schedule.formats)
        prior.sort(key=lambda r: order.index(r["format"]))
        stored = [(r["format"], r["name"], bytes(r["content"])) for r in prior]
    else:
        _iss, stored = issue(engine, report, render, filename, list(schedule.formats), now, by)
    files = [Attachment(name, data, MEDIA_TYPES[fmt].split(";")[0]) for fmt, name, data in stored]
    heading = title(report)
    body, short = text(report, heading, [f.name for f in files], schedule.name)
    subject = f"{report.organisation}: service availability report {heading}"
    return Message(subject, body, short, "info", tuple(files))
