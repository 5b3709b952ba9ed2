"""The configuration root, composed from the core schema and every area's section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from threenines.app.areas import COMPOSITION
from threenines.core.config.schema import Config as CoreConfig

Config = COMPOSITION.config_model  # a subclass of the core's ``Config``


def load_config(path: str | Path) -> CoreConfig:
    return COMPOSITION.load_config(path)


def parse_config(text: str, file: str = "<config>") -> CoreConfig:
    return COMPOSITION.parse_config(text, file)


def json_schema() -> dict[str, Any]:
    from threenines.core.config.json_schema import json_schema as standard

    return standard(Config)
