"""YAML text to a graph of nodes, within limits: the first half of reading a configuration.

The text is parsed to events (by libyaml when it is installed) and composed here rather than by
PyYAML, so that nesting depth and the number of values are bounded while composing, and the
size of every node once its aliases are expanded is known before anything is expanded: an alias
bomb (a billion values in a few lines) is refused at once, at the line of its biggest alias.
An alias is the anchored node itself; ``document`` expands it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.resolver import Resolver

# libyaml parses about 50 times faster than the pure-Python parser (a 2 MB scalar: 13 ms, not
# 0.9 s); only its parser is used. It reports a reader error's position in UTF-8 bytes.
_BYTE_POSITIONS: bool = yaml.__with_libyaml__
_Parser: Any = yaml.CSafeLoader if _BYTE_POSITIONS else yaml.SafeLoader


@dataclass(frozen=True)
class Limits:
    """What a configuration may hold. Each is far beyond a real estate's configuration."""

    file_bytes: int = 8 * 1024 * 1024
    values: int = 250_000  # every mapping, sequence and scalar, aliases counted at each use
    depth: int = 64
    string_chars: int = 64 * 1024
    number_chars: int = 64


LIMITS = Limits()


class Unreadable(Exception):
    """The text cannot be read further; ``line`` is 1-based, or None."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


CORE = "tag:yaml.org,2002:"
MAP, SEQ, STR, MERGE = CORE + "map", CORE + "seq", CORE + "str", CORE + "merge"
SCALAR_TAGS = {CORE + t for t in ("null", "bool", "int", "float", "str", "timestamp")}
NUMBER_TAGS = {CORE + "int", CORE + "float"}
# The characters YAML forbids (PyYAML's reader's own set)
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


@dataclass(slots=True)
class Node:
    kind: str  # "scalar", "map", "seq", or "bad" (value: the problem)
    tag: str
    value: Any
    line: int
    size: int = 1  # values once aliases are expanded


def short_tag(tag: str) -> str:
    return "!!" + tag[len(CORE) :] if tag.startswith(CORE) else tag


def compose(text: str, limits: Limits) -> Node | None:
    """The node of the document in ``text``, None if it holds none; raises ``Unreadable``."""
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        code = f"U+{ord(bad.group()):04X}"
        raise Unreadable(line, f"control character {code} is not allowed in YAML (a binary file?)")
    return _Composer(text, limits).compose()


class _Composer:
    """Events to a node graph; an alias is the anchored node itself."""

    def __init__(self, text: str, limits: Limits):
        self.text = text
        self.limits = limits
        self.anchors: dict[str, Node] = {}
        self.count = 0
        self.resolver = Resolver()
        self.biggest = (0, "", 0)  # the alias that expands furthest: size, name, line
        self.resolved: dict[str, str] = {}  # plain scalar -> its tag, for the short ones

    def compose(self) -> Node | None:
        parser = _Parser(self.text)
        try:
            parser.get_event()  # stream start
            if isinstance(parser.peek_event(), yaml.StreamEndEvent):
                return None
            parser.get_event()  # document start
            root = self.root(parser)
            parser.get_event()  # document end
            if root.size > self.limits.values:
                size, name, line = self.biggest
                msg = (
                    f"aliases would expand the file to more than {self.limits.values:,} values "
                    f"(*{name} alone stands for {size:,})"
                )
                raise Unreadable(line, msg)
            extra = parser.get_event()
            if not isinstance(extra, yaml.StreamEndEvent):
                raise Unreadable(_line(extra), "more than one YAML document (a second '---')")
            return root
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            msg = f"YAML syntax: {exc.problem}"
            if exc.problem == "exceeded maximum nesting depth":  # libyaml's own limit, 1000
                msg = f"nested more than {self.limits.depth} levels deep"
            raise Unreadable(mark.line + 1 if mark else None, msg) from None
        except yaml.reader.ReaderError as exc:
            raise Unreadable(self._reader_line(exc.position), f"YAML: {exc.reason}") from None
        except yaml.YAMLError as exc:
            raise Unreadable(None, f"YAML: {exc}") from None
        finally:
            parser.dispose()

    def _reader_line(self, position: int) -> int:
        if _BYTE_POSITIONS:
            return self.text.encode()[:position].count(b"\n") + 1
        return self.text.count("\n", 0, position) + 1

    def root(self, parser: Any) -> Node:
        """The document's node, from its events (a loop, not recursion: depth is data here).

        The hot loop of reading a configuration (a 10,000-check file is 210,000 events): names
        are bound to locals and a plain scalar's tag is looked up in a cache before the resolver.
        """
        stack: list[tuple[Node, Any]] = []  # the open collections, with their start events
        get_event, anchors, resolved = parser.get_event, self.anchors, self.resolved
        map_end, seq_end, alias_event = yaml.MappingEndEvent, yaml.SequenceEndEvent, yaml.AliasEvent
        scalar_event, map_start = yaml.ScalarEvent, yaml.MappingStartEvent
        most, longest, depth = self.limits.values, self.limits.string_chars, self.limits.depth
        count = self.count
        node: Node
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                count += 1
                if count > most:
                    raise Unreadable(_line(event), f"more than {most:,} values")
                value = event.value
                tag = event.tag
                if len(value) > longest:
                    node = self.scalar(event)
                elif tag is None and event.implicit[0]:  # plain: resolved by its form (1, ~)
                    tag = resolved.get(value)
                    if tag is None:
                        tag = self.resolver.resolve(yaml.ScalarNode, value, event.implicit)
                        if len(value) <= 64:
                            resolved[value] = tag
                    node = Node("scalar", tag, value, event.start_mark.line + 1)
                else:
                    node = self.scalar(event)
                if event.anchor:
                    anchors[event.anchor] = node
            elif kind is map_end or kind is seq_end:
                node, start = stack.pop()
                if node.kind == "map":
                    node.value = list(zip(node.value[::2], node.value[1::2], strict=True))
                if start.anchor:  # registered once complete: an alias cannot point into itself
                    anchors[start.anchor] = node
            elif kind is alias_event:
                node = self.alias(event)
            else:  # a mapping or sequence starts
                count += 1
                if count > most:
                    raise Unreadable(_line(event), f"more than {most:,} values")
                if len(stack) >= depth:
                    raise Unreadable(_line(event), f"nested more than {depth} levels deep")
                is_map = kind is map_start
                tag = event.tag if event.tag not in (None, "!") else MAP if is_map else SEQ
                stack.append((Node("map" if is_map else "seq", tag, [], _line(event)), event))
                continue
            if not stack:
                self.count = count
                return node
            parent = stack[-1][0]
            parent.value.append(node)
            parent.size += node.size

    def alias(self, event: Any) -> Node:
        name = event.anchor or ""
        target = self.anchors.get(name)
        if target is None:
            msg = f"unknown alias *{name} (no anchor &{name} before it)"
            return Node("bad", "", msg, _line(event))
        self.biggest = max(self.biggest, (target.size, name, _line(event)))
        return target

    def scalar(self, event: Any) -> Node:
        value, line = event.value, _line(event)
        if len(value) > self.limits.string_chars:
            most = self.limits.string_chars
            msg = f"a value of {len(value):,} characters is too long (at most {most:,})"
            return Node("bad", "", msg, line)
        tag = event.tag
        if tag is None and event.implicit[0]:  # plain: resolved by its form (1, true, ~, ...)
            tag = self.resolved.get(value)
            if tag is None:
                tag = self.resolver.resolve(yaml.ScalarNode, value, event.implicit)
                if len(value) <= 64:
                    self.resolved[value] = tag
        elif tag is None or tag == "!":
            tag = STR
        return Node("scalar", tag, value, line)


def _line(event: Any) -> int:
    return event.start_mark.line + 1 if event.start_mark else 0
