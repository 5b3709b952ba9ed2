"""The finding lifecycle as a table of (state, observation) -> (new state, change)."""

from __future__ import annotations

import pytest

from threenines.security.findings import Change, Finding, State, transition


def seen(severity: str = "major") -> Finding:
    return Finding.make("port_opened", "h/23", severity, "exposure:x", "h:23", "open")


OPEN = State("open", "major", 10, 20)
RESOLVED = State("resolved", "major", 10, 20, resolved_at=25)
ACCEPTED = State("accepted", "major", 10, 20, accepted_until=100)
ACCEPTED_FOREVER = State("accepted", "major", 10, 20)


@pytest.mark.parametrize(
    ("current", "obs", "now", "sticky", "status", "change"),
    [
        (None, seen(), 30, False, "open", Change.OPENED),
        (OPEN, seen(), 30, False, "open", None),
        (OPEN, seen("critical"), 30, False, "open", Change.SEVERITY),
        (RESOLVED, seen(), 30, False, "open", Change.REOPENED),
        (ACCEPTED, seen(), 30, False, "accepted", None),
        (ACCEPTED, seen(), 100, False, "open", Change.EXPIRED),
        (ACCEPTED_FOREVER, seen(), 10**9, False, "accepted", None),
        (OPEN, None, 30, False, "resolved", Change.RESOLVED),
        (OPEN, None, 30, True, "open", None),
        (ACCEPTED, None, 30, False, "resolved", Change.RESOLVED),
        (RESOLVED, None, 30, False, "resolved", None),
        (None, None, 30, False, None, None),
    ],
)
def test_transition(current, obs, now, sticky, status, change) -> None:
    new, got = transition(current, obs, now, sticky)
    assert got == change
    assert (new.status if new else None) == status


def test_recurrence_keeps_first_seen_and_counts() -> None:
    new, _ = transition(OPEN, seen(), 50)
    assert new is not None
    assert (new.first_seen, new.last_seen, new.occurrences) == (10, 50, 2)
    reopened, _ = transition(RESOLVED, seen(), 60)
    assert reopened is not None and reopened.resolved_at is None and reopened.first_seen == 10


def test_unknown_severity_is_a_bug() -> None:
    with pytest.raises(ValueError):
        Finding.make("x", "y", "urgent", "c", "s", "m")
