"""The agents area: remote vantage points (the probe agent, ingest) and API tokens."""

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
    from threenines.agents.config import AgentsConfig

    return {"agents": AgentsConfig}


def _cli(app: typer.Typer) -> None:
    from threenines.agents import cli, token_cli

    app.add_typer(token_cli.app, name="token")
    app.add_typer(cli.app, name="agent")


def _api(app: FastAPI) -> None:
    from threenines.agents import auth

    auth.install(app)  # the core's auth seams backed by tokens, and the agents' routes


AREA = Area(
    name="agents",
    package="threenines.agents",
    sections=_sections,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    api=_api,
    held={
        "agents.max_body": "the ingest route's body limit is set when the API is built",
    },
)
