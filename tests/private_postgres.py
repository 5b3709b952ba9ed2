"""A private PostgreSQL for tests (``bench._postgres``): skips locally, fails under CI=true."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from conftest import require

from bench._postgres import PrivatePostgres
from bench._postgres import private_postgres as _private


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    with _private(require) as pg:
        yield pg


__all__ = ["PrivatePostgres", "private_postgres"]
