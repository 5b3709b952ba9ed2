"""Pure counter arithmetic: wraps, resets, restarts and impossible jumps never give bogus rates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threenines.collectors.counters import (
    TICKS_WRAP,
    WRAP32,
    CounterSample,
    counter_rate,
    link_max_bps,
    restarted,
)
from threenines.collectors.snmp_profiles.environment import sensor_value


def s(value: int, ts: float, bits: int = 32, disc: int | None = None) -> CounterSample:
    return CounterSample(value, bits, ts, disc)


@pytest.mark.parametrize(
    ("prev", "cur", "max_rate", "expected"),
    [
        (None, s(100, 10), None, None),  # first sample: no rate yet
        (s(100, 0), s(700, 60), None, 10.0),  # plain increase
        (s(100, 0), s(100, 60), None, 0.0),  # idle
        (s(WRAP32 - 100, 0), s(500, 60), None, 10.0),  # Counter32 wrapped once
        (s(2**64 - 100, 0, 64), s(500, 60, 64), None, None),  # Counter64 decrease: a reset
        (s(100, 0), s(700, 0), None, None),  # no time elapsed
        (s(100, 60), s(700, 0), None, None),  # time went backwards
        (s(100, 0, 32), s(700, 60, 64), None, None),  # switched 32 -> 64 bit columns
        (s(100, 0, disc=5), s(700, 60, disc=9), None, None),  # agent says discontinuity
        (s(100, 0, disc=5), s(700, 60, disc=5), None, 10.0),
        (s(WRAP32 - 100, 0), s(500, 60), 5.0, None),  # "wrap" faster than the link: reset
        (s(5_000, 0), s(1_000, 60), 1e6, None),  # reset to below the old value, capped
    ],
)
def test_counter_rate(prev, cur, max_rate, expected) -> None:
    assert counter_rate(prev, cur, max_rate=max_rate) == expected


@given(
    a=st.integers(0, 2**64 - 1),
    b=st.integers(0, 2**64 - 1),
    bits=st.sampled_from([32, 64]),
    dt=st.floats(0.001, 86400),
    speed=st.none() | st.floats(1e3, 1e11),
)
def test_rate_is_never_negative_or_above_the_cap(a, b, bits, dt, speed) -> None:
    mod = 2**bits
    cap = link_max_bps(speed)
    rate = counter_rate(s(a % mod, 0, bits), s(b % mod, dt, bits), max_rate=cap)
    if rate is not None:
        assert rate >= 0
        assert cap is None or rate <= cap
        assert rate * dt <= (mod if bits == 32 else 2**64)


@pytest.mark.parametrize(
    ("prev", "cur", "elapsed", "expected"),
    [
        (None, 100, 60, False),
        (6000, 12000, 60, False),
        (600_000, 500, 60, True),  # went from 100 min to 5 s: restart
        (TICKS_WRAP - 3000, 3000, 60, False),  # wrapped after 497 days: not a restart
        (TICKS_WRAP - 3000, 200_000, 60, True),  # near the wrap but far from where it should be
        (TICKS_WRAP - 100, 50, 60, True),  # would have wrapped to ~5900, not 50: restarted
    ],
)
def test_restart_detection(prev, cur, elapsed, expected) -> None:
    assert restarted(prev, cur, elapsed) is expected


@pytest.mark.parametrize(
    ("raw", "scale", "precision", "expected"),
    [
        (235, 9, 1, 23.5),  # units, one decimal
        (23500, 8, 0, 23.5),  # milli
        (24, 9, 0, 24.0),
        (2, 10, 0, 2000.0),  # kilo
        (24, None, None, 24.0),
    ],
)
def test_sensor_scale(raw, scale, precision, expected) -> None:
    assert sensor_value(raw, scale, precision) == pytest.approx(expected)
