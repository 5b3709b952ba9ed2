"""Inline SVG charts for the board report: small functions, no JavaScript, print-friendly.

Each function returns one ``<svg>`` element as text, sized in CSS pixels with a ``viewBox``
so it scales in HTML and in the PDF. Labels are escaped; colours follow ``colour``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from threenines.availability.display import percent

GREEN, AMBER, RED, GREY, INK, LINE = "#2e7d32", "#f9a825", "#c62828", "#d0d0d0", "#222", "#555"


def colour(value: float | None, target: float) -> str:
    """Green at or above target, amber within one point below it, red under that."""
    if value is None:
        return GREY
    if value >= target:
        return GREEN
    return AMBER if value >= target - 1 else RED


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(title)}" '
        f'font-family="sans-serif" font-size="10">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def availability_bars(
    items: Sequence[tuple[str, float | None]], target: float, width: float = 640
) -> str:
    """Horizontal bars of availability (percent) per service with the target as a line.

    The axis starts at a floor below the worst value (at most 100 - 10 x (100 - target)) so
    differences of hundredths of a percent stay visible; lower bars are clipped and labelled.
    """
    values = [v for _, v in items if v is not None]
    floor = min([100 - 10 * (100 - target), *[max(v, 0) for v in values]])
    floor = max(0.0, floor - (100 - floor) * 0.05)
    left, right, bar, gap = 150.0, 70.0, 12.0, 4.0
    plot = width - left - right
    height = 24 + len(items) * (bar + gap) + 16

    def x(v: float) -> float:
        return left + plot * (max(v, floor) - floor) / (100 - floor or 1)

    body = [
        _text(left, 12, f"{floor:.2f} %", fill=LINE),
        _text(left + plot, 12, "100 %", "end", fill=LINE),
    ]
    for i, (label, value) in enumerate(items):
        y = 20 + i * (bar + gap)
        body.append(_text(left - 6, y + bar - 2, label[:28], "end"))
        if value is None:
            body.append(_text(left + 4, y + bar - 2, "no data", fill=LINE))
            continue
        body.append(
            f'<rect x="{left:.1f}" y="{y:.1f}" width="{x(value) - left:.1f}" height="{bar}" '
            f'fill="{colour(value, target)}"/>'
        )
        body.append(_text(width - 4, y + bar - 2, percent(value, unit=" %"), "end"))
    tx = x(target)
    bottom = 20 + len(items) * (bar + gap)
    body.append(
        f'<line x1="{tx:.1f}" y1="16" x2="{tx:.1f}" y2="{bottom:.1f}" stroke="{INK}" '
        f'stroke-dasharray="4 2"/>'
    )
    body.append(_text(tx, bottom + 12, f"target {target:g} %", "middle"))
    return _svg(width, height, body, "Availability per service against the target")


def heatmap(days: Sequence[tuple[str, float | None]], target: float) -> str:
    """A calendar of daily availability: one column per week (Monday on top).

    Up to a quarter, cells are large and carry the day of the month; a year gets small cells.
    """
    if not days:
        return _svg(10, 10, [], "Daily availability (no days)")
    parsed = [(date.fromisoformat(d), v) for d, v in days]
    cell = 24.0 if len(parsed) <= 92 else 12.0
    offset = parsed[0][0].weekday()
    left, top = 28.0, 16.0
    weeks = (offset + len(parsed) + 6) // 7
    body = [
        _text(2, top + cell * (i + 0.65), n)
        for i, n in enumerate(("Mon", "", "Wed", "", "Fri", "", "Sun"))
        if n
    ]
    month_seen: set[tuple[int, int]] = set()
    for i, (day, value) in enumerate(parsed):
        col, row = divmod(offset + i, 7)
        x, y = left + col * cell, top + row * cell
        title = f"{day.isoformat()}: " + percent(value, unit=" %")
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell - 2}" height="{cell - 2}" rx="2" '
            f'fill="{colour(value, target)}"><title>{escape(title)}</title></rect>'
        )
        if cell > 20:
            fill = INK if value is None else "#fff"
            body.append(
                _text(x + (cell - 2) / 2, y + cell * 0.62, str(day.day), "middle", fill=fill)
            )
        if (day.year, day.month) not in month_seen:
            month_seen.add((day.year, day.month))
            body.append(_text(x, top - 4, day.strftime("%b")))
    legend_y = top + 7 * cell + 14
    for j, (label, fill) in enumerate(
        ((f">= {target:g} %", GREEN), ("within 1 pt", AMBER), ("below", RED), ("no data", GREY))
    ):
        lx = left + j * 72
        body.append(f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{fill}"/>')
        body.append(_text(lx + 14, legend_y, label))
    width = max(left + weeks * cell + 10, left + 4 * 72)
    return _svg(width, legend_y + 6, body, "Calendar heatmap of daily availability")


def burn_chart(
    points: Sequence[tuple[float, float]], width: float = 640, height: float = 180
) -> str:
    """Cumulative error budget used (fraction) across the period, with the 100 % line."""
    if len(points) < 2:
        return _svg(width, 20, [_text(4, 14, "no data")], "Error budget burn")
    left, right, top, bottom = 44.0, 12.0, 10.0, 22.0
    t0, t1 = points[0][0], points[-1][0]
    peak = max(1.0, max(p[1] for p in points)) * 1.1
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(t: float, v: float) -> tuple[float, float]:
        return left + plot_w * (t - t0) / ((t1 - t0) or 1), top + plot_h * (1 - v / peak)

    body = []
    for frac in (0.0, 0.5, 1.0):
        _, y = xy(t0, frac)
        dash = "" if frac != 1.0 else ' stroke-dasharray="4 2"'
        stroke = INK if frac == 1.0 else GREY
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{stroke}"{dash}/>'
        )
        body.append(_text(left - 4, y + 3, f"{frac * 100:.0f} %", "end"))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(t, v) for t, v in points))
    end_colour = RED if points[-1][1] > 1 else GREEN
    body.append(f'<polyline points="{path}" fill="none" stroke="{end_colour}" stroke-width="2"/>')
    body.append(_text(left, height - 6, "start of period", fill=LINE))
    body.append(_text(left + plot_w, height - 6, "end", "end", fill=LINE))
    return _svg(width, height, body, "Error budget used over the period")
