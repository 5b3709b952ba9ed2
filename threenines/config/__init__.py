"""Configuration: typed schema, YAML loading with file:line errors, secrets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from threenines.config.loader import ConfigError, ConfigProblem, load_file, parse_text

if TYPE_CHECKING:
    from threenines.config.schema import Config


def __getattr__(name: str) -> Any:
    # Lazy: schema imports the probe registry, whose modules import threenines.config.base;
    # importing schema here would make ``from probes import http`` (probes first) circular.
    if name == "Config":
        from threenines.config.schema import Config

        return Config
    raise AttributeError(name)


__all__ = ["Config", "ConfigError", "ConfigProblem", "load_config", "parse_config"]


def load_config(path: str | Path) -> Config:
    from threenines.config.schema import Config

    return load_file(path, Config)


def parse_config(text: str, file: str = "<config>") -> Config:
    from threenines.config.schema import Config

    return parse_text(text, Config, file=file)
