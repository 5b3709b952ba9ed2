"""The lab area: a council estate in network namespaces, for tests, demos and drills."""

from __future__ import annotations

import typer

from threenines.core.area import Area


def _cli(app: typer.Typer) -> None:
    from threenines.lab import cli

    app.add_typer(cli.app, name="lab")


AREA = Area(name="lab", package="threenines.lab", cli=_cli)
