"""Secrets in configuration: ``${ENV_VAR}``, ``file:/path`` or (discouraged) a literal.

The value is resolved when the config is loaded and held in a ``pydantic.SecretStr`` so it is
never printed, logged or serialised. Error messages name the variable or file, never the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, SecretStr

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


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
        path = Path(value[5:]).expanduser()
        try:
            return SecretStr(path.read_text().strip())
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    return SecretStr(value)


Secret = Annotated[
    SecretStr,
    BeforeValidator(resolve_secret),
    PlainSerializer(lambda _v: "**********", return_type=str),
]
"""A config field type for credentials. ``.get_secret_value()`` at the point of use only."""
