"""The report delivery store on SQLite and PostgreSQL: queueing is idempotent, a claim is
exclusive until its lease expires, only the lease holder settles a row, resends are explicit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from threenines.app.db import make_engine, migrate
from threenines.reports.store import ReportDeliveryStore

T = 1_800_000_000.0
END = T - 86400


@pytest.fixture
def store(db_url: str) -> Iterator[ReportDeliveryStore]:
    engine = make_engine(db_url)
    migrate(engine)
    yield ReportDeliveryStore(engine)
    engine.dispose()


def states(store: ReportDeliveryStore) -> dict[str, str]:
    return {str(r["receiver"]): str(r["state"]) for r in store.rows()}


def test_queueing_twice_adds_nothing(store: ReportDeliveryStore) -> None:
    assert store.enqueue("board", "2026-10", END, ["a", "b"], T) == 2
    assert store.enqueue("board", "2026-10", END, ["a", "b", "c"], T + 1) == 1
    assert store.periods("board") == {"2026-10"} and store.periods("other") == set()
    assert store.due(T + 1) == [("board", "2026-10")]
    assert store.counts() == {"pending": 3}


def test_a_claim_is_exclusive_until_its_lease_expires(store: ReportDeliveryStore) -> None:
    store.enqueue("board", "2026-10", END, ["a", "b"], T)
    first = store.claim("board", "2026-10", "one", T, 60)
    assert [c.receiver for c in first] == ["a", "b"] and all(c.attempts == 1 for c in first)
    assert store.claim("board", "2026-10", "two", T + 30, 60) == []
    assert store.due(T + 30) == [] and store.next_due() == T + 60
    # "one" died; after its lease "two" takes over and "one" can no longer settle the rows
    second = store.claim("board", "2026-10", "two", T + 61, 60)
    assert [c.attempts for c in second] == [2, 2]
    assert store.finish(first[0], "one", T + 62, None, None) == "lost"
    assert store.finish(second[0], "two", T + 62, None, None) == "sent"
    assert store.finish(second[1], "two", T + 62, "refused", T + 100) == "pending"
    assert states(store) == {"a": "sent", "b": "pending"}
    assert store.due(T + 99) == [] and store.next_due() == T + 100
    third = store.claim("board", "2026-10", "two", T + 100, 60)
    assert [c.receiver for c in third] == ["b"]  # the sent receiver is never taken again
    assert store.finish(third[0], "two", T + 101, "refused", None) == "failed"
    assert store.due(T + 10_000) == [] and store.next_due() is None
    row = next(r for r in store.rows("board") if r["receiver"] == "b")
    assert row["last_error"] == "refused" and row["attempts"] == 3


def test_resend_requeues_sent_rows_but_not_one_being_sent(store: ReportDeliveryStore) -> None:
    store.enqueue("board", "2026-10", END, ["a", "b"], T)
    claimed = store.claim("board", "2026-10", "one", T, 60)
    store.finish(claimed[0], "one", T + 1, None, None)  # a: sent; b: still being sent
    assert store.enqueue("board", "2026-10", END, ["a", "b"], T + 2) == 0
    assert store.enqueue("board", "2026-10", END, ["a", "b"], T + 2, resend=True) == 1
    assert states(store) == {"a": "pending", "b": "sending"}
    assert [c.receiver for c in store.claim("board", "2026-10", "cli", T + 2, 60)] == ["a"]


def test_release_gives_back_untried_claims_of_its_owner_only(store: ReportDeliveryStore) -> None:
    store.enqueue("board", "2026-10", END, ["a", "b"], T)
    claimed = store.claim("board", "2026-10", "one", T, 600)
    assert store.release(claimed[1:], "two") == 0  # not its claim
    assert store.release(claimed[1:], "one") == 1
    assert states(store) == {"a": "sending", "b": "pending"}
    assert [(c.receiver, c.attempts) for c in store.claim("board", "2026-10", "x", T, 60)] == [
        ("b", 1)
    ]


def test_due_lists_oldest_period_first(store: ReportDeliveryStore) -> None:
    store.enqueue("board", "2026-10", END, ["a"], T)
    store.enqueue("board", "2026-09", END - 31 * 86400, ["a"], T)
    store.enqueue("audit", "2026-Q3", END - 31 * 86400, ["a"], T)
    assert store.due(T) == [("audit", "2026-Q3"), ("board", "2026-09"), ("board", "2026-10")]


def _table_of(diff: object) -> str:
    if isinstance(diff, list):
        return str(diff[0][2])
    assert isinstance(diff, tuple)
    obj = diff[1]
    if diff[0].endswith("_table"):
        return str(obj.name)
    if diff[0].endswith("_index") or diff[0].endswith("_constraint"):
        return str(obj.table.name)
    return str(diff[2])


def test_migration_matches_the_table_definition(store: ReportDeliveryStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from threenines.core.tables import metadata

    engine: Engine = store.engine
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if _table_of(d) == "report_deliveries"] == []
