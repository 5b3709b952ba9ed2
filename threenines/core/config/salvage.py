"""Cross-checks on the part of a configuration that is valid, so one pass reports everything.

When fields fail validation, the cross-section checks (an unknown site, an unknown receiver) of
the rest still run. ``salvage`` removes what pydantic rejected, the smallest part first: the
offending value (its field then takes its default), or, when a required field is missing, the
item that misses it; then it validates again, for a few rounds. The cross-checks run on that
partial configuration and ``Salvage.original`` maps their paths back to the file's.

A cross-check problem that may be an echo of one already reported is dropped (``Damage``): one
that quotes the name of an item that lost a value or of a removed value (``unknown site 'dc-1'``
when the site dc-1 was dropped for a missing field), and one inside an item that lost a value
unless it quotes its own value (``weights need combine: weighted`` when ``combine`` was the bad
value is dropped; ``unknown vantage point 'x'`` at ``vantage[1]`` is kept: a reference is
unknown whatever its siblings hold). An unknown key damages nothing: it had no meaning to lose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from threenines.core.config.locs import Loc, child, format_path, value_at, within

M = TypeVar("M", bound=BaseModel)

ROUNDS = 5
_QUOTED = re.compile(r"'([^']*)'")
_PARTS = re.compile(r"[/:]")


class Damage:
    """What was lost to problems already reported: items (by loc) and names."""

    def __init__(self, data: Any):
        self.data = data
        self.items: set[Loc] = set()
        self.names: set[str] = set()

    def lose(self, loc: Loc) -> None:
        """``loc`` (in the original data) lost its value: the nearest named item (or else the
        model holding it) is damaged, and its name and the names in the value are lost."""
        item: Loc = loc[:-1] if len(loc) > 1 else loc
        cur = self.data
        for i, part in enumerate(loc):
            cur = child(cur, part)
            if isinstance(cur, dict) and isinstance(cur.get("name"), str):
                item = loc[: i + 1]
        self.items.add(item)
        own = value_at(self.data, item)
        if isinstance(own, dict) and isinstance(own.get("name"), str):
            self.names.add(own["name"])
        self.names.update(_names(cur))

    def echoes(self, loc: Loc, message: str) -> bool:
        """Whether a cross-check problem at ``loc`` (in the original data) may be caused by
        this damage."""
        quoted = _QUOTED.findall(message)
        for text in quoted:
            if text in self.names or self.names.intersection(_PARTS.split(text)):
                return True
        return within(loc, self.items) and value_at(self.data, loc) not in quoted


class Salvage:
    """A copy of the data with parts removed; paths in it map back to the original's."""

    def __init__(self, data: Any):
        self.data = _copy(data)
        # original loc of a list -> the original indices of the items still in it
        self.kept: dict[Loc, list[int]] = {}
        self.gone: set[Loc] = set()

    def original(self, loc: Loc) -> Loc:
        out: list[str | int] = []
        cur = self.data
        for part in loc:
            prefix = tuple(out)
            if isinstance(cur, list) and isinstance(part, int) and prefix in self.kept:
                kept = self.kept[prefix]
                out.append(kept[part] if 0 <= part < len(kept) else part)
            else:
                out.append(part)
            cur = child(cur, part)
        return tuple(out)

    def current(self, orig: Loc) -> Loc | None:
        """Where ``orig`` is in the copy now; None when it (or an ancestor) was removed."""
        out: list[str | int] = []
        for i, part in enumerate(orig):
            kept = self.kept.get(orig[:i])
            if isinstance(part, int) and kept is not None:
                if part not in kept:
                    return None
                part = kept.index(part)
            out.append(part)
        return tuple(out)

    def remove(self, orig: Loc) -> Loc | None:
        """Remove ``orig`` or else its nearest ancestor that exists, and return which; None when
        that would be the root."""
        if within(orig, self.gone):
            return orig
        while orig:
            loc = self.current(orig)
            parent = value_at(self.data, loc[:-1]) if loc else None
            if loc and parent is not None and _has(parent, loc[-1]):
                if isinstance(parent, list):
                    kept = self.kept.setdefault(orig[:-1], list(range(len(parent))))
                    kept.remove(int(orig[-1]))
                del parent[loc[-1]]
                self.gone.add(orig)
                return orig
            orig = orig[:-1]
        return None


def salvage(
    model: type[M], data: Any, errors: list[ErrorDetails], damage: Damage
) -> tuple[M, Salvage] | None:
    """The model validated from ``data`` without what ``errors`` reject, or None (cannot)."""
    kept = Salvage(data)
    for _ in range(ROUNDS):
        for err in errors:
            _, real, _ = format_path(tuple(err["loc"]), kept.data)
            orig = kept.original(real)
            removed = kept.remove(orig[:-1] if err["type"] == "missing" else orig)
            if removed is None:
                return None
            if err["type"] != "extra_forbidden":
                damage.lose(removed)
        try:
            return model.model_validate(kept.data), kept
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
    return None


def _copy(value: Any) -> Any:
    """Containers copied (aliases share them), scalars shared."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _has(parent: Any, key: str | int) -> bool:
    if isinstance(parent, Mapping):
        return key in parent
    return isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent)


def _names(value: Any) -> set[str]:
    """Every name in ``value``: its own if it is a string, and each ``name:`` within it."""
    if isinstance(value, str):
        return {value}
    out: set[str] = set()
    stack = [value]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if isinstance(cur.get("name"), str):
                out.add(cur["name"])
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return out
