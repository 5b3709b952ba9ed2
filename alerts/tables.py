"""Alert tables on the shared ``metadata``: incidents, silences, the notification outbox.

- ``alert_notifications``: every notification the policy decided, rendered, before sending;
  ``held`` notifications (silence, maintenance) are recorded here and never delivered.
- ``alert_deliveries``: the outbox, one row per (notification, receiver). A sender claims a row
  with a conditional UPDATE (``state='pending'`` or an expired lease), so two instances never
  send the same row; a receiver that confirmed is never sent to again.
- ``alert_attempts``: every delivery attempt and its outcome (errors are redacted).
- ``alert_commands``: acks, resolves and silences from the CLI, applied by the running service.
- ``alert_kv``: the policy's pending groups, flap trackers and the events cursor.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, String, Table, Text

from threenines.core.outbox import outbox_columns
from threenines.core.tables import Id, metadata

alert_incidents = Table(
    "alert_incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(300), nullable=False, unique=True),
    Column("key", String(250), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # open | acknowledged | resolved
    Column("severity", String(10), nullable=False),
    Column("category", String(16), nullable=False),
    Column("site", String(64)),
    Column("service", String(64)),
    Column("title", String(300), nullable=False),
    Column("cause", Text, nullable=False, default=""),
    Column("opened_at", Float, nullable=False),
    Column("since", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("acked_by", String(100)),
    Column("acked_at", Float),
    Column("held", String(200)),
    Column("data", JSON, nullable=False),  # the full Incident, for restart
    Index(None, "key", "opened_at"),
    Index(None, "status"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(64), nullable=False, unique=True),
    Column("matchers", JSON, nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("author", String(100), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("removed_at", Float),
    Column("removed_by", String(100)),
)

alert_notifications = Table(
    "alert_notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(400), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("route", String(64), nullable=False),
    Column("grp", String(250), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("held", String(200)),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("short", Text, nullable=False),
    Column("notify_type", String(10), nullable=False),
    Column("incidents", JSON, nullable=False),  # uids of the incidents (children included)
    Column("summary", Text),  # render.summarise; NULL on rows from before alerts_0002
    Index(None, "created_at"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "notification_id",
        Id,
        ForeignKey("alert_notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("receiver", String(64), nullable=False),
    *outbox_columns(),  # claimed and settled by threenines.core.outbox
    Column("created_at", Float, nullable=False),
    Index(None, "state", "next_at"),
    Index(None, "notification_id", "receiver", unique=True),
)

alert_attempts = Table(
    "alert_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "delivery_id", Id, ForeignKey("alert_deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    Column("owner", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("outcome", String(10), nullable=False),  # ok | error
    Column("error", Text),
    Index(None, "delivery_id"),
)

alert_commands = Table(
    "alert_commands",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("op", String(16), nullable=False),  # ack | resolve | silence | unsilence
    Column("args", JSON, nullable=False),
    Column("applied_at", Float),
    Column("result", Text),
    Index(None, "applied_at"),
)

alert_kv = Table(
    "alert_kv",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)
