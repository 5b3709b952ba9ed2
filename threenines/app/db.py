"""The database with every area's migrations (the composition's version locations)."""

from __future__ import annotations

from sqlalchemy import Engine

from threenines.app.areas import COMPOSITION
from threenines.core.db import make_engine

__all__ = ["make_engine", "migrate"]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of the core's and every area's branch."""
    COMPOSITION.migrate(engine)
