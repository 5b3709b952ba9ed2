"""The ``threenines`` command line, composed from the core's commands and every area's.

An area adds its commands in its own ``cli.py`` and names them in its ``Area.cli`` hook; this
module lists no area. The root callback hands the composition to every command (the click
context's ``obj``), through which ``load_or_exit`` and ``open_store`` find the configuration
root and the migrations.
"""

from __future__ import annotations

from pathlib import Path

import typer

from threenines.app import dashboards_cli, init
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
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"threenines {version('threenines')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("threenines (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = DebugOption,  # noted by its callback
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_version, help="Print the version and exit"
    ),
) -> None:
    ctx.obj = COMPOSITION


def run(
    config: Path = ConfigOption,
    live: bool = typer.Option(False, "--live", help="Print one line per result as it comes"),
    pid_file: Path | None = typer.Option(
        None, "--pid-file", help="Write this process's id here (for `threenines reload`)"
    ),
) -> None:
    """Run the service: schedule checks, store results, serve /metrics and the API.

    SIGHUP (or `threenines reload`) reads the config file again and applies it in place."""
    from threenines.core.hangup import defer_hangups

    hangups = defer_hangups()  # a SIGHUP while starting is a reload once running
    from threenines.core import service  # heavy imports (uvicorn, FastAPI) only for this command

    cfg = load_or_exit(config)
    code = service.run(cfg, COMPOSITION, live=live, config_path=config.absolute(),
                       pid_file=pid_file.absolute() if pid_file else None,
                       hangups=hangups)  # fmt: skip
    raise typer.Exit(code)


core.register(app)
app.command()(run)
init.register(app)
app.add_typer(dashboards_cli.app, name="dashboards")
COMPOSITION.install_cli(app)
