"""The ``threenines`` command line, composed from the core's commands and every area's.

An area adds its commands in its own ``cli.py`` and names them in its ``Area.cli`` hook; this
module lists no area. The root callback hands the composition to every command (the click
context's ``obj``), through which ``load_or_exit`` and ``open_store`` find the configuration
root and the migrations.
"""

from __future__ import annotations

from pathlib import Path

import typer

from threenines.app.areas import COMPOSITION
from threenines.core import cli as core
from threenines.core.cli import ConfigOption, DebugOption, OneLineErrors, load_or_exit

app = typer.Typer(
    name="threenines",
    help="Measure and enforce a 99.9% availability promise.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    cls=OneLineErrors,  # a bad argument or a bug: one line on stderr, not a box or a traceback
)


@app.callback()
def _root(ctx: typer.Context, debug: bool = DebugOption) -> None:  # noted by its callback
    ctx.obj = COMPOSITION


def run(
    config: Path = ConfigOption,
    live: bool = typer.Option(False, "--live", help="Print one line per result as it comes"),
) -> None:
    """Run the service: schedule checks, store results, serve /metrics and the API."""
    from threenines.core import service  # heavy imports (uvicorn, FastAPI) only for this command

    cfg = load_or_exit(config)
    raise typer.Exit(service.run(cfg, COMPOSITION, live=live))


core.register(app)
app.command()(run)
COMPOSITION.install_cli(app)
