"""Logs that help during an outage: a repeated failure is one story, not a flood.

``Repeated`` tells it in three parts: the first failure with its traceback (the one worth
reading), then while it goes on at most one line per ``every`` seconds with the count since
the last line, then one recovery line with the total and how long it lasted. The database
writers (results, events, readings), the alerts tick and the outbox senders
(``threenines.core.outbox.SenderLog``) use it; ``summary`` gives the one-line
form of an exception that they all log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

EVERY = 60.0


def summary(exc: BaseException) -> str:
    """``Type: first line of the message`` (SQLAlchemy puts the SQL and the parameters on the
    following lines: they stay out of the one-line form)."""
    text = str(exc).strip()
    first = text.splitlines()[0][:300] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class Repeated:
    """One failure that may repeat; ``failed`` each time it happens, ``ok`` when it works."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        every: float = EVERY,
        level: int = logging.ERROR,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.log = log
        self.what = what
        self.every = every
        self.level = level
        self.clock = clock
        self.failures = 0  # since the first failure of this spell
        self._since_line = 0
        self._first = 0.0
        self._line = 0.0

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(
        self, exc: BaseException | None = None, *, traceback: bool = True, why: str | None = None
    ) -> None:
        """One more failure: ``exc`` (told by ``summary``, its traceback on the first line
        unless ``traceback=False``), or ``why`` in words when there is no exception."""
        now = self.clock()
        self.failures += 1
        self._since_line += 1
        why = why or (summary(exc) if exc is not None else "failed")
        if self.failures == 1:
            self._first = self._line = now
            self._since_line = 0
            info = exc if (traceback and exc is not None) else None
            self.log.log(self.level, "%s: %s", self.what, why, exc_info=info)
        elif now - self._line >= self.every:
            self.log.log(
                self.level,
                "%s: still failing: %d more time(s) in the last %.0f s (%d in all); last: %s",
                self.what, self._since_line, now - self._line, self.failures, why,
            )  # fmt: skip
            self._line = now
            self._since_line = 0

    def ok(self) -> None:
        if not self.failures:
            return
        self.log.warning(
            "%s: recovered after %d failure(s) over %.0f s",
            self.what, self.failures, self.clock() - self._first,
        )  # fmt: skip
        self.failures = self._since_line = 0
