"""The reports area: SLA reports for the Digital Board, rendered and delivered on schedule."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from threenines.core.area import Area, Loc

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import BaseModel
    from sqlalchemy import Engine

    from threenines.core.config.schema import Config
    from threenines.core.context import ServiceContext


def _sections() -> Mapping[str, type[BaseModel]]:
    from threenines.reports.config import ReportsConfig

    return {"reports": ReportsConfig}


def _cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    from threenines.reports.config import cross_check

    return cross_check(cfg)


def _cli(app: typer.Typer) -> None:
    from threenines.reports import cli

    app.add_typer(cli.app, name="report")


def _api(app: FastAPI) -> None:
    from threenines.reports import api

    api.install(app)


def _anchors(engine: Engine) -> list[tuple[int, str, str]]:
    from threenines.reports.issue import anchors

    return anchors(engine)


def _setup(ctx: ServiceContext) -> object:
    from threenines.reports import extension

    return extension.setup(ctx)


AREA = Area(
    name="reports",
    package="threenines.reports",
    requires=("availability", "alerts", "security", "failover"),
    sections=_sections,
    cross_check=_cross_check,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
    setup=_setup,
    anchors=_anchors,
    held={
        "reports": "the report sender and its schedules are set up from this section at start-up"
    },
)
