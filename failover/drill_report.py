"""The drill report: objectives met or missed, the timeline as an inline SVG chart, problems.

HTML is self-contained (no external assets); the PDF is rendered from it with WeasyPrint, as
the board report does. Rendering is pure: it takes the stored drill and its marks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from threenines.failover.timeline import MARKS, Mark

CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;color:#222;margin:24px;font-size:12px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:4px 6px;
text-align:left} .met{color:#1a7f37;font-weight:bold} .missed{color:#c62828;font-weight:bold}
.none{color:#777} .muted{color:#666} .problem{color:#c62828}
"""


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def timeline_svg(marks: Sequence[Mark], width: int = 720) -> str:
    """Marks on a horizontal time axis, one labelled row each (seconds since the first mark)."""
    shown = [m for m in marks if m.kind in MARKS]
    if not shown:
        return "<p class='muted'>No timeline marks were recorded.</p>"
    t0 = min(m.ts for m in shown)
    span = max(max(m.ts for m in shown) - t0, 1.0)
    left, right, row = 250, 20, 22
    plot = width - left - right
    height = 40 + row * len(shown)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Drill timeline">'
    ]
    for i in range(5):  # grid and axis labels
        x = left + plot * i / 4
        out.append(f'<line x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{height - 20}" stroke="#eee"/>')
        out.append(
            f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" '
            f'fill="#666">+{span * i / 4:.1f}s</text>'
        )
    for i, m in enumerate(sorted(shown, key=lambda m: m.ts)):
        y = 22 + row * i
        x = left + plot * (m.ts - t0) / span
        colour = "#c62828" if m.kind in ("fault_injected", "first_failed_probe") else "#1565c0"
        if m.kind == "all_journeys_green":
            colour = "#1a7f37"
        out.append(
            f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end">'
            f"{escape(MARKS[m.kind])}</text>"
        )
        out.append(f'<line x1="{left}" y1="{y}" x2="{x:.1f}" y2="{y}" stroke="#ccc"/>')
        out.append(f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="{colour}"/>')
        out.append(
            f'<text x="{min(x + 8, width - 60):.1f}" y="{y + 4}" font-size="10" fill="#444">'
            f"+{m.ts - t0:.1f}s</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _objective_rows(objectives: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for o in objectives:
        met = o.get("met")
        cls, word = (
            ("none", "not measured")
            if met is None
            else (("met", "met") if met else ("missed", "missed"))
        )
        rows.append(
            f"<tr><td>{escape(o['name'])}</td><td>{escape(o['target'])}</td>"
            f"<td>{escape(o['measured'])}</td><td class='{cls}'>{word}</td></tr>"
        )
    return "".join(rows)


def render_html(drill: Mapping[str, Any], marks: Sequence[Mark], organisation: str = "") -> str:
    summary = drill.get("summary") or {}
    problems = summary.get("problems") or []
    took = (drill["finished"] - drill["started"]) if drill.get("finished") else None
    marks_rows = "".join(
        f"<tr><td>{_time(m.ts)}</td><td>{escape(MARKS.get(m.kind, m.kind))}</td>"
        f"<td>{escape(m.message)}</td></tr>"
        for m in sorted(marks, key=lambda m: m.ts)
    )
    problem_list = (
        "".join(f"<li class='problem'>{escape(p)}</li>" for p in problems)
        or "<li>Nothing went wrong.</li>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>DR drill {drill["id"]}: {escape(drill["plan"])}</title><style>{CSS}</style></head><body>
<h1>DR drill {drill["id"]}: {escape(drill["plan"])} ({escape(drill["scenario"])})</h1>
<p class="muted">{escape(organisation)} &middot; started {_time(drill["started"])} by
{escape(drill["actor"])} &middot; {f"took {took:.0f}s" if took is not None else "unfinished"}
&middot; outcome: <b>{escape(drill["state"])}</b>. This period is tagged as a drill and excluded
from SLA figures.</p>
<h2>Objectives</h2>
<table><tr><th>Objective</th><th>Target</th><th>Measured</th><th></th></tr>
{_objective_rows(summary.get("objectives") or [])}</table>
<h2>Timeline</h2>
{timeline_svg(marks)}
<table><tr><th>Time</th><th>Mark</th><th>Detail</th></tr>{marks_rows}</table>
<h2>What went wrong</h2><ul>{problem_list}</ul>
</body></html>
"""


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    pdf = HTML(string=html).write_pdf()
    assert pdf is not None
    return bytes(pdf)
