"""Load YAML configuration and report every problem as ``FILE:LINE yaml.path: message``.

The text is read within limits (``document``), so each value's line is known and hostile input
ends in a problem rather than a hang or a traceback; pydantic validation errors are then mapped
back to those lines. The cross-section checks run even when some fields fail, on what is valid
(``salvage``). All problems are collected and reported together.

Given a ``warnings`` list, the secrets are not required (``secrets.deferred``): each one whose
variable or file is missing is a warning there, at its own line, and the rest is validated as
usual (structure, cross-references). Without it, a missing secret is a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from threenines.core.config.document import (
    LIMITS,
    Document,
    Limits,
    Unreadable,
    collector_paused,
    read,
)
from threenines.core.config.locs import Loc, format_path, line_for, within
from threenines.core.config.salvage import Damage, Salvage, salvage
from threenines.core.config.secrets import Deferred, deferred

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "LIMITS",
    "ConfigError",
    "ConfigProblem",
    "Limits",
    "LocatedError",
    "load_file",
    "parse_text",
]


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


def _clean_message(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


class _Report:
    """The problems of one file, each with its path and line."""

    def __init__(self, file: str, doc: Document):
        self.file = file
        self.doc = doc
        self.problems: list[ConfigProblem] = []
        # a model holding a left-out value fails its own checks for want of it (a window
        # "needs start and end" when start was left out): not a problem of its own
        self.holders = {loc[:-1] for loc in doc.left_out}

    def add(self, loc: Loc, msg: str, line: int | None = None) -> None:
        path, real, name = format_path(loc, self.doc.data)
        if name and path:
            path += f" (name={name})"
        where = line if line is not None else line_for(real, self.doc.lines)
        self.problems.append(ConfigProblem(self.file, where, path, msg))

    def validation_error(self, err: ErrorDetails) -> None:
        loc = tuple(err["loc"])
        real = format_path(loc, self.doc.data)[1]
        if within(real, self.doc.left_out) or real in self.holders:
            return  # the value was left out for a problem already reported
        msg = _clean_message(err["msg"])
        ctx = err.get("ctx") or {}
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif err["type"] == "union_tag_invalid":
            loc = (*loc, "type")
            msg = f"unknown type {ctx.get('tag')!r} (one of: {ctx.get('expected_tags')})"
        elif isinstance(ctx.get("error"), LocatedError):
            located = ctx["error"]
            loc, msg = (*loc, *located.loc), str(located)
        self.add(loc, msg)


def _read(text: str, file: str, limits: Limits) -> Document:
    # a character is 1 to 4 bytes in UTF-8: encode only when that cannot settle it
    size = len(text) if len(text) * 4 <= limits.file_bytes else len(text.encode(errors="replace"))
    if size > limits.file_bytes:
        raise _fail(file, None, f"the file is larger than {_size(limits.file_bytes)}")
    try:
        doc = read(text, limits)
    except Unreadable as exc:
        raise _fail(file, exc.line, exc.message) from None
    if doc is None:
        raise _fail(file, None, "the file is empty")
    return doc


def parse_text(
    text: str,
    model: type[M],
    file: str = "<config>",
    limits: Limits = LIMITS,
    warnings: list[ConfigProblem] | None = None,
) -> M:
    """Validate YAML ``text`` against ``model``; raise ConfigError naming file, line and path.
    ``warnings``: see the module's docstring."""
    with collector_paused():  # the models are as many objects again, none in a cycle either
        if warnings is None:
            return _parse(text, model, file, limits)
        with deferred() as unset:
            return _parse(text, model, file, limits, (unset, warnings))


def _unset_warnings(report: _Report, unset: list[Deferred]) -> list[ConfigProblem]:
    """One warning per place in the file that names a missing secret (the model is validated
    more than once when parts fail, so ``unset`` may repeat)."""
    why = {d.written: d.why for d in unset}
    found = _Report(report.file, report.doc)
    stack: list[tuple[Loc, object]] = [((), report.doc.data)]
    seen: set[int] = set()
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            if value.strip() in why:
                found.add(loc, why[value.strip()])
        elif isinstance(value, dict | list) and id(value) not in seen:
            seen.add(id(value))  # an alias is walked once (its line is the anchor's)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(((*loc, k), v) for k, v in items)
    return sorted(found.problems, key=lambda p: (p.line or 0, p.path))


def _parse(
    text: str,
    model: type[M],
    file: str,
    limits: Limits,
    deferring: tuple[list[Deferred], list[ConfigProblem]] | None = None,
) -> M:
    doc = _read(text, file, limits)
    report = _Report(file, doc)
    for loc, line, msg in doc.problems:
        report.add(loc, msg, line)
    damage = Damage(doc.data)
    for loc in doc.left_out:
        damage.lose(loc)
    result: M | None = None
    kept: Salvage | None = None
    try:
        result = model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        for err in errors:
            report.validation_error(err)
        salvaged = salvage(model, doc.data, errors, damage)
        result, kept = salvaged if salvaged else (None, None)
    cross_check = getattr(result, "cross_check", None)
    if cross_check is not None:
        for loc, msg in cross_check():
            orig = kept.original(loc) if kept else loc
            if not damage.echoes(orig, msg):
                report.add(orig, msg)
    if deferring is not None and deferring[0]:
        deferring[1].extend(_unset_warnings(report, deferring[0]))
    if report.problems or result is None:
        raise ConfigError(report.problems)
    return result


def load_file(
    path: str | Path,
    model: type[M],
    limits: Limits = LIMITS,
    warnings: list[ConfigProblem] | None = None,
) -> M:
    """Read and validate the file at ``path`` (UTF-8, at most ``limits.file_bytes``);
    ``warnings``: see the module's docstring."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(limits.file_bytes + 1)
    except OSError as exc:
        raise _fail(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > limits.file_bytes:
        raise _fail(str(path), None, f"the file is larger than {_size(limits.file_bytes)}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        msg = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        raise _fail(str(path), line, msg) from None
    return parse_text(text, model, file=str(path), limits=limits, warnings=warnings)


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n:,} bytes"


def _fail(file: str, line: int | None, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(file, line, "", message)])
