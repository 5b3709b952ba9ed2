"""Secrets in configuration: ``${ENV_VAR}``, ``file:/path`` or (discouraged) a literal.

The value is resolved when the config is loaded and held in a ``pydantic.SecretStr`` so it is
never printed, logged or serialised. Error messages name the variable or file, never the value.

``threenines validate`` checks a config without its secrets (on a laptop, in CI): inside
``deferred()`` an unset variable or an unreadable ``file:`` becomes an ``UnsetSecret`` (empty,
named) rather than an error, and is noted for a warning. A validator that checks a secret's
*value* (an Apprise URL's scheme, an SNMPv3 key's length) skips an ``UnsetSecret``: there is no
value to check. ``run`` and ``validate --secrets`` never defer.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, SecretStr

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
#: a ``file:`` secret is a password, token, key or URL: anything larger is not one
SECRET_FILE_BYTES = 64 * 1024


class UnsetSecret(SecretStr):
    """A secret whose source is missing while secrets are deferred: no value, only its name
    (``SNMP_CORE_AUTH_KEY`` or ``file:/run/secrets/x``)."""

    def __init__(self, source: str):
        super().__init__("")
        self.source = source


@dataclass(frozen=True)
class Deferred:
    """A secret left unresolved: ``written`` is its text in the file (``${NAME}``, ``file:...``),
    ``why`` what is missing."""

    written: str
    why: str


_DEFERRED: ContextVar[list[Deferred] | None] = ContextVar("threenines_deferred", default=None)


@contextmanager
def deferred() -> Iterator[list[Deferred]]:
    """Within: a missing secret is an ``UnsetSecret`` and is listed in the yielded list."""
    noted: list[Deferred] = []
    token = _DEFERRED.set(noted)
    try:
        yield noted
    finally:
        _DEFERRED.reset(token)


def is_unset(value: object) -> bool:
    """Whether ``value`` is a secret without a value (deferred): skip checks of its value."""
    return isinstance(value, UnsetSecret)


def resolve_secret(value: Any) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError("a secret must be a string: ${ENV_VAR}, file:/path, or a literal")
    match = _ENV.match(value.strip())
    if match:
        name = match.group(1)
        if name not in os.environ:
            return _unset(value, name, f"environment variable {name} is not set")
        return SecretStr(os.environ[name])
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        try:
            return SecretStr(read_secret_file(path))
        except _Missing as exc:
            return _unset(value, value, str(exc))
    return SecretStr(value)


def _unset(written: str, source: str, why: str) -> SecretStr:
    noted = _DEFERRED.get()
    if noted is None:
        raise ValueError(why)
    noted.append(Deferred(written.strip(), why))
    return UnsetSecret(source)


class _Missing(ValueError):
    """The secret file is not there or not readable by this user (deferrable)."""


def read_secret_file(path: Path, limit: int = SECRET_FILE_BYTES) -> str:
    """The text of a regular file of at most ``limit`` bytes, stripped; ValueError otherwise.

    Opened without blocking and checked on the open descriptor, so neither ``/dev/zero`` nor a
    FIFO with no writer can hang or exhaust the loader, and nothing swaps the file in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        kind = _Missing if exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOTDIR) else ValueError
        raise kind(f"cannot read secret file {path}: {exc.strerror}") from None
    except ValueError:  # a NUL in the path
        raise ValueError("a secret file's path cannot contain a NUL character") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"secret file {path} is not a regular file")
        raw = b""
        while len(raw) <= limit and (chunk := os.read(fd, limit + 1 - len(raw))):
            raw += chunk
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise ValueError(f"secret file {path} is larger than {limit // 1024} KiB")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"secret file {path} is not UTF-8 text") from None


Secret = Annotated[
    SecretStr,
    BeforeValidator(resolve_secret),
    PlainSerializer(lambda _v: "**********", return_type=str),
]
"""A config field type for credentials. ``.get_secret_value()`` at the point of use only."""
