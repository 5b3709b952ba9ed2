"""Core commands (validate, schema) and the helpers every area's commands use.

The composition (which areas make up the configuration root and the schema) reaches commands
through the CLI's root context object, set by the composition root's callback: an area's
command calls ``load_or_exit`` and ``open_store`` and never imports the root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console, ConsoleDimensions
from typer.core import TyperGroup

from threenines.core.area import Composition

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config, ConfigProblem

#: a table's width when no terminal gives one and COLUMNS is unset (output to a file or a pipe,
#: as in CI or a cron job): wide enough that rows are not folded, as rich's default of 80 does
PIPE_WIDTH = 200


def _no_terminal() -> bool:
    """Whether none of stdin, stdout, stderr is a terminal with a size (rich's sources)."""
    for fd in (0, 1, 2):
        try:
            os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        return False
    return True


class WideConsole(Console):
    """rich's Console, its width from the terminal or COLUMNS as rich does; with neither, it is
    PIPE_WIDTH rather than 80, so a piped table keeps its full width."""

    def _size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        columns = self._environ.get("COLUMNS", "")
        if self._width is None and not columns.isdigit() and _no_terminal():
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    size = property(_size, Console.size.fset)  # type: ignore[attr-defined]


err = Console(stderr=True, soft_wrap=True, highlight=False)  # one error, one line
out = WideConsole()

#: where a command finds its config: ``--config``, else $THREENINES_CONFIG, else this
DEFAULT_CONFIG = Path("/etc/threenines/threenines.yaml")
CONFIG_ENV = "THREENINES_CONFIG"
ConfigOption = typer.Option(
    DEFAULT_CONFIG,
    "--config",
    "-c",
    envvar=CONFIG_ENV,
    help="YAML configuration file",
    exists=False,
)

#: ``--json`` on every command that lists or shows: its rows as JSON on stdout
JsonOption = typer.Option(False, "--json", help="Print JSON (for scripts) instead of a table")


def print_json(value: Any) -> None:
    """``value`` (rows, a mapping) as indented JSON on stdout; times stay as stored (epoch
    seconds), anything else JSON lacks (a datetime, a Decimal) as its string."""
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def rows_json(rows: Any) -> list[dict[str, Any]]:
    """Database rows (mappings, or objects with fields) as plain dicts for ``print_json``."""
    from dataclasses import asdict, is_dataclass

    out: list[dict[str, Any]] = []
    for row in rows:
        if is_dataclass(row) and not isinstance(row, type):
            out.append(asdict(row))
        elif hasattr(row, "_mapping"):
            out.append(dict(row._mapping))
        else:
            out.append(dict(row))
    return out


def deprecated_alias(old: str, new: str = "--by") -> Any:
    """A hidden option keeping an old spelling (``--who``) of ``new`` working; using it says
    so, once, on stderr. Who acted is ``--by`` on every command."""

    def note(value: str | None) -> str | None:
        if value is not None:
            _say(f"warning: {old} is deprecated: use {new}")
        return value

    return typer.Option(None, old, hidden=True, callback=note)


def local_actor(by: str | None) -> str:
    """Who acted, for the audit log, when a command writes the database itself (no server):
    ``--by`` if given, else the operating-system account running the command."""
    if by:
        return by
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        return "cli"


LocalByOption = typer.Option(
    None,
    "--by",
    help="Who acts, for the audit log (default: your login; with --server the token's name)",
)


DEBUG = "threenines.debug"  # in the context's meta (shared by the whole command chain)
DEBUG_HINT = "threenines --debug ..."


def _note_debug(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.meta[DEBUG] = True
    return value


DebugOption = typer.Option(
    False, "--debug", help="On an error, show the traceback too", callback=_note_debug
)


def composition() -> Composition:
    """The composition the running CLI was built from (the root context's object)."""
    try:  # typer >= 0.17 ships its own copy of click; older ones use click itself
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover
        from click import get_current_context  # type: ignore[no-redef]
    ctx = get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if not isinstance(obj, Composition):
        raise RuntimeError("a threenines command ran outside the threenines CLI")
    return obj


def load_or_exit(
    path: Path,
    using: Composition | None = None,
    warnings: list[ConfigProblem] | None = None,
    as_json: bool = False,
) -> Config:
    """Load a config, or print every problem and exit 2. ``using``: the composition, when
    called outside the CLI (the demo); inside, the CLI's own. ``warnings``: load without the
    secrets, listing each missing one there (``validate``). ``as_json``: the problems as one
    JSON document on stdout (``validate --json``)."""
    # Imported here, not at the top: the schema pulls in every probe module, and the CLI
    # imports this module for every command (``--help`` must stay fast).
    from threenines.core.config import ConfigError

    try:
        return (using or composition()).load_config(path, warnings=warnings)
    except ConfigError as exc:
        if as_json:
            print(json.dumps(_verdict(path, exc.problems, warnings or []), indent=2))
            raise typer.Exit(2) from None
        if len(exc.problems) == 1 and not exc.problems[0].line and not path.exists():
            hint = f"give --config FILE or set {CONFIG_ENV}; `threenines init DIR` writes one"
            _say(f"{exc.problems[0]} ({hint})")  # one line: the file is not there
            raise typer.Exit(2) from None
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        _warn(warnings or [])
        err.print(f"{len(exc.problems)} problem(s) in {path}", style="bold red", markup=False)
        raise typer.Exit(2) from None
    except Exception as exc:  # a bug in a validator: no traceback for the user, nor its text
        # (which may quote a secret), but what to report
        name = type(exc).__name__
        err.print(f"{path}: internal error {name} while loading: please report it", markup=False)
        raise typer.Exit(1) from None


def open_store(cfg: Config) -> Engine:
    """The configured database, migrated to the current schema; or a message and exit 1."""
    from threenines.core.db import make_engine

    engine = make_engine(cfg.storage.url)
    try:
        composition().migrate(engine)
    except Exception as exc:  # not the URL: it may hold the database password
        err.print(f"cannot open the store: {str(exc).splitlines()[0]}", markup=False)
        raise typer.Exit(1) from None
    return engine


def validate(
    config: Path = typer.Argument(
        None, envvar=CONFIG_ENV, show_default=str(DEFAULT_CONFIG), help="YAML configuration file"
    ),
    secrets: bool = typer.Option(
        False, "--secrets", help="Require every secret (${ENV}, file:) as `run` does"
    ),
    as_json: bool = typer.Option(False, "--json", help="The verdict as JSON on stdout"),
) -> None:
    """Validate a configuration's structure and cross-references; print a summary.

    The secrets' values are not needed: a missing ${ENV} variable or file: is a warning
    that names it. With --secrets it is a problem, as it is for `run`.

    Exit 0 when valid, 2 otherwise.
    """
    config = config or DEFAULT_CONFIG
    warnings: list[ConfigProblem] | None = None if secrets else []
    cfg = load_or_exit(config, warnings=warnings, as_json=as_json)
    checks = list(cfg.iter_checks())
    kinds: dict[str, int] = {}
    for _svc, check in checks:
        kind = getattr(check, "type", "?")
        kinds[kind] = kinds.get(kind, 0) + 1
    dcs = sum(1 for s in cfg.sites if s.kind == "datacentre")
    vantages = len({v.name for v in cfg.vantage_points} | {cfg.server.vantage})
    if as_json:
        summary = {
            "organisation": cfg.organisation,
            "target": cfg.target,
            "timezone": str(cfg.timezone),
            "sites": len(cfg.sites),
            "datacentres": dcs,
            "vantage_points": vantages,
            "services": len(cfg.services),
            "checks": len(checks),
            "checks_by_kind": dict(sorted(kinds.items())),
        }
        print(json.dumps({**_verdict(config, [], warnings or []), "summary": summary}, indent=2))
        return
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    _warn(warnings or [])
    # the organisation is free text: shortened (rich takes minutes to wrap 64 KiB) and shown
    # as text, not markup, so "[/b]" in it cannot break the summary
    for line in (
        f"{config}: valid"
        + (f" ({len(warnings)} secret(s) not set, see above)" if warnings else ""),
        f"  organisation:   {_shown(cfg.organisation)} (target {cfg.target}%, {cfg.timezone})",
        f"  sites:          {len(cfg.sites)} ({dcs} data centres)",
        f"  vantage points: {vantages}",
        f"  services:       {len(cfg.services)}",
        f"  checks:         {len(checks)}" + (f" ({by_kind})" if by_kind else ""),
    ):
        out.print(line, markup=False, highlight=False)


def _warn(warnings: list[ConfigProblem]) -> None:
    for w in warnings:
        err.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
    if warnings:
        err.print(
            f"{len(warnings)} secret(s) not set: `validate --secrets` and `run` need them",
            markup=False,
            highlight=False,
        )


def _verdict(
    path: Path, problems: list[ConfigProblem], warnings: list[ConfigProblem]
) -> dict[str, Any]:
    def item(p: ConfigProblem) -> dict[str, Any]:
        return {"file": p.file, "line": p.line, "path": p.path, "message": p.message}

    return {
        "file": str(path),
        "valid": not problems,
        "problems": [item(p) for p in problems],
        "warnings": [item(w) for w in warnings],
    }


def _shown(text: str, width: int = 80) -> str:
    text = text if text.isprintable() else repr(text)[1:-1]
    return text if len(text) <= width else text[: width - 1] + "…"


def schema(
    out_file: Path | None = typer.Option(None, "--out", "-o", help="Write to a file"),
) -> None:
    """Print the configuration's JSON Schema (2020-12, for editors and CI validation)."""
    from threenines.core.config.json_schema import json_schema

    text = json.dumps(json_schema(composition().config_model), indent=2)
    if out_file:
        out_file.write_text(text + "\n")
    else:
        print(text)


@contextmanager
def friendly_errors(debug: bool = False, hint: str = "") -> Iterator[None]:
    """For on-call commands: an unexpected error is one line and a hint (exit 1), never a
    traceback; with ``debug`` (the command's ``--debug``) it is raised as it is."""
    from threenines.core.logs import summary

    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if debug:
            raise
        hint = hint or "run again with --debug for the details"
        for line in (f"error: {summary(exc)}", f"hint: {hint}"):
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


class OneLineErrors(TyperGroup):
    """The root command group: whatever goes wrong below it is told in one line on stderr.

    A usage error (unknown option, missing argument, bad value, unknown command) is
    ``COMMAND: problem (try: COMMAND --help)`` and exit 2, in place of click's usage text and
    typer's box; an unexpected exception is ``error: Type: message; run with ...`` and exit 1,
    in place of a traceback, unless ``--debug`` was given (at the root, or a command's own).
    Help, and the help that a group shows when called with nothing, are left as they are.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        with _one_line(None):
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _one_line(ctx):
            return super().invoke(ctx)


@contextmanager
def _one_line(ctx: Any) -> Iterator[None]:
    from typer._click import exceptions as click

    from threenines.core.logs import summary

    try:
        yield
    except (click.NoArgsIsHelpError, typer.Exit, typer.Abort):
        raise
    except click.UsageError as exc:
        _say(usage_line(exc))
        raise typer.Exit(2) from None
    except click.ClickException as exc:
        _say(f"error: {_sentence(exc.format_message())}")
        raise typer.Exit(exc.exit_code) from None
    except Exception as exc:
        if ctx is not None and ctx.meta.get(DEBUG):
            raise
        _say(f"error: {summary(exc)}; run with '{DEBUG_HINT}' for details")
        raise typer.Exit(1) from None


def usage_line(exc: Any) -> str:
    """``threenines snmp get: missing argument DEVICE (try: threenines snmp get --help)``."""
    from typer._click import exceptions as click

    ctx, param = exc.ctx, getattr(exc, "param", None)
    where = ctx.command_path if ctx is not None else "threenines"
    if (
        isinstance(exc, click.MissingParameter)
        and param is not None
        and param.name
        and (param.param_type_name == "argument")
    ):
        what = f"missing argument {param.name.upper()}"
    else:
        what = _sentence(exc.format_message())
    helps = ctx is not None and ctx.command.get_help_option(ctx) is not None
    return f"{where}: {what}" + (f" (try: {where} --help)" if helps else "")


def _sentence(text: str) -> str:
    """Click's message as a clause: one line, no final full stop, lower-case first word."""
    text = " ".join(text.split()).rstrip(".")
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _say(line: str) -> None:
    err.print(line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    from threenines.core import audit_cli, ha_cli, reload_cli

    app.command()(validate)
    app.command()(schema)
    reload_cli.register(app)
    ha_cli.register(app)
    audit_cli.register(app)
