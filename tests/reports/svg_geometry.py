"""Geometry checks on the report's SVG charts: text boxes (estimated from the font size, 0.6 em a
character, which over-estimates DejaVu Sans digits) never overlap, stay inside the view box, and
the data stay inside the plot area."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = "{http://www.w3.org/2000/svg}"
CHAR = 0.6  # em per character


@dataclass(frozen=True)
class Box:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, o: Box) -> bool:
        return (
            self.x0 < o.x1 - 0.5
            and o.x0 < self.x1 - 0.5
            and self.y0 < o.y1 - 0.5
            and (o.y0 < self.y1 - 0.5)
        )


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, re.S)


def text_boxes(root: ET.Element) -> list[Box]:
    size = float(root.get("font-size", "10"))
    out = []
    for t in root.iter(f"{NS}text"):
        s = "".join(t.itertext())
        w = len(s) * size * CHAR
        x, y = float(t.get("x", "0")), float(t.get("y", "0"))
        anchor = t.get("text-anchor", "start")
        x0 = x - w / 2 if anchor == "middle" else (x - w if anchor == "end" else x)
        out.append(Box(s, x0, y - 0.8 * size, x0 + w, y + 0.2 * size))
    return out


def check(svg: str) -> ET.Element:
    """Parse ``svg`` and assert its geometry; returns the root for further checks."""
    root = ET.fromstring(svg)
    _, _, vw, vh = (float(v) for v in root.get("viewBox", "").split())
    boxes = text_boxes(root)
    for b in boxes:
        assert b.x0 >= -0.5 and b.x1 <= vw + 0.5 and b.y0 >= -0.5 and b.y1 <= vh + 0.5, (b, vw, vh)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), f"labels overlap: {a} / {b}"
    plot = root.find(f"{NS}rect[@class='plot']")
    if plot is not None:
        px, py = float(plot.get("x", "0")), float(plot.get("y", "0"))
        pw, ph = float(plot.get("width", "0")), float(plot.get("height", "0"))
        for line in root.iter(f"{NS}polyline"):
            for pair in (line.get("points") or "").split():
                x, y = (float(v) for v in pair.split(","))
                assert px - 0.1 <= x <= px + pw + 0.1 and py - 0.1 <= y <= py + ph + 0.1, pair
        for bar in root.iter(f"{NS}rect"):
            if bar.get("class") == "bar":
                x, w = float(bar.get("x", "0")), float(bar.get("width", "0"))
                assert px - 0.1 <= x and x + w <= px + pw + 0.1, (x, w)
    return root
