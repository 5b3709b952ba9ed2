"""The board report on paper: every PDF page renders (pdftoppm), nothing spills past the A4
page's content box (WeasyPrint's own layout, measured), the PDF is tagged and has an outline."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_command

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "availability"))
from avail_data import OCT, populate

from threenines.reports.deliver import board_report
from threenines.reports.html import TEMPLATES, render_html, render_pdf


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    cfg, engine = populate(f"sqlite:///{tmp_path_factory.mktemp('pages')}/p.db")
    yield board_report(cfg, engine, OCT, OCT.end + 86400)
    engine.dispose()


def _boxes(box: Any) -> Iterator[Any]:
    if type(box).__name__ == "MarginBox":  # the running footer lives in the page margin
        return
    yield box
    for child in getattr(box, "children", None) or []:
        yield from _boxes(child)


def test_every_box_fits_the_a4_content_width(report) -> None:
    from weasyprint import HTML

    doc = HTML(string=render_html(report), base_url=str(TEMPLATES)).render()
    assert len(doc.pages) == 4
    for n, page in enumerate(doc.pages, 1):
        root = page._page_box
        right = root.content_box_x() + root.width
        for box in _boxes(root):
            if box is root or not hasattr(box, "position_x"):
                continue
            edge = box.position_x + box.margin_width()
            assert edge <= right + 0.5, (
                f"page {n}: {type(box).__name__} ends {edge - right:.1f}px out"
            )


def test_pdftoppm_renders_every_page_and_the_pdf_is_tagged(report, tmp_path) -> None:
    require_command("pdftoppm", "pdfinfo")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(report))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert re.search(r"^Tagged:\s+yes$", info.stdout, re.M)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "p")], check=True,
                   timeout=120)  # fmt: skip
    rendered = sorted(tmp_path.glob("p-*.png"))
    assert len(rendered) == pages == 4
    assert all(p.stat().st_size > 1000 for p in rendered)
    outline = subprocess.run(["pdfinfo", "-dests", str(pdf)], capture_output=True, text=True)
    assert "incidents" in outline.stdout and "rules" in outline.stdout
