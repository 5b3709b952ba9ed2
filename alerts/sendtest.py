"""``threenines alerts test ROUTE``: send a test notification through a route's receivers.

It goes the same way as a real one (rendered, written to the outbox, claimed, delivered by
Apprise, every attempt recorded), so a success proves the whole path to each receiver.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import Engine

from threenines.alerts.config import alerts_config
from threenines.alerts.deliver import Deliverer
from threenines.alerts.model import Incident, Item, Notification
from threenines.alerts.outbox import OutboxSender, Send
from threenines.alerts.outbox_store import OutboxStore
from threenines.alerts.render import render
from threenines.alerts.store import AlertStore
from threenines.core.config.schema import Config


def test_notification(route: str, receivers: tuple[str, ...], now: float, who: str) -> Notification:
    inc = Incident(
        uid=f"test@{round(now * 1000)}",
        key=f"test:{route}",
        kind="test",
        title=f"test notification through route {route}",
        severity="info",
        category="availability",
        status="open",
        opened_at=now,
        since=now,
        updated_at=now,
        cause=f"sent by {who} to check delivery",
        condition="test",
    )
    item = Item("test", inc)  # type: ignore[arg-type]
    return Notification(f"test|{route}|{round(now * 1000)}", route, "test", receivers, (item,), now)


async def send_test(
    cfg: Config,
    engine: Engine,
    route: str,
    *,
    who: str = "cli",
    send: Send | None = None,
    wait: float = 30.0,
) -> list[dict[str, Any]]:
    """Deliver a test through ``route``; return each receiver's outcome. ValueError if unknown."""
    r = alerts_config(cfg).route(route)
    if r is None:
        known = ", ".join(x.name for x in alerts_config(cfg).routes) or "none configured"
        raise ValueError(f"unknown route {route!r} (routes: {known})")
    now = time.time()
    n = test_notification(route, tuple(r.receivers), now, who)
    tz = alerts_config(cfg).timezone or cfg.timezone
    rendered = render(n, alerts_config(cfg).templates, tz=tz, org=cfg.organisation, now=now)
    ids = set(await asyncio.to_thread(AlertStore(engine).enqueue, n, rendered, now))
    outbox = OutboxStore(engine)
    deliverer = Deliverer(alerts_config(cfg).receivers, alerts_config(cfg).outbox.timeout)
    sender = OutboxSender(outbox, send or deliverer.send, alerts_config(cfg).outbox)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        await sender.run_once(only=ids)
        rows = await asyncio.to_thread(outbox.deliveries, n.uid)
        if all(row["state"] in ("sent", "failed") for row in rows):
            return rows
        await asyncio.sleep(0.5)
    return await asyncio.to_thread(outbox.deliveries, n.uid)
