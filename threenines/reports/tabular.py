"""CSV and JSON renderings of a ``BoardReport``: the same figures as the HTML and PDF.

CSV: a ``period`` row (its label, the time zone in ``kind``, its start and end), one row per
subject (``section`` = estate | site | service) with every figure in seconds or percent
(availability truncated to six places, as shown), then one row per incident (``section`` =
incident; start and end in ISO 8601 local time with the offset, the zone in ``kind``), then
the security figures (``section`` = security, the figure in ``name`` and its number in
``value``: opened, resolved, open_critical, mean_time_to_resolve in seconds,
opened_<severity>, monitored), then the summary sentences (``summary``), the accounting rules
(``section`` = rule, the text in ``name``), restatements and the issue marker, so the file can
be audited on its own. JSON: the whole report, as
``BoardReport.to_dict`` gives it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from threenines.availability.display import DATA_PLACES, percent
from threenines.reports.board import BoardReport, Row

FIGURES = (
    "availability",
    "target",
    "met",
    "up",
    "degraded",
    "down",
    "nodata",
    "no_quorum",
    "maintenance",
    "drill",
    "outside_hours",
    "down_excluded",
    "budget_allowed",
    "budget_used",
    "budget_remaining",
    "incidents",
    "mttr",
    "mtbf",
)
INCIDENT = ("start", "end", "duration", "cause", "affected", "ongoing", "cause_kind")
HEADER = ("section", "name", "kind", "site", *FIGURES, *INCIDENT, "value")


def _num(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(round(value, 6))
    return value


def _figure(row: Row, name: str) -> object:
    if name == "availability":  # truncated like every page, held to the verdict
        return percent(row.availability, DATA_PLACES, unit="", none="", target=row.target,
                       met=row.met)  # fmt: skip
    return _num(getattr(row, name))


def _local(tz: str) -> Callable[[float], str]:
    zone = ZoneInfo(tz)
    return lambda ts: datetime.fromtimestamp(ts, zone).isoformat(timespec="seconds")


def _subject(section: str, row: Row) -> list[object]:
    return [section, row.name, row.kind, row.site, *(_figure(row, f) for f in FIGURES)] + [
        "" for _ in (*INCIDENT, "value")
    ]


def render_csv(report: BoardReport) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(HEADER)
    blank = ["" for _ in FIGURES]
    when = _local(report.timezone)
    out.writerow(["period", report.period, report.timezone, "", *blank, when(report.start),
                  when(report.end), _num(report.end - report.start), *[""] * 5])  # fmt: skip
    out.writerow(_subject("estate", report.overall))
    for row in report.sites:
        out.writerow(_subject("site", row))
    for row in report.services:
        out.writerow(_subject("service", row))
    for inc in report.incidents:
        blanks = ["" for _ in FIGURES]
        out.writerow(
            [
                "incident",
                inc.root,
                report.timezone,
                "",
                *blanks,
                when(inc.start),
                when(inc.end),
                _num(inc.duration),
                inc.cause,
                " ".join(inc.affected),
                _num(inc.ongoing),
                inc.cause_kind,
                "",
            ]
        )
    for name, value in _security(report):
        out.writerow(["security", name] + ["" for _ in HEADER[2:-1]] + [_num(value)])
    for line in report.summary:
        out.writerow(["summary", line] + ["" for _ in HEADER[2:]])
    for rule in report.rules:
        out.writerow(["rule", rule] + ["" for _ in HEADER[2:]])
    for r in report.restatements:
        text = (
            f"{r['issue']}: {r['subject']} {r['old']} -> {r['new']} "
            f"(down {r['old_down']:.0f}s -> {r['new_down']:.0f}s); " + "; ".join(r["causes"])
        )
        out.writerow(["restatement", text] + ["" for _ in HEADER[2:]])  # fmt: skip
    if report.issue is not None:
        out.writerow(["issue", report.issue["marker"]] + ["" for _ in HEADER[2:]])
    return buf.getvalue()


def _security(report: BoardReport) -> list[tuple[str, object]]:
    sec = report.security
    if sec is None:
        return []
    keys = ("opened", "resolved", "open_critical", "mean_time_to_resolve")
    rows: list[tuple[str, object]] = [(k, sec[k]) for k in keys]
    rows += [(f"opened_{sev}", n) for sev, n in sorted(sec["opened_by_severity"].items())]
    return [*rows, ("monitored", sec["monitored"])]


def render_json(report: BoardReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False)
