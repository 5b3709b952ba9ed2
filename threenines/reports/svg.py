"""Inline SVG charts for the board report: small functions, no JavaScript, print-friendly.

Each function returns one ``<svg>`` element as text, sized in CSS pixels with a ``viewBox``
so it scales in HTML and in the PDF. Labels are escaped; colours follow ``colour``.
"""

from __future__ import annotations

import math
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

    The axis runs from a fixed floor, 100 - 10 x (100 - target) (99.0 % for a 99.9 % target),
    to 100 %, so 99.9 % and 100 % are a tenth of the axis apart whatever the worst service
    does; a value under the floor is drawn to the floor with a break mark and labelled.
    """
    floor = max(0.0, 100 - 10 * (100 - target))
    left, right, bar, gap = 150.0, 70.0, 12.0, 4.0
    plot = width - left - right
    height = 24 + len(items) * (bar + gap) + 16
    bottom = 20 + len(items) * (bar + gap)

    def x(v: float) -> float:
        return left + plot * (min(max(v, floor), 100) - floor) / (100 - floor or 1)

    body = [
        f'<rect class="plot" x="{left}" y="16" width="{plot}" height="{bottom - 16:.1f}" '
        'fill="none" stroke="none"/>',
        _text(left, 12, f"{floor:g} %", fill=LINE),
        _text(left + plot, 12, "100 %", "end", fill=LINE),
    ]
    for i, (label, value) in enumerate(items):
        y = 20 + i * (bar + gap)
        body.append(_text(left - 6, y + bar - 2, label[:24], "end"))
        if value is None:
            body.append(_text(width - 4, y + bar - 2, "no data", "end", fill=LINE))
            continue
        w = max(x(value) - left, 1.0)
        body.append(
            f'<rect class="bar" x="{left:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar}" '
            f'fill="{colour(value, target)}"/>'
        )
        if value < floor:  # a break mark: this bar is longer than the axis shows
            body.append(f'<path d="M{left + 3:.1f},{y - 1:.1f} l4,{bar + 2} m3,0 l-4,-{bar + 2}" '
                        f'stroke="#fff" stroke-width="2"/>')  # fmt: skip
        body.append(_text(width - 4, y + bar - 2, percent(value, unit=" %"), "end"))
    tx = x(target)
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


NICE = (1.0, 2.0, 2.5, 5.0)
MIN_TICK_GAP = 16.0  # px between y-axis labels: a 10 px font never overlaps its neighbour


def nice_step(top: float, room: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k step giving ticks at least ``MIN_TICK_GAP`` apart."""
    most = max(1, int(room // MIN_TICK_GAP))
    scale = 10.0 ** math.floor(math.log10(top / most)) if top > 0 else 1.0
    for _ in range(40):  # bounded: a step is found within a few decades
        for n in NICE:
            if top / (n * scale) <= most:
                return n * scale
        scale *= 10
    return top


def burn_chart(
    points: Sequence[tuple[float, float]],
    start: float,
    end: float,
    now: float | None = None,
    width: float = 640,
    height: float = 180,
    dates: tuple[str, str] = ("start of period", "end of period"),
) -> str:
    """Cumulative error budget used (a fraction of the period's budget) from ``start`` to
    ``end``, the period's real end even while it is in progress, with ``now`` marked.

    The y axis is scaled to the data (at least to the budget, 100 %), its ticks a 1/2/2.5/5
    step at least 16 px apart (above 1,000 % in multiples of the budget: "20x"); the budget is
    a dashed line labelled inside the plot.
    """
    if len(points) < 2 or end <= start:
        return _svg(width, 24, [_text(4, 16, "no data: no budget used or counted")],
                    "Error budget burn (no data)")  # fmt: skip
    left, right, top, bottom = 48.0, 12.0, 18.0, 22.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(1.0, max(v for _, v in points))
    step = nice_step(peak * 1.05, plot_h)
    ymax = math.ceil(peak * 1.05 / step) * step

    def xy(t: float, v: float) -> tuple[float, float]:
        t = min(max(t, start), end)
        return left + plot_w * (t - start) / (end - start), top + plot_h * (1 - v / ymax)

    body = [f'<rect class="plot" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
            f'fill="none" stroke="{GREY}"/>']  # fmt: skip
    for k in range(round(ymax / step) + 1):
        frac = k * step
        _, y = xy(start, frac)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="{GREY}" stroke-width="0.5"/>')  # fmt: skip
        tick = f"{frac * 100:g} %" if ymax <= 10 else f"{frac:g}x"  # x: times the budget
        body.append(_text(left - 4, y + 3, tick, "end"))
    _, by = xy(start, 1.0)
    body.append(f'<line class="budget" x1="{left}" y1="{by:.1f}" x2="{left + plot_w}" '
                f'y2="{by:.1f}" stroke="{INK}" stroke-dasharray="4 2"/>')  # fmt: skip
    label_y = by - 3 if by - 3 - 10 >= top else by + 11
    body.append(_text(left + 4, label_y, "budget", fill=INK))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(t, v) for t, v in points))
    end_colour = RED if points[-1][1] > 1 else GREEN
    body.append(f'<polyline class="data" points="{path}" fill="none" stroke="{end_colour}" '
                'stroke-width="2"/>')  # fmt: skip
    if now is not None and start < now < end:
        nx, _ = xy(now, 0)
        body.append(f'<line class="today" x1="{nx:.1f}" y1="{top}" x2="{nx:.1f}" '
                    f'y2="{top + plot_h}" stroke="{AMBER}" stroke-width="1.5"/>')  # fmt: skip
        lx = min(max(nx, left + 16), left + plot_w - 16)
        body.append(_text(lx, top - 5, "today", "middle", fill=INK))
    body.append(_text(left, height - 6, dates[0], fill=LINE))
    body.append(_text(left + plot_w, height - 6, dates[1], "end", fill=LINE))
    return _svg(width, height, body, "Error budget used over the period")


