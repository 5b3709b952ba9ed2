"""Paths into configuration data: pydantic's error locations, YAML paths, their lines."""

from __future__ import annotations

from typing import Any

Loc = tuple[str | int, ...]


def format_path(loc: Loc, data: Any) -> tuple[str, Loc, str | None]:
    """Return (dotted path, the data loc it corresponds to, name of the nearest named item)."""
    text = ""
    real: list[str | int] = []
    name: str | None = None
    cur = data
    for part in loc:
        if isinstance(cur, dict) and part not in cur and isinstance(part, str):
            # pydantic inserts the discriminator tag or a union member name into loc: skip it
            if cur.get("type") == part or "[" in part or part.startswith(("function-", "union")):
                continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + shown(str(part))
        real.append(part)
        cur = child(cur, part)
        if isinstance(cur, dict) and isinstance(cur.get("name"), str):
            name = shown(cur["name"])
    return text, tuple(real), name


def shown(text: str, width: int = 64) -> str:
    """A key or name from the file as it may appear in a message: on one line, without
    control characters (so no forged lines or terminal escapes), and not too long."""
    if not text.isprintable():
        text = repr(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def child(cur: Any, part: str | int) -> Any:
    """``cur[part]`` when there is one, else None."""
    if isinstance(cur, dict):
        return cur.get(part)
    if isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
        return cur[part]
    return None


def value_at(data: Any, loc: Loc) -> Any:
    """The value at ``loc`` in ``data``, or None."""
    for part in loc:
        data = child(data, part)
    return data


def line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of ``loc``, or of its nearest ancestor that has one."""
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def within(loc: Loc, roots: set[Loc]) -> bool:
    """Whether ``loc`` is one of ``roots`` or inside one."""
    return any(loc[:i] in roots for i in range(len(loc) + 1))
