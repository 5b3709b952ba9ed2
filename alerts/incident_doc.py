"""One incident as ``threenines alerts show`` and ``GET /api/v1/alerts/{ref}`` give it: the
incident's row, its notifications, and each notification's delivery to each receiver. Built
here once, so the CLI prints the same lines locally and through ``--server``."""

from __future__ import annotations

from typing import Any

from threenines.alerts.outbox_store import OutboxStore
from threenines.alerts.store import AlertStore


def incident_document(store: AlertStore, ref: str) -> dict[str, Any] | None:
    """The incident ``ref`` (id, uid or key) with ``notifications``, each with its
    ``deliveries``; None if there is no such incident."""
    row = store.incident(ref)
    if row is None:
        return None
    outbox = OutboxStore(store.engine)
    notes = [{**n, "deliveries": outbox.deliveries(str(n["uid"]))}
             for n in store.notifications_for(row["uid"])]  # fmt: skip
    return {**row, "notifications": notes}
