"""Secrets in configuration: ``${ENV_VAR}``, ``file:/path`` or (discouraged) a literal.

The value is resolved when the config is loaded and held in a ``pydantic.SecretStr`` so it is
never printed, logged or serialised. Error messages name the variable or file, never the value.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, SecretStr

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
#: a ``file:`` secret is a password, token, key or URL: anything larger is not one
SECRET_FILE_BYTES = 64 * 1024


def resolve_secret(value: Any) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError("a secret must be a string: ${ENV_VAR}, file:/path, or a literal")
    match = _ENV.match(value.strip())
    if match:
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return SecretStr(os.environ[name])
    if value.startswith("file:"):
        return SecretStr(read_secret_file(Path(value[5:]).expanduser()))
    return SecretStr(value)


def read_secret_file(path: Path, limit: int = SECRET_FILE_BYTES) -> str:
    """The text of a regular file of at most ``limit`` bytes, stripped; ValueError otherwise.

    Opened without blocking and checked on the open descriptor, so neither ``/dev/zero`` nor a
    FIFO with no writer can hang or exhaust the loader, and nothing swaps the file in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
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
