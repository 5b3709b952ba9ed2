"""Configuration: the core schema, YAML loading with file:line errors, secrets.

The configuration root that ``threenines`` loads is composed from this core and the areas'
sections in ``threenines.app.config`` (``load_config``, ``parse_config``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threenines.core.config.loader import ConfigError, ConfigProblem, load_file, parse_text

if TYPE_CHECKING:
    from threenines.core.config.schema import Config


def __getattr__(name: str) -> Any:
    # Lazy: an area's config module imports ``threenines.core.config.base`` (which runs this
    # package), and ``--help`` must not load the whole schema.
    if name == "Config":
        from threenines.core.config.schema import Config

        return Config
    raise AttributeError(name)


__all__ = ["Config", "ConfigError", "ConfigProblem", "load_file", "parse_text"]
