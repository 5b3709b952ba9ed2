"""Adding and ending silences by hand: one way for ``threenines alerts`` and the HTTP API.

A silence is stored at once (so listings show it) and also queued in ``alert_commands``,
which is how the running service — the owner of the policy state — learns of it on its next
tick. Blocking (database I/O): the API calls these through ``asyncio.to_thread``.
"""

from __future__ import annotations

import uuid

from threenines.alerts.model import Silence
from threenines.alerts.store import AlertStore


def add_silence(
    store: AlertStore,
    matchers: dict[str, str],
    seconds: float,
    author: str,
    comment: str,
    now: float,
) -> Silence:
    """Store a silence of ``matchers`` for ``seconds`` from ``now`` and tell the service."""
    s = Silence.make(uuid.uuid4().hex[:12], matchers, now, now + seconds, author, comment)
    store.add_silence(s, now)
    args = {
        "id": s.id,
        "matchers": matchers,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "author": author,
        "comment": comment,
    }
    store.add_command("silence", args, now)
    return s


def remove_silence(store: AlertStore, uid: str, who: str, now: float) -> bool:
    """End silence ``uid`` now and tell the service; False if no such silence is active."""
    if not store.remove_silence(uid, who, now):
        return False
    store.add_command("unsilence", {"id": uid, "who": who}, now)
    return True
