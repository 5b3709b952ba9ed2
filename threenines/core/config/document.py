"""Read YAML text into plain data and the line of every value, within limits.

Hostile input ends quickly in a problem at its line, never in a hang or a traceback:

- ``nodes`` composes the text to a node graph within limits of nesting depth and of values
  (each use of an alias counted in full: no "billion laughs"); here it becomes plain data, with
  string length and number length bounded too.
- Only the YAML core tags (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!timestamp``, ``!!map``, ``!!seq``) are known; merge keys (``<<: *base``) work as in
  PyYAML: keys written in the mapping win, then the first merged mapping that has the key.
- A problem that leaves the rest readable (an unknown tag, a too long string, a duplicate key) is
  recorded at its path and the value left out (``None`` in a sequence, so indices hold), so all
  of them are reported in one pass. One that does not (a syntax error, too deep, too many values)
  ends the read: ``Unreadable``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from threenines.core.config.locs import Loc
from threenines.core.config.nodes import (
    CORE,
    LIMITS,
    MAP,
    MERGE,
    NUMBER_TAGS,
    SCALAR_TAGS,
    SEQ,
    STR,
    Limits,
    Node,
    Unreadable,
    compose,
    short_tag,
)

__all__ = ["LIMITS", "Document", "Limits", "Unreadable", "read"]


@dataclass
class Document:
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    #: (loc, line, message) of each problem found while reading
    problems: list[tuple[Loc, int, str]] = field(default_factory=list)
    #: where a value was left out because of one of those problems
    left_out: set[Loc] = field(default_factory=set)


def read(text: str, limits: Limits = LIMITS) -> Document | None:
    """The document in ``text`` (None when it holds no document); raises ``Unreadable``."""
    with collector_paused():
        root = compose(text, limits)
        if root is None:
            return None
        doc = Document(None)
        data = _Builder(doc, limits).value(root, (), 0)
        doc.data = None if data is _LEFT_OUT else data
    return doc


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: reading makes up to a million objects, none in a
    cycle, and the collections that they trigger would triple the time (10,000 checks: 2 s)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Builder:
    """The node graph to plain data, each alias expanded within the budget of values."""

    def __init__(self, doc: Document, limits: Limits):
        self.doc = doc
        self.limits = limits
        self.count = 0
        self.constructor = SafeConstructor()

    def problem(self, loc: Loc, line: int, message: str, *, left_out: bool = True) -> None:
        self.doc.problems.append((loc, line, message))
        if left_out:
            self.doc.left_out.add(loc)

    def spend(self, values: int, line: int, depth: int) -> None:
        """Count ``values`` more, at ``depth``; the composer's sizes bound both already, so this
        is the backstop (merge keys are counted there only roughly)."""
        self.count += values
        if self.count > self.limits.values:
            msg = f"aliases would expand the file to more than {self.limits.values:,} values"
            raise Unreadable(line, msg)
        if depth > self.limits.depth:
            raise Unreadable(line, f"nested more than {self.limits.depth} levels deep")

    def value(self, node: Node, loc: Loc, depth: int) -> Any:
        """The value of ``node`` at ``loc``; ``_LEFT_OUT`` after recording a problem."""
        self.spend(1, node.line, depth)
        self.doc.lines[loc] = node.line
        if node.kind == "bad":
            self.problem(loc, node.line, node.value)
            return _LEFT_OUT
        if node.kind == "scalar":
            return self.scalar(node, loc)
        if node.tag != (MAP if node.kind == "map" else SEQ):
            self.problem(loc, node.line, f"unknown tag {short_tag(node.tag)!r}")
            return _LEFT_OUT
        if node.kind == "seq":
            out = [self.value(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
            return [None if v is _LEFT_OUT else v for v in out]
        return self.mapping(node, loc, depth)

    def scalar(self, node: Node, loc: Loc, *, is_key: bool = False) -> Any:
        if node.tag == STR:
            return node.value
        problem = None
        if node.tag not in SCALAR_TAGS:
            problem = f"unknown tag {short_tag(node.tag)!r}"
        elif node.tag in NUMBER_TAGS and len(node.value) > self.limits.number_chars:
            digits = sum(c.isdigit() for c in node.value)
            problem = (
                f"a number of {digits:,} digits is too large (at most {self.limits.number_chars})"
            )
        else:
            construct = SafeConstructor.yaml_constructors[node.tag]
            try:
                return construct(self.constructor, yaml.ScalarNode(node.tag, node.value))
            except (ValueError, ConstructorError):
                problem = f"not a valid {node.tag[len(CORE) :]} (quote it to make it a string)"
        self.problem(loc, node.line, problem, left_out=not is_key)
        return _LEFT_OUT

    def mapping(self, node: Node, loc: Loc, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        pairs = node.value
        merged = self.merged(node, loc, depth) if any(k.tag == MERGE for k, _ in pairs) else {}
        seen: set[Any] = set()
        lines = self.doc.lines
        for key_node, value_node in pairs:
            tag = key_node.tag
            if tag == STR and key_node.kind == "scalar":  # the usual key: a plain string
                key = key_node.value
            elif tag == MERGE:
                continue
            else:
                key = self.key(key_node, loc)
                if key is _LEFT_OUT:
                    continue
            if key in seen:
                self.problem((*loc, key), key_node.line, "duplicate key", left_out=False)
                out.pop(key, None)
            seen.add(key)
            if merged:
                merged.pop(key, None)  # a key written in the mapping wins over a merged one
            where = (*loc, key)
            if value_node.tag == STR and value_node.kind == "scalar":  # the usual value
                self.count += 1
                lines[where] = value_node.line
                out[key] = value_node.value
                continue
            value = self.value(value_node, where, depth + 1)
            if value is not _LEFT_OUT:
                out[key] = value
        if self.count > self.limits.values:
            self.spend(0, node.line, depth)
        for key, value_node in merged.items():
            value = self.value(value_node, (*loc, key), depth + 1)
            if value is not _LEFT_OUT:
                out[key] = value
        return out

    def merged(self, node: Node, loc: Loc, depth: int) -> dict[Any, Node]:
        """Keys that ``<<`` merge keys bring in, each with its value node (first merge wins)."""
        out: dict[Any, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag != MERGE:
                continue
            sources = value_node.value if value_node.kind == "seq" else [value_node]
            bad = next((s for s in sources if s.kind == "bad"), None)
            if bad or any(s.kind != "map" or s.tag != MAP for s in sources):
                msg = bad.value if bad else "a merge key (<<) takes a mapping or a list of mappings"
                self.problem(loc, key_node.line, msg, left_out=False)
                continue
            for source in sources:
                self.spend(len(source.value), source.line, depth)
                nested = self.merged(source, loc, depth + 1)
                for k_node, v_node in source.value:
                    if k_node.tag == MERGE:
                        continue
                    key = self.key(k_node, loc)
                    if key is not _LEFT_OUT:
                        nested[key] = v_node
                for key, v_node in nested.items():
                    out.setdefault(key, v_node)
        return out

    def key(self, node: Node, loc: Loc) -> Any:
        if node.kind != "scalar":
            msg = node.value if node.kind == "bad" else "a key must be a string or a number"
            self.problem(loc, node.line, msg, left_out=False)
            return _LEFT_OUT
        key = self.scalar(node, loc, is_key=True)
        if isinstance(key, float) and key != key:  # NaN is never equal to itself
            self.problem(loc, node.line, "a key must be a string or a number", left_out=False)
            return _LEFT_OUT
        return key


_LEFT_OUT: Any = object()
