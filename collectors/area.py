"""The collectors area: SNMP polling and traps, host metrics (the ``host`` check kind)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import typer

from threenines.core.area import Area, Loc

if TYPE_CHECKING:
    from pydantic import BaseModel

    from threenines.core.config.schema import Config
    from threenines.core.context import ServiceContext


def _sections() -> Mapping[str, type[BaseModel]]:
    from threenines.collectors.config import SnmpConfig

    return {"snmp": SnmpConfig}


def _cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    from threenines.collectors.config import cross_check, snmp_config

    return cross_check(snmp_config(cfg), {s.name for s in cfg.sites})


def _kinds() -> Mapping[str, ModuleType]:
    from threenines.collectors import host

    return {"host": host}


def _cli(app: typer.Typer) -> None:
    from threenines.collectors import cli

    app.add_typer(cli.app, name="snmp")


def _setup(ctx: ServiceContext) -> None:
    from threenines.collectors import extension

    extension.setup(ctx)


AREA = Area(
    name="collectors",
    package="threenines.collectors",
    sections=_sections,
    cross_check=_cross_check,
    kinds=_kinds,
    migrations=Path(__file__).resolve().parent / "migrations",
    cli=_cli,
    setup=_setup,
    held={
        "snmp": "the SNMP poller, its devices and the trap receiver's socket are set up from "
        "this section at start-up"
    },
)
