"""The overview's body is rendered once per view and kind of reader (``console.live``), yet each
page carries only its reader's CSRF token, and only operators get the buttons."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from typing import Any

from threenines.app.config import parse_config
from threenines.console import views, web
from threenines.console.identity import Identity
from threenines.console.live import CSRF_SLOT, LiveViews

INCIDENT = {"id": 7, "title": "service payroll is down", "severity": "major",
            "service": "payroll", "site": "dc1", "status": "open", "acked_by": None,
            "opened_at": time.time() - 60}  # fmt: skip


def _reader(name: str, role: str, csrf: str) -> Any:
    return SimpleNamespace(identity=Identity(name, role), csrf=csrf)


async def test_each_reader_gets_their_own_token_and_only_operators_the_buttons() -> None:
    cfg = parse_config("sites: [{name: dc1, kind: datacentre}]\nservices: []\n")
    ctx: Any = SimpleNamespace(config=cfg)
    live = LiveViews()
    view = views.Overview(time.time(), (INCIDENT,), ())
    live.overview = view
    made: list[str] = []
    original = web.render

    def counting(name: str, ctx: Any, **values: Any) -> str:
        made.append(name)
        return original(name, ctx, **values)

    web.render = counting  # type: ignore[assignment]
    try:
        readers = [_reader("alice", "operator", "t0k-1"),
                   _reader("alice", "operator", "t0k-2"),
                   _reader("ada", "admin", "t0k-3"),
                   _reader("victor", "viewer", "t0k-4")]  # fmt: skip
        bodies = [await web._overview_body(live, ctx, view, r) for r in readers]
    finally:
        web.render = original  # type: ignore[assignment]
    assert made == ["_overview.html", "_overview.html"]  # once for operators, once for viewers
    for body, r in zip(bodies, readers, strict=True):
        assert set(re.findall(r'name="csrf" value="([^"]+)"', body)) == (
            {r.csrf} if r.identity.may("operator") else set()
        )
        assert CSRF_SLOT not in body and "alice" not in body and "victor" not in body
    assert ["Acknowledge" in b for b in bodies] == [True, True, True, False]
    # a new view is rendered again: nothing of the old one is served with it
    newer = views.Overview(time.time(), (), ())
    live.overview = newer
    assert "Acknowledge" not in await web._overview_body(live, ctx, newer, readers[0])


async def test_a_token_is_escaped_where_it_goes() -> None:
    cfg = parse_config("sites: [{name: dc1, kind: datacentre}]\nservices: []\n")
    ctx: Any = SimpleNamespace(config=cfg)
    live = LiveViews()
    view = views.Overview(time.time(), (INCIDENT,), ())
    live.overview = view
    body = await web._overview_body(live, ctx, view, _reader("a", "operator", '"><b>x'))
    assert '"><b>x' not in body and "&#34;&gt;&lt;b&gt;x" in body
