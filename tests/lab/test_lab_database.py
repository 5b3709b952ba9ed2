"""The portal's database in the lab: PostgreSQL in tn-dc-main streaming to a hot standby in
tn-dc-mirror, a heartbeat committed every second on the primary, and the failover plan's own
replication-lag command (config/lab.yaml) reading the standby's lag.

Root only (lab namespaces); every address is a lab address in 198.18.0.0/16.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import require

from threenines import lab
from threenines.app.config import load_config
from threenines.failover import preflight
from threenines.failover.config import failover_config
from threenines.lab import database
from threenines.lab.state import LabError

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(300)]

CONFIG = Path(__file__).resolve().parents[2] / "config" / "lab.yaml"
MAIN, MIRROR = lab.ESTATE.node("dc-main"), lab.ESTATE.node("dc-mirror")
FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest) -> Any:
    require(database.bindir() is not None, database.MISSING)
    state = request.getfixturevalue("lab_estate")
    yield state
    if FIGURES:
        print("\nlab database figures:", {k: round(v, 2) for k, v in FIGURES.items()})


@pytest.fixture(autouse=True)
def no_fault_left(db: Any) -> Any:
    yield
    lab.fault_clear(state=db)


def eventually(what: str, value: Callable[[], Any], timeout: float = 20.0) -> Any:
    """The first truthy ``value()`` within ``timeout``; a LabError (not there yet) is falsy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = value()
        except LabError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


def plan_lag() -> tuple[float | None, str | None]:
    """The plan's replication-lag command, run by the code the failover pre-flight runs."""
    plan = failover_config(load_config(CONFIG)).plan("dc-main-to-mirror")
    assert plan is not None and plan.preflight.replication_lag is not None
    return preflight.replication_lag(plan.preflight.replication_lag)


def lag_below(limit: float) -> Callable[[], float | None]:
    def check() -> float | None:
        lag = plan_lag()[0]
        return lag + 1e-9 if lag is not None and lag < limit else None  # 0.0 is falsy

    return check


def beats(node: Any) -> int:
    return int(database.sql(node, "select beats from heartbeat"))


def test_the_primary_and_the_standby_listen_on_their_data_centres(db: Any) -> None:
    running = {(p["ns"], p["name"]) for p in lab.status(db)["processes"] if p["running"]}
    expected = {
        ("tn-dc-main", "postgres"),
        ("tn-dc-main", "heartbeat"),
        ("tn-dc-mirror", "postgres"),
    }
    assert expected <= running
    assert ("tn-dc-mirror", "heartbeat") not in running  # one writer: on the primary
    assert database.sql(MAIN, "select pg_is_in_recovery()") == "f"
    assert database.sql(MIRROR, "select pg_is_in_recovery()") == "t"
    sender = database.sql(MAIN, "select application_name, state from pg_stat_replication")
    assert sender == "dc-mirror|streaming"
    assert database.sql(MIRROR, "select inet_server_addr()") == MIRROR.address


def test_a_write_on_the_primary_reaches_the_standby_within_seconds(db: Any) -> None:
    database.sql(MAIN, "create table if not exists notes (id serial primary key, body text)")
    token = uuid.uuid4().hex
    written = time.monotonic()
    database.sql(MAIN, f"insert into notes (body) values ('{token}')")
    query = f"select count(*) from notes where body = '{token}'"
    eventually("the write on the standby", lambda: database.sql(MIRROR, query) == "1", 5.0)
    FIGURES["write_to_standby"] = time.monotonic() - written
    with pytest.raises(LabError, match="read-only transaction"):
        database.sql(MIRROR, "insert into notes (body) values ('not here')")


def test_the_heartbeat_commits_every_second_and_the_lag_command_prints_a_small_number(
    db: Any,
) -> None:
    eventually("the heartbeat table", lambda: database.sql(MAIN, "select count(*) from heartbeat"))
    first = beats(MAIN)
    time.sleep(3.2)
    assert beats(MAIN) >= first + 2  # about one a second, on a busy machine too
    lag = eventually("a small lag", lag_below(3.0))
    FIGURES["lag"] = lag
    value, error = plan_lag()
    assert error is None and value is not None and 0 <= value < 3.0, (value, error)


def test_paused_replay_makes_the_lag_grow_until_resumed(db: Any) -> None:
    eventually("a small lag", lag_below(3.0))
    fault = lab.fault_add("replay-pause", "dc-mirror", state=db)
    assert [f.describe() for f in lab.fault_list(db)] == ["replay-pause dc-mirror"]
    assert database.sql(MIRROR, "select pg_is_wal_replay_paused()") == "t"
    stuck = beats(MIRROR)
    time.sleep(4.0)
    first = plan_lag()[0]
    assert first is not None and first >= 3.0, first
    time.sleep(2.0)
    second = plan_lag()[0]
    assert second is not None and second >= first + 1.5, (first, second)
    assert beats(MIRROR) == stuck and beats(MAIN) > stuck  # the primary goes on writing
    FIGURES["lag_paused_6s"] = second
    lab.fault_clear(fault.id, state=db)
    resumed = time.monotonic()
    eventually("the standby to catch up", lag_below(3.0), 15.0)
    FIGURES["catch_up"] = time.monotonic() - resumed
    assert beats(MIRROR) > stuck


def test_a_stopped_standby_is_an_unknown_lag_and_comes_back(db: Any) -> None:
    fault = lab.fault_add("service-stop", "dc-mirror", "postgres", state=db)
    value, error = plan_lag()
    assert value is None and error is not None, value
    assert "exited" in error and "Connection refused" in error, error
    lab.fault_clear(fault.id, state=db)
    eventually("the standby streaming again", lag_below(3.0), 30.0)


def test_an_unreadable_user_list_is_said_in_words(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("postgres:x:101:101::/var/lib/postgresql:/bin/sh\n")
    passwd.chmod(0o644)
    database._users_readable(passwd)
    passwd.chmod(0o600)
    with pytest.raises(LabError, match=r"not readable by other users \(mode 600\).*chmod 644"):
        database._users_readable(passwd)


def test_the_lab_tests_share_one_worker_under_xdist(request: pytest.FixtureRequest) -> None:
    """make test's --dist loadgroup keeps the lab's tests on one worker (their module fixtures
    hold the one lab); pytest 9.2 silently broke that grouping once (pytest-xdist#1386)."""
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith("@lab"), request.node.nodeid
