"""Text every database stores: the one boundary that each writer passes its rows through.

PostgreSQL refuses NUL in text and JSON text and refuses invalid UTF-8 (a lone surrogate from a
``surrogateescape`` decode); SQLite takes both and PostgreSQL then chokes on a copy. Values
from the outside (an SNMP agent's strings, a web page, an operator's note) can carry either.
``clean_text`` replaces each such character with U+FFFD, ``clean_json`` makes a structure
that every JSON column takes (strings cleaned, keys as text, no NaN or infinity, bytes as
text), and ``clean_row`` applies them to a row by its table's column types and cuts strings
to their column's length, so SQLite and PostgreSQL store the same thing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from enum import Enum
from typing import Any

from sqlalchemy import JSON, String, Table

REPLACEMENT = "\ufffd"
_BAD = re.compile("[\x00\ud800-\udfff]")
_MAX_DEPTH = 32


def clean_text(value: str, limit: int | None = None) -> str:
    """``value`` without NUL or lone surrogates (each becomes U+FFFD), cut to ``limit``."""
    if not (value.isascii() and "\x00" not in value):
        value = _BAD.sub(REPLACEMENT, value)
    return value if limit is None else value[:limit]


def clean_bytes(raw: bytes, limit: int | None = None) -> str:
    """Bytes as text: UTF-8 where it is, U+FFFD where it is not."""
    return clean_text(raw.decode("utf-8", "replace"), limit)


def clean_json(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` that every JSON column stores: never raises."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return clean_bytes(bytes(value))
    if isinstance(value, Enum):
        return clean_json(value.value, _depth + 1)
    if _depth >= _MAX_DEPTH:
        return "(nested too deep)"
    if isinstance(value, Mapping):
        return {clean_text(str(k)): clean_json(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean_json(v, _depth + 1) for v in value]
    try:
        return clean_text(str(value))
    except Exception:  # a broken __str__ must not stop a write
        return f"({type(value).__name__})"


def clean_row(table: Table, row: Mapping[str, Any], exact: Collection[str] = ()) -> dict[str, Any]:
    """``row`` for ``table``: text cleaned (and cut to ``String(n)``, except the ``exact``
    columns: identities, where a cut would merge two of them), JSON columns cleaned. Other
    values are left for the database to judge."""
    out = dict(row)
    for name, value in row.items():
        col = table.columns.get(name)
        if col is None or value is None:
            continue
        if isinstance(col.type, JSON):
            out[name] = clean_json(value)
        elif isinstance(value, str) and isinstance(col.type, String):
            limit = None if name in exact else col.type.length
            out[name] = clean_text(value, limit)
    return out
