"""The console area: on-call pages, sign-in, the public status page (``threenines user``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from threenines.core.area import Area

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import BaseModel


def _sections() -> Mapping[str, type[BaseModel]]:
    from threenines.console.config import ConsoleConfig

    return {"console": ConsoleConfig}


def _cli(app: typer.Typer) -> None:
    from threenines.console import cli

    app.add_typer(cli.app, name="user")


def _api(app: FastAPI) -> None:
    from threenines.console import web

    web.install(app)


AREA = Area(
    name="console",
    package="threenines.console",
    requires=("availability", "alerts", "agents"),
    sections=_sections,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
)
