"""The availability area: the service-state rule, accounting, error budgets, ``status``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from threenines.core.area import Area, Loc

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import BaseModel

    from threenines.core.config.schema import Config
    from threenines.core.context import ServiceContext


def _sections() -> Mapping[str, type[BaseModel]]:
    from threenines.availability.config import ExclusionsConfig

    return {"exclusions": ExclusionsConfig}


def _cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    from threenines.availability.config import cross_check

    return cross_check(cfg)


def _cli(app: typer.Typer) -> None:
    from threenines.availability import cli, rules_cli, status_cli

    status_cli.register(app)
    app.add_typer(cli.app, name="availability")
    app.add_typer(rules_cli.app, name="rules")
    app.add_typer(cli.maintenance_app, name="maintenance")


def _api(app: FastAPI) -> None:
    from threenines.availability import api

    app.include_router(api.router)


def _setup(ctx: ServiceContext) -> None:
    from threenines.availability import extension

    extension.setup(ctx)


AREA = Area(
    name="availability",
    package="threenines.availability",
    requires=("collectors", "agents"),
    sections=_sections,
    cross_check=_cross_check,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
    setup=_setup,
)
