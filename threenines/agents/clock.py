"""The agent dates its results by the server's clock, carried on by the monotonic clock.

Every interval and every "now" the server computes is on the server's clock, so a result must
be too. Each answer from the server carries its time (``X-Threenines-Time``); the agent keeps
one anchor, (server time, monotonic time), from an answer that came back within ``MAX_RTT``
(the first answer anchors whatever its delay: a loaded server's slow first answer is still
better than a host clock minutes off, and a quicker one later narrows it), and dates each
result ``anchor + monotonic time elapsed``, less the result's age. A host clock that is minutes off,
or is stepped while results wait in the queue, therefore changes no result's time; the server
still sees the host's own clock (``X-Threenines-Sent``) and flags it when it is off. An answer
that disagrees with the anchor by more than both uncertainties moves it (the clocks drift
apart slowly, or the server's clock was stepped).

A result's age is the host clock now less its start on the host clock, unless the host clock
was stepped while it ran (an age below ``-STEP_SLACK`` or beyond the probe's longest possible
run plus ``STEP_SLACK``): then it is the probe's own duration. So a step during a probe moves
no result by the step (dated 240 s in the server's future, one result held back every later
one for four minutes).

Before the first answer (an agent started while the server is away) there is no anchor and
results carry the host's clock, marked so (``anchored`` False); the server holds back a result
dated in its future rather than store it. The anchor is saved in the queue with the boot id,
so an agent restarted without a reboot (the monotonic clock counts on from the same boot)
dates its results by the server's clock at once.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_RTT = 2.0  # seconds; a slower answer says too little about the server's time
TOLERANCE = 0.05  # seconds of disagreement that never move the anchor
STEP_SLACK = 5.0  # seconds a result's age may be off its bounds before it counts as a step
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True, slots=True)
class Anchor:
    server: float  # the server's time ...
    mono: float  # ... at this monotonic time
    uncertainty: float  # +- seconds


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


class ServerClock:
    def __init__(
        self,
        *,
        mono: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        use_server: bool = True,
    ):
        self.mono, self.wall, self.use_server = mono, wall, use_server
        self.anchor: Anchor | None = None

    @property
    def anchored(self) -> bool:
        """True when results are dated by the server's clock."""
        return self.use_server and self.anchor is not None

    def observe(self, server_time: float, sent: float, received: float) -> bool:
        """An answer's server time, with the monotonic times the request left and the answer
        came back; True when the anchor moved (then save it: ``dump``)."""
        rtt = received - sent
        old = self.anchor
        if not (math.isfinite(server_time) and 0 <= rtt and (rtt <= MAX_RTT or old is None)):
            return False
        new = Anchor(server_time + rtt / 2, received, rtt / 2)
        if old is not None:
            predicted = old.server + (received - old.mono)
            bound = old.uncertainty + new.uncertainty + TOLERANCE
            consistent = abs(predicted - new.server) <= bound
            if consistent and new.uncertainty * 2 >= old.uncertainty:
                return False  # consistent and no more precise: time stays continuous
        self.anchor = new
        return True

    def server_now(self) -> float | None:
        """The server's time now, if known."""
        a = self.anchor
        return None if a is None else a.server + (self.mono() - a.mono)

    def date(self, wall_ts: float, *, max_age: float | None = None,
             fallback_age: float = 0.0) -> float:  # fmt: skip
        """A host-clock time taken moments ago, on the server's clock when it is known. With
        ``max_age`` (the longest the measurement could have taken), an age off its bounds by
        more than ``STEP_SLACK`` means the host clock was stepped meanwhile: ``fallback_age``
        (the probe's own duration) is used instead."""
        now = self.server_now()
        if now is None or not self.use_server:
            return wall_ts
        age = self.wall() - wall_ts
        if max_age is not None and not -STEP_SLACK <= age <= max_age + STEP_SLACK:
            age = fallback_age
        return now - age

    def skew(self) -> float | None:
        """How far the host's clock is ahead of the server's (seconds; None: not known)."""
        now = self.server_now()
        return None if now is None else self.wall() - now

    def dump(self) -> str:
        a = self.anchor
        assert a is not None
        return json.dumps({"boot": boot_id(), "server": a.server, "mono": a.mono,
                           "uncertainty": a.uncertainty})  # fmt: skip

    def load(self, text: str | None) -> bool:
        """Take a saved anchor if it is from this boot; True if taken."""
        try:
            doc = json.loads(text or "")
            if doc["boot"] != boot_id() or not doc["boot"] or doc["mono"] > self.mono():
                return False
            self.anchor = Anchor(float(doc["server"]), float(doc["mono"]),
                                 float(doc["uncertainty"]))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return False
        return True
