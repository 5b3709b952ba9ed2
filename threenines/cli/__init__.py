"""The ``threenines`` command line. Each area adds its commands in its own module here.

To add a command group: write ``threenines/cli/<area>.py`` with ``app = typer.Typer(...)`` and
add one ``app.add_typer(...)`` line below.
"""

from __future__ import annotations

import typer

from threenines.cli import core

app = typer.Typer(
    name="threenines",
    help="Measure and enforce a 99.9% availability promise.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
core.register(app)
# Command groups, one line each:
# app.add_typer(snmp.app, name="snmp")
