"""Apprise delivery: one Apprise object per receiver, run off the event loop.

Contract: ``await Deliverer.send(receiver, message)`` returns ``None`` on success or an error
text; it never raises for a failing receiver, and the error text never contains the receiver's
URL or any part of it that could be a credential (Apprise URLs embed passwords and tokens).

Size: each receiver takes messages up to its ``max_length``, or else what Apprise knows of its
service (the plug-in's ``body_maxlen``: Discord 2,000, Telegram 4,096, Slack 35,000, e-mail and
JSON 32,768, SMS 160). ``fit`` sends the body when it fits, else the notification's summary
(``render.summarise``), cut at a line if even that is too long: a grouped notification for
thousands of incidents is never refused, or cut mid-word by the service, for its size.
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
    summary: str = ""  # sent instead of ``body`` to a receiver that cannot take the body


CUT = "\n… (cut to fit this receiver)"


def fit(body: str, summary: str, limit: int) -> str:
    """What to send a receiver that takes at most ``limit`` characters: ``body`` if it fits,
    else ``summary`` (``body`` when there is none), whole lines of it if it is too long."""
    if len(body) <= limit:
        return body
    text = summary or body
    if len(text) <= limit:
        return text
    room = max(0, limit - len(CUT))
    cut = text.rfind("\n", 0, room + 1)
    return (text[: cut if cut > 0 else room]) + CUT if room else text[:limit]


def limits(obj: apprise.Apprise, max_length: int | None) -> tuple[int, int]:
    """(body, title) lengths the receiver takes: ``max_length`` when given, else the smallest
    its Apprise plug-ins declare; a title of 0 means the service has none (Apprise then puts
    the title in the body, so it counts there)."""
    bodies = [int(p.body_maxlen) for p in obj if int(getattr(p, "body_maxlen", 0) or 0) > 0]
    titles = [int(getattr(p, "title_maxlen", 0) or 0) for p in obj]
    body = max_length or (min(bodies) if bodies else 32_768)
    return body, min(titles) if titles else 0


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
        receiver = self._receivers[name]
        short = receiver.format == "short"
        body_max, title_max = limits(obj, receiver.max_length)
        title = "" if short else msg.title
        if title_max > 0 and len(title) > title_max:
            title = title[: title_max - 1] + "…"
        room = body_max - (len(title) + 2 if title and title_max == 0 else 0)
        body = fit(msg.short if short else msg.body, "" if short else msg.summary, room)
        try:
            with _attachments(() if short else msg.attach) as attach:
                result = obj.notify(
                    body=body,
                    title=title,
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
