"""The security area: ARP watch, exposure scans, posture checks, findings and baselines."""

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
    from threenines.security.config import SecurityConfig

    return {"security": SecurityConfig}


def _cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    from threenines.security.config import cross_check, security_config

    return cross_check(security_config(cfg), {s.name for s in cfg.sites})


def _cli(app: typer.Typer) -> None:
    from threenines.security import cli

    app.add_typer(cli.app, name="security")


def _api(app: FastAPI) -> None:
    from fastapi import Depends

    from threenines.core.deps import require_viewer
    from threenines.security import api

    # reads need a viewer token; decisions depend on ``deps.require_operator`` in the routes
    app.include_router(api.router, dependencies=[Depends(require_viewer)])


def _setup(ctx: ServiceContext) -> None:
    from threenines.security import service

    service.setup(ctx)


AREA = Area(
    name="security",
    package="threenines.security",
    requires=("probes", "collectors"),
    sections=_sections,
    cross_check=_cross_check,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
    setup=_setup,
    held={
        "security": "the security monitor (its sites, scans, posture checks and baselines) "
        "is built from this section at start-up"
    },
)
