"""Configuration: typed schema, YAML loading with file:line errors, secrets."""

from __future__ import annotations

from pathlib import Path

from threenines.config.loader import ConfigError, ConfigProblem, load_file, parse_text
from threenines.config.schema import Config

__all__ = ["Config", "ConfigError", "ConfigProblem", "load_config", "parse_config"]


def load_config(path: str | Path) -> Config:
    return load_file(path, Config)


def parse_config(text: str, file: str = "<config>") -> Config:
    return parse_text(text, Config, file=file)
