"""What an area brings to the house, and the composition the root builds from the areas.

An area (``threenines.alerts``, ``threenines.failover``, ...) is one package that owns its config
section, cross-checks, tables and migrations, store, CLI commands, API routes and its hook into
``run``. It declares all of that in one ``Area`` value (its ``area.py``); the composition root
(``threenines.app.areas``) is the only list of areas, and builds from them the configuration
root, the Alembic version locations, the CLI, the API and the run loop.

Every hook is a function so that nothing is imported before it is needed: ``threenines --help``
must not load SQLAlchemy, and ``validate`` must not load the run loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from pydantic import BaseModel
    from sqlalchemy import Engine

    from threenines.core.config.loader import ConfigProblem
    from threenines.core.config.schema import Config
    from threenines.core.context import ServiceContext

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Area:
    """One room of the house. ``requires``: the other areas it may import (import-linter)."""

    name: str
    package: str
    requires: tuple[str, ...] = ()
    #: config root key -> model, e.g. ``{"alerts": AlertsConfig}``
    sections: Callable[[], Mapping[str, type[BaseModel]]] | None = None
    #: problems spanning sections, each ``(loc, message)``
    cross_check: Callable[[Config], list[tuple[Loc, str]]] | None = None
    #: check kinds this area probes: ``type`` -> module with ``Config`` and ``probe``
    kinds: Callable[[], Mapping[str, ModuleType]] | None = None
    #: the folder of this area's Alembic revisions (its own branch off the core's)
    migrations: Path | None = None
    #: adds the area's commands to the CLI
    cli: Callable[[typer.Typer], None] | None = None
    #: adds the area's routes (and any dependency overrides) to the API
    api: Callable[[FastAPI], None] | None = None
    #: plugs the area into ``threenines run`` (see ``threenines.core.context``)
    setup: Callable[[ServiceContext], object] | None = None
    #: what the area takes at start-up and cannot take in place on a reload: a section or a
    #: dotted path in one -> why (``threenines.core.reload``: a change to it needs a restart)
    held: Mapping[str, str] = field(default_factory=dict)
    #: audit-chain heads the area recorded outside the chain, each ``(seq, hash, where)``
    #: (``threenines.core.audit.verify`` holds the chain to them: deleted newest rows show)
    anchors: Callable[[Engine], list[tuple[int, str, str]]] | None = None


@dataclass
class Composition:
    """The areas taken together; built once by the composition root."""

    areas: Sequence[Area]
    core_migrations: Path
    _config: type[Config] | None = field(default=None, init=False, repr=False)

    @property
    def migration_locations(self) -> list[Path]:
        return [self.core_migrations, *(a.migrations for a in self.areas if a.migrations)]

    def kinds(self) -> dict[str, ModuleType]:
        out: dict[str, ModuleType] = {}
        for area in self.areas:
            out.update(area.kinds() if area.kinds else {})
        return out

    @property
    def config_model(self) -> type[Config]:
        if self._config is None:
            from threenines.core.config.compose import compose_config

            self._config = compose_config(self)
        return self._config

    def load_config(self, path: str | Path, warnings: list[ConfigProblem] | None = None) -> Config:
        """``warnings``: validate without the secrets, listing each missing one there."""
        from threenines.core.config.loader import load_file

        return load_file(path, self.config_model, warnings=warnings)

    def parse_config(self, text: str, file: str = "<config>") -> Config:
        from threenines.core.config.loader import parse_text

        return parse_text(text, self.config_model, file=file)

    def migrate(self, engine: Engine) -> None:
        from threenines.core.db import migrate

        migrate(engine, self.migration_locations)

    def anchors(self, engine: Engine) -> list[tuple[int, str, str]]:
        return [x for area in self.areas if area.anchors for x in area.anchors(engine)]

    def setups(self) -> list[Callable[[ServiceContext], object]]:
        return [a.setup for a in self.areas if a.setup]

    def install_api(self, app: FastAPI) -> None:
        from threenines.core import audit_api

        for area in self.areas:
            if area.api:
                area.api(app)
        audit_api.install(app, self.anchors)  # the core's own: the audit log all areas write

    def install_cli(self, app: typer.Typer) -> None:
        for area in self.areas:
            if area.cli:
                area.cli(app)


def describe(areas: Sequence[Area]) -> dict[str, Any]:
    """The areas and what each may import (for the import-linter contracts' test)."""
    return {a.name: {"package": a.package, "requires": list(a.requires)} for a in areas}
