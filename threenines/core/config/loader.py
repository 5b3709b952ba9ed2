"""Load YAML configuration and report every problem as ``FILE:LINE yaml.path: message``.

YAML is composed to nodes first so each value's line is known; pydantic validation errors are
then mapped back to those lines. All problems are collected and reported together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found; ``str()`` is one line per problem."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LocatedError(ValueError):
    """Raised by a model validator to blame a value inside the model, e.g. ``steps[2].url``.

    ``loc`` is relative to the model; the loader appends it to the model's own path so the
    problem names the exact YAML path and line.
    """

    def __init__(self, loc: Loc, message: str):
        super().__init__(message)
        self.loc = loc


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise ConfigError([ConfigProblem(file, line, "", f"YAML syntax: {exc.problem}")]) from None


def _build(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[str]) -> Any:
    """Turn a node into plain data, recording the line of every path."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _UniqueKeyLoader(" ").construct_object(key_node)  # scalar keys only
            if key in out:
                lines[(*loc, "__dup__", key)] = key_node.start_mark.line + 1
                problems.append(str(key))
            out[key] = _build(value_node, (*loc, key), lines, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, (*loc, i), lines, problems) for i, v in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)


def _format_path(loc: Loc, data: Any) -> tuple[str, Loc, str | None]:
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
            text += ("." if text else "") + str(part)
        real.append(part)
        if isinstance(cur, dict | list):
            try:
                cur = cur[part]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                cur = None
        else:
            cur = None
        if isinstance(cur, dict) and isinstance(cur.get("name"), str):
            name = cur["name"]
    return text, tuple(real), name


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def _clean_message(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def _problem(file: str, loc: Loc, msg: str, data: Any, lines: dict[Loc, int]) -> ConfigProblem:
    path, real, name = _format_path(loc, data)
    if name and path:
        path += f" (name={name})"
    return ConfigProblem(file, _line_for(real, lines), path, msg)


def parse_text(text: str, model: type[M], file: str = "<config>") -> M:
    """Validate YAML ``text`` against ``model``; raise ConfigError naming file, line and path."""
    node = _compose(text, file)
    if node is None:
        raise ConfigError([ConfigProblem(file, None, "", "the file is empty")])
    lines: dict[Loc, int] = {}
    dups: list[str] = []
    data = _build(node, (), lines, dups)
    problems = [
        ConfigProblem(file, line, ".".join(str(p) for p in (*loc[:-2], loc[-1])), "duplicate key")
        for loc, line in lines.items()
        if len(loc) >= 2 and loc[-2] == "__dup__"
    ]
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            loc = tuple(err["loc"])
            msg = _clean_message(err["msg"])
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling)"
            elif err["type"] == "union_tag_invalid":
                ctx = err.get("ctx") or {}
                loc = (*loc, "type")
                msg = f"unknown type {ctx.get('tag')!r} (one of: {ctx.get('expected_tags')})"
            elif isinstance((err.get("ctx") or {}).get("error"), LocatedError):
                located = err["ctx"]["error"]
                loc, msg = (*loc, *located.loc), str(located)
            problems.append(_problem(file, loc, msg, data, lines))
        raise ConfigError(problems) from None
    cross_check = getattr(result, "cross_check", None)
    if cross_check is not None:
        problems += [_problem(file, loc, msg, data, lines) for loc, msg in cross_check()]
    if problems:
        raise ConfigError(problems)
    return result


def load_file(path: str | Path, model: type[M]) -> M:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(p), None, "", f"cannot read: {exc.strerror}")]
        ) from None
    return parse_text(text, model, file=str(path))
