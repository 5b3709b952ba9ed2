"""HTML (self-contained, inline SVG) and PDF renderings of a ``BoardReport``.

WeasyPrint is the one blocking, heavy library here: it sits behind ``render_pdf`` only, so the
service can run it off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from threenines.availability import display
from threenines.core.durations import format_duration
from threenines.reports import svg
from threenines.reports.board import BoardReport, Row

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_BARS = 30  # the board reads the worst services; the tables list them all
MAX_INCIDENTS = 40  # by impact (duration x services affected); CSV/JSON carry every incident


def _pct(value: float | None) -> str:
    return display.percent(value)


def _row_pct(row: Row) -> str:
    """A subject's availability, held to its verdict at the precision shown."""
    return display.percent(row.availability, target=row.target, met=row.met)


def _dur(value: float | None) -> str:
    """Durations to the second (a tenth below a minute): the board reads minutes, not millis."""
    if value is None:
        return "—"
    return format_duration(round(value) if value >= 60 else round(value, 1)) if value else "0s"


def _verdict(met: bool | None) -> Markup:
    if met is None:
        return Markup('<span class="nodata">no data</span>')
    return Markup('<span class="met">met</span>' if met else '<span class="missed">missed</span>')


def _budget_left(row: Row) -> str:
    if row.budget_allowed <= 0:
        return "—"
    share = display.share(row.budget_remaining, row.budget_allowed)
    sign = "-" if row.budget_remaining < 0 else ""
    return f"{sign}{_dur(abs(row.budget_remaining))} ({share}\u00a0%)"


def _signed_dur(value: float) -> str:
    return ("-" if value < 0 else "") + _dur(abs(value))


def _budget_share(row: Row) -> str:
    if row.budget_allowed <= 0:
        return "—"
    return f"{display.share(row.budget_remaining, row.budget_allowed)}\u00a0%"


def _when(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%d %b %Y %H:%M %Z")


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=_pct,
        row_pct=_row_pct,
        dur=_dur,
        signed_dur=_signed_dur,
        when=_when,
        budget_left=_budget_left,
        budget_share=_budget_share,
    )
    env.filters["verdict"] = _verdict
    return env


def title(report: BoardReport) -> str:
    if report.kind == "month":
        return datetime.fromtimestamp(report.start + 43200, ZoneInfo(report.timezone)).strftime(
            "%B %Y"
        )
    return report.period


def _dates(report: BoardReport) -> tuple[str, str]:
    """The period's first and last local day, as the burn chart's x axis ends."""
    tz = ZoneInfo(report.timezone)
    first = datetime.fromtimestamp(report.start, tz)
    last = datetime.fromtimestamp(report.end - 1, tz)
    return first.strftime("%d %b"), last.strftime("%d %b")


def render_html(report: BoardReport) -> str:
    worst = sorted(report.services, key=lambda s: (s.availability is not None, s.availability or 0))
    shown = sorted(worst[:MAX_BARS], key=lambda s: s.name)
    by_site: dict[str, list[Row]] = {}
    for row in sorted(report.services, key=lambda s: (s.site, s.name)):
        by_site.setdefault(row.site, []).append(row)
    counts = {s.name: len(by_site.get(s.name, [])) for s in report.sites}
    impact = sorted(report.incidents, key=lambda i: -i.duration * len(i.affected))
    incidents = sorted(impact[:MAX_INCIDENTS], key=lambda i: i.start)
    return (
        _env()
        .get_template("board.html.j2")
        .render(
            r=report,
            title=title(report),
            counts=counts,
            by_site=list(by_site.items()),
            heatmap=svg.heatmap(report.days, report.target),
            burn=svg.burn_chart(
                report.burn if report.overall.met is not None else [],  # no data: no chart
                report.start,
                report.end,
                report.generated_at,
                width=360,
                height=170,
                dates=_dates(report),
            ),
            bars=svg.availability_bars([(s.name, s.availability) for s in shown], report.target),
            trend=svg.trend_chart(report.monthly, report.target) if report.monthly else "",
            bars_shown=len(shown),
            hidden=max(0, len(report.services) - len(shown)),
            incidents=incidents,
            more_incidents=len(report.incidents) - len(incidents),
        )
    )


def render_pdf(report: BoardReport) -> bytes:
    """PDF from the same HTML (WeasyPrint, with pango): tagged (structure for screen readers,
    ``pdf_tags``), with the headings as the PDF's outline (its table of contents)."""
    from weasyprint import HTML

    pdf = HTML(string=render_html(report), base_url=str(TEMPLATES)).write_pdf(pdf_tags=True)
    assert pdf is not None
    return bytes(pdf)
