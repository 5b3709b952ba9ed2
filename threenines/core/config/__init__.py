"""Configuration: the core schema, YAML loading with file:line errors, secrets.

The configuration root that ``threenines`` loads is composed from this core and the areas'
sections in ``threenines.app.config`` (``load_config``, ``parse_config``).
"""

from __future__ import annotations

from threenines.core.config.loader import ConfigError, ConfigProblem, load_file, parse_text
from threenines.core.config.schema import Config

__all__ = ["Config", "ConfigError", "ConfigProblem", "load_file", "parse_text"]
