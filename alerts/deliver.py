"""Apprise delivery: one Apprise object per receiver, run off the event loop.

Contract: ``await Deliverer.send(receiver, message)`` returns ``None`` on success or an error
text; it never raises for a failing receiver, and the error text never contains the receiver's
URL or any part of it that could be a credential (Apprise URLs embed passwords and tokens).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import apprise

from threenines.alerts.config import Receiver

_MIN_SECRET = 4


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (e.g. a scheduled board report), held in memory."""

    name: str
    data: bytes
    mimetype: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    short: str
    notify_type: str = "info"
    # Receivers whose kind cannot carry files (SMS, chat) get the text only; short-form
    # receivers never get them.
    attach: tuple[Attachment, ...] = ()


def secret_parts(url: str) -> list[str]:
    """The URL and every piece of it that may be a credential, longest first."""
    parts = {url}
    try:
        u = urlsplit(url)
    except ValueError:
        return [url]
    parts |= {u.netloc, u.password or "", u.username or "", u.path, u.query}
    parts |= {p for p in u.path.split("/")}
    parts |= {v for _k, v in parse_qsl(u.query, keep_blank_values=True)}
    parts |= {unquote(p) for p in list(parts)}
    return sorted((p for p in parts if len(p) >= _MIN_SECRET), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return re.sub(r"[a-z][a-z0-9+.-]*://\S+", "<url redacted>", text)


@contextmanager
def _attachments(files: Sequence[Attachment]) -> Iterator[apprise.AppriseAttachment | None]:
    """The files as Apprise attachments, written to a private temporary folder for the send:
    several Apprise plug-ins (Teams workflows, Telegram, Discord...) read ``attachment.path``,
    which in-memory attachments do not have."""
    if not files:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="threenines-attach-") as folder:
        out = apprise.AppriseAttachment()
        for f in files:
            path = Path(folder) / Path(f.name).name
            path.write_bytes(f.data)
            out.add(f"file://{quote(str(path))}?mime={quote(f.mimetype, safe='')}")
        yield out


class Deliverer:
    """Sends rendered messages through each receiver's Apprise URL."""

    def __init__(self, receivers: Sequence[Receiver], timeout: float = 30.0):
        self._receivers = {r.name: r for r in receivers}
        self._objects: dict[str, apprise.Apprise] = {}
        self._lock = threading.Lock()
        self._timeout = timeout
        names = set(self._receivers)
        self._secrets = [
            p for r in receivers for p in secret_parts(r.url.get_secret_value()) if p not in names
        ]

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _apprise(self, name: str) -> apprise.Apprise | str:
        with self._lock:
            if name in self._objects:
                return self._objects[name]
            receiver = self._receivers.get(name)
            if receiver is None:
                return f"unknown receiver {name!r}"
            obj = apprise.Apprise()
            if not obj.add(receiver.url.get_secret_value()):
                return f"receiver {name!r}: Apprise does not accept its URL (scheme or format)"
            self._objects[name] = obj
            return obj

    def _send_sync(self, name: str, msg: Message) -> str | None:
        obj = self._apprise(name)
        if isinstance(obj, str):
            return obj
        short = self._receivers[name].format == "short"
        try:
            with _attachments(() if short else msg.attach) as attach:
                result = obj.notify(
                    body=msg.short if short else msg.body,
                    title="" if short else msg.title,
                    notify_type=msg.notify_type,
                    body_format=apprise.NotifyFormat.TEXT,
                    attach=attach,
                )
        except Exception as exc:  # a plug-in bug must not take the sender down
            return self.redact(f"receiver {name!r}: {type(exc).__name__}: {exc}")
        if result:
            return None
        logs = "; ".join(
            e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")
        )
        return self.redact(f"receiver {name!r}: delivery failed" + (f": {logs}" if logs else ""))

    async def send(self, name: str, msg: Message) -> str | None:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._send_sync, name, msg), self._timeout
            )
        except TimeoutError:
            return f"receiver {name!r}: no answer within {self._timeout:g}s"
