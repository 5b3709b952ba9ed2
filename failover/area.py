"""The failover area: quorum-confirmed failover to the mirror with Ansible, and DR drills."""

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
    from threenines.failover.config import FailoverConfig

    return {"failover": FailoverConfig}


def _cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    from threenines.failover.config import cross_check

    return cross_check(cfg)


def _cli(app: typer.Typer) -> None:
    from threenines.failover import cli, drill_cli

    app.add_typer(cli.app, name="failover")
    app.add_typer(drill_cli.app, name="drill")


def _api(app: FastAPI) -> None:
    from threenines.failover import api

    app.include_router(api.router)


def _setup(ctx: ServiceContext) -> object:
    from threenines.failover import extension

    return extension.setup(ctx)


AREA = Area(
    name="failover",
    package="threenines.failover",
    requires=("availability", "probes", "lab"),
    sections=_sections,
    cross_check=_cross_check,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
    setup=_setup,
    held={
        "failover": "each plan's evaluation loop and its runner are started from this "
        "section at start-up"
    },
)
