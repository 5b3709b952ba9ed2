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


#: a console session also authenticates ``GET /api/v1/status`` (the full view, not the public)
SESSION_SCHEME = {
    "type": "apiKey",
    "in": "cookie",
    "description": "A console session (sign in at /login): the full status view",
}


def _api(app: FastAPI) -> None:
    from threenines.console import users_api, web
    from threenines.core.api import security_scheme

    web.install(app)
    users_api.install(app)
    scheme = {**SESSION_SCHEME, "name": web.COOKIE}
    security_scheme(app, "session", scheme, ("/api/v1/status",), reads=True)


AREA = Area(
    name="console",
    package="threenines.console",
    requires=("availability", "alerts", "agents", "failover", "security", "reports", "collectors"),
    sections=_sections,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
    held={
        "console.login_attempts": "the sign-in throttle is built when the API is built",
        "console.login_window": "the sign-in throttle is built when the API is built",
    },
)
