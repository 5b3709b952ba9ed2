"""Shared fixtures: prerequisites that skip locally and fail under CI=true, database URLs."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from threenines import lab

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# pytest-xdist's workers inherit COLUMNS=80, which rich fixes as the width of every console made
# at import; without it each command's console reads COLUMNS when it prints (as CliRunner sets it)
os.environ.pop("COLUMNS", None)
PG_URL = os.environ.get("THREENINES_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``), tests that share a machine-wide resource run on one
    worker, one after another: those that use the lab (its ``tn-*`` namespaces, one lab at a
    time) in group "lab"; the other root tests (their own namespaces in 198.19.x, raw sockets,
    mount namespaces) in group "root". The two groups use nothing in common, so they run at the
    same time on two workers. Every other test runs with the rest of its module (as
    ``--dist loadfile`` would): a module's fixtures are made once, and its tests may build on
    one another (the console's browser tests use the incident an earlier one made)."""
    for item in items:
        path = str(getattr(item, "path", ""))
        if (
            "lab_estate" in getattr(item, "fixturenames", ())
            or "/tests/lab/" in path
            or (path.endswith("_lab.py"))
        ):
            item.add_marker(pytest.mark.xdist_group("lab"))
        elif item.get_closest_marker("root") is not None:
            item.add_marker(pytest.mark.xdist_group("root"))
        elif item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


class _EveryTestRan:
    """Under pytest-xdist: the session fails, naming them, if collected tests never reported
    (a run that loses tests must not look green)."""

    def __init__(self) -> None:
        self.collected: set[str] = set()
        self.reported: set[str] = set()
        self.twice: set[str] = set()  # one id for several tests (xdist runs such an id once)

    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        seen: set[str] = set()
        self.twice.update(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        self.collected.update(ids)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.reported.add(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        missing = sorted(self.collected - self.reported)
        if missing and exitstatus == 0:
            print(f"\n{len(missing)} collected test(s) never ran:", *missing, sep="\n  ")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.twice and exitstatus == 0:  # e.g. schemathesis' operations: run them serially
            print("\none test id for several tests, not run in full under xdist:",
                  *sorted(self.twice), sep="\n  ")  # fmt: skip
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_EveryTestRan(), "every-test-ran")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` on a developer's machine; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing prerequisite under CI=true: {reason}")
    pytest.skip(reason)


def require_command(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    require(
        not missing,
        f"needs {', '.join(missing)} (Debian package; `make test` installs it when root)",
    )


def require_root() -> None:
    require(os.geteuid() == 0, "needs root")


def _postgres_available() -> bool:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_ok() -> bool:
    return _postgres_available()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path, postgres_ok: bool) -> Iterator[str]:
    """A fresh, empty database URL; every store test runs on SQLite and on PostgreSQL.

    PostgreSQL isolation: a schema per test, set as the connection's search_path, dropped after.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/test.db"
        return
    require(postgres_ok, f"needs PostgreSQL at {PG_URL}")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def lab_estate() -> Iterator[object]:
    """The lab estate (``tn-*`` namespaces in 198.18.0.0/16) for one test module, fault-free.

    Brought up once per module and always torn down, even when a test fails. Held exclusively:
    another module (or the demo) using the lab waits for it. Yields the ``lab.State``.
    """
    require_root()
    require_command("ip", "tc", "haproxy", "snmpd", "iptables", "ping")

    with lab.session(wait=240) as state:
        yield state


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing listens on right now (for snmpd, trap receivers)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
