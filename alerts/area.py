"""The alerts area: conditions to incidents to notifications (Apprise), once."""

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
    from threenines.alerts.config import AlertsConfig

    return {"alerts": AlertsConfig}


def _cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    from threenines.alerts.config import cross_check

    return cross_check(cfg)


def _cli(app: typer.Typer) -> None:
    from threenines.alerts import cli

    app.add_typer(cli.app, name="alerts")


def _api(app: FastAPI) -> None:
    from fastapi import Depends

    from threenines.alerts import api
    from threenines.core.deps import require_viewer

    # reads need a viewer token; decisions depend on ``deps.require_operator`` in the routes
    app.include_router(api.router, dependencies=[Depends(require_viewer)])


def _setup(ctx: ServiceContext) -> object:
    from threenines.alerts import extension

    return extension.setup(ctx)


AREA = Area(
    name="alerts",
    package="threenines.alerts",
    requires=("availability",),
    sections=_sections,
    cross_check=_cross_check,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
    setup=_setup,
    held={
        "alerts": "the alert service builds its receivers, routes, outbox sender and policy "
        "settings from this section at start-up"
    },
)
