"""The probes area: synthetic user-experience checks.

http, journey, browser, tcp, dns, icmp, tls (``registry.PROBES``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import typer

from threenines.core.area import Area


def _kinds() -> Mapping[str, ModuleType]:
    from threenines.probes.registry import PROBES

    return PROBES


def _cli(app: typer.Typer) -> None:
    from threenines.probes import cli

    cli.register(app)


AREA = Area(name="probes", package="threenines.probes", kinds=_kinds, cli=_cli)