SERIES = ("#1a4e8a", "#2e7d32", "#8e24aa", "#ef6c00", "#00838f", "#6d4c41")


def trend_chart(
    series: dict[str, list[tuple[str, float | None]]], target: float, width: float = 640,
    height: float = 190,
) -> str:  # fmt: skip
    """Monthly availability lines (the estate and each data centre) against the target.

    The y axis runs from a floor below the lowest value (at least 100 - 10 x (100 - target))
    to 100 %, ticks a 1/2/2.5/5 step 16 px apart; a month without data is a gap, never a 0 or
    a 100. Month labels are thinned to fit; the legend is one row under the axis.
    """
    labels = next(iter(series.values()), [])
    values = [v for pts in series.values() for _, v in pts if v is not None]
    if not labels or not values:
        return _svg(width, 24, [_text(4, 16, "no data for the trend")], "Trend (no data)")
    left, right, top, bottom = 52.0, 12.0, 10.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    low = min([100 - 10 * (100 - target), *values])
    step = nice_step(100 - low or 1, plot_h)
    floor = max(0.0, math.floor(low / step) * step)
    if floor >= 100:
        floor = 100 - step

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + plot_w * (i + 0.5) / len(labels)
        return x, top + plot_h * (1 - (v - floor) / (100 - floor))

    body = [f'<rect class="plot" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
            f'fill="none" stroke="{GREY}"/>']  # fmt: skip
    k = 0
    while floor + k * step <= 100 + 1e-9 and k < 200:
        v = floor + k * step
        _, y = xy(0, v)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="{GREY}" stroke-width="0.5"/>')  # fmt: skip
        body.append(_text(left - 4, y + 3, f"{round(v, 6):g} %", "end"))
        k += 1
    _, ty = xy(0, target)
    body.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" '
                f'stroke="{INK}" stroke-dasharray="4 2"/>')  # fmt: skip
    every = max(1, math.ceil(len(labels) * 46 / plot_w))  # a "2026-10" label is ~42 px wide
    for i, (label, _v) in enumerate(labels):
        if i % every == 0:
            x, _ = xy(i, floor)
            body.append(_text(x, top + plot_h + 12, label, "middle", fill=LINE))
    for n, (name, pts) in enumerate(series.items()):
        colour = SERIES[n % len(SERIES)]
        run: list[str] = []
        for i, (_label, val) in enumerate([*pts, ("", None)]):
            if val is None:
                if len(run) > 1:
                    body.append(f'<polyline class="data" points="{" ".join(run)}" fill="none" '
                                f'stroke="{colour}" stroke-width="1.8"/>')  # fmt: skip
                elif run:
                    cx, cy = run[0].split(",")
                    body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
                run = []
                continue
            x, y = xy(i, val)
            run.append(f"{x:.1f},{y:.1f}")
        lx = left + n * min(plot_w / max(len(series), 1), 130)
        body.append(f'<rect x="{lx:.1f}" y="{height - 12}" width="10" height="3" fill="{colour}"/>')
        body.append(_text(lx + 14, height - 8, name[:18]))
    return _svg(width, height, body, "Availability by month: the estate and each data centre")
