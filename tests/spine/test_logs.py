"""A repeated failure is logged once with its traceback, then a count a minute, then recovery."""

from __future__ import annotations

import logging

from threenines.core.logs import Repeated, summary


def test_once_then_a_count_each_minute_then_recovery(caplog) -> None:
    now = [0.0]
    log = logging.getLogger("test.repeated")
    said = Repeated(log, "alerts tick failed", clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "test.repeated"):
        said.ok()  # nothing to recover from: silent
        for _ in range(150):  # once a second for 150 s
            try:
                raise ConnectionError("database away\n[SQL: SELECT secret]")
            except ConnectionError as exc:
                said.failed(exc)
            now[0] += 1.0
        said.ok()
        said.ok()
    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert len(lines) == 4
    assert lines[0] == ("ERROR", "alerts tick failed: ConnectionError: database away", True)
    assert lines[1][1].startswith("alerts tick failed: still failing: 60 more time(s) in the")
    assert lines[2][1].startswith("alerts tick failed: still failing: 60 more time(s)")
    assert not lines[1][2] and not lines[2][2]
    assert lines[3] == ("WARNING", "alerts tick failed: recovered after 150 failure(s) over 150 s",
                        False)  # fmt: skip
    assert all("SQL" not in m for _, m, _ in lines)
    assert not said.failing


def test_a_new_spell_after_recovery_logs_its_traceback_again(caplog) -> None:
    said = Repeated(logging.getLogger("test.repeated2"), "sink", clock=lambda: 0.0)
    with caplog.at_level(logging.INFO, "test.repeated2"):
        said.failed(ValueError("one"))
        said.ok()
        said.failed(ValueError("two"))
    assert [r.exc_info is not None for r in caplog.records] == [True, False, True]
    assert summary(ValueError("")) == "ValueError"
