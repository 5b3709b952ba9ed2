"""The reports area: SLA reports for the Digital Board, rendered and delivered on schedule."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from threenines.core.area import Area, Loc

if TYPE_CHECKING:
    from pydantic import BaseModel

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
    setup=_setup,
)
