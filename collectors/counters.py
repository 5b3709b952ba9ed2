"""Pure counter arithmetic: rates from SNMP counters without negative or absurd values.

SNMP counters only go up, wrap at 2^32 (Counter32) or 2^64 (Counter64), and restart from zero
when the agent restarts. A wrong rate is worse than no rate (it draws a spike on the graph and
can trip an alert), so every doubtful case returns ``None``: the next poll gives a clean one.
"""

from __future__ import annotations

from dataclasses import dataclass

WRAP32 = 2**32
TICKS_WRAP = 2**32  # sysUpTime (TimeTicks, 1/100 s) wraps after ~497 days


@dataclass(frozen=True, slots=True)
class CounterSample:
    """A counter value, its width (32 or 64) and the agent clock it was read at (ticks)."""

    value: int
    bits: int
    ts: float
    discontinuity: int | None = None  # ifCounterDiscontinuityTime, when the agent has it


def counter_rate(
    prev: CounterSample | None, cur: CounterSample | None, *, max_rate: float | None = None
) -> float | None:
    """Per-second rate between two samples of one counter, or None when it cannot be trusted.

    - no previous sample, no time elapsed, or counter width changed: None;
    - the agent says the counter was discontinuous (ifCounterDiscontinuityTime moved): None;
    - a decrease of a Counter32 is one wrap (+2^32); of a Counter64 it is a reset: None;
    - a rate above ``max_rate`` (e.g. faster than the link) means a reset we could not see
      (a restarted agent whose 32-bit counter "wrapped" to a small value): None.
    """
    if prev is None or cur is None or cur.bits != prev.bits:
        return None
    elapsed = cur.ts - prev.ts
    if elapsed <= 0:
        return None
    if prev.discontinuity is not None and cur.discontinuity != prev.discontinuity:
        return None
    delta = cur.value - prev.value
    if delta < 0:
        if cur.bits != 32:
            return None
        delta += WRAP32
    rate = delta / elapsed
    if max_rate is not None and rate > max_rate:
        return None
    return rate


def restarted(prev_ticks: int | None, cur_ticks: int, elapsed: float) -> bool:
    """True if sysUpTime went backwards because the agent restarted (not because it wrapped).

    A wrap is told apart from a restart by arithmetic: after a wrap, the previous value plus
    the elapsed time lands past 2^32 and the new value is what is left over (give or take the
    poll's own jitter).
    """
    if prev_ticks is None or cur_ticks >= prev_ticks:
        return False
    expected = prev_ticks + elapsed * 100
    if expected >= TICKS_WRAP:
        slack = max(1000.0, elapsed * 100 * 0.5)  # 10 s or half the interval
        return abs((expected - TICKS_WRAP) - cur_ticks) > slack
    return True


def link_max_bps(speed_bps: float | None) -> float | None:
    """The fastest believable rate on a link: its speed plus 10 % (agents round speeds)."""
    if not speed_bps or speed_bps <= 0:
        return None
    return speed_bps * 1.1
