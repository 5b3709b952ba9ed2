"""A bad argument is one line on stderr and exit 2, on every command; a bug is one line and exit 1.

The CLI tree is walked as ``tests/test_cli_help.py`` walks it for ``--help``. Each command gets
an unknown option, and each command with a required parameter gets none: click rejects both
while parsing, so no command runs. In-process (typer's ``CliRunner``) for speed; a few through
the real console script to show that it prints the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.test_cli_help import ALL
from threenines.app.cli import app

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("threenines")
BOX = set("─│╭╮╰╯┌┐└┘├┤┬┴┼━┃")
TREE = typer.main.get_command(app)


def _command(path: tuple[str, ...]) -> Any:
    cmd: Any = TREE
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def _needs_something(path: tuple[str, ...]) -> bool:
    cmd = _command(path)
    return not hasattr(cmd, "commands") and any(p.required for p in cmd.params)


CASES = [(path, "--no-such-option") for path in ALL] + [
    (path, None) for path in ALL if _needs_something(path)
]


def _problem(stderr: str) -> str | None:
    """What is wrong with an error output, or None when it is one clean line."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if len(lines) != 1:
        return f"{len(lines)} lines"
    if "Traceback" in stderr or BOX & set(stderr):
        return "a traceback or a box"
    return None


def test_every_command_says_a_bad_argument_in_one_line_and_exits_2() -> None:
    assert len(CASES) > len(ALL) + 10  # the walk found the commands with required arguments
    runner = CliRunner()
    failed = []
    for path, extra in CASES:
        res = runner.invoke(app, [*path, *([extra] if extra else [])])
        problem = None if res.exit_code == 2 else f"exit {res.exit_code}"
        problem = problem or _problem(res.stderr) or (res.stdout and "stdout not empty")
        if problem:
            failed.append((" ".join(path) or "(top)", extra, problem, res.output[-300:]))
    assert failed == []


def test_the_line_names_the_command_the_problem_and_the_help() -> None:
    res = CliRunner().invoke(app, ["snmp", "get"])
    assert res.exit_code == 2
    assert res.stderr == (
        "threenines snmp get: missing argument DEVICE (try: threenines snmp get --help)\n"
    )
    res = CliRunner().invoke(app, ["snmp", "walk", "x", "--max-repetitions", "many"])
    line = res.stderr.strip()
    assert line.startswith("threenines snmp walk: invalid value for '--max-repetitions'"), line
    assert line.endswith("(try: threenines snmp walk --help)")


def _script(*argv: str, columns: int = 40) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm-256color"}
    return subprocess.run(
        [str(SCRIPT), *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("--no-such-option",),
        ("no-such-command",),
        ("snmp", "get"),
        ("snmp", "walk", "a-device-name", "--max-repetitions", "0"),
        ("alerts", "--no-such-option"),
        ("validate",),
    ],
)
def test_the_console_script_prints_the_same_one_line(argv: tuple[str, ...]) -> None:
    res = _script(*argv)  # 40 columns: a long line must not wrap
    assert res.returncode == 2, res.stderr
    assert _problem(res.stderr) is None, res.stderr
    assert res.stderr == CliRunner().invoke(app, list(argv)).stderr
    assert res.stdout == ""


def test_help_is_unchanged_and_no_arguments_still_shows_it() -> None:
    res = _script("snmp", "get", "--help", columns=100)
    assert res.returncode == 0 and "Usage: threenines snmp get" in res.stdout
    assert "─" in res.stdout  # typer's rich panels stay
    res = _script(columns=100)
    assert res.returncode == 2 and "Usage: threenines" in res.stdout


BUGGY = """
import sys
import typer
from threenines.app.cli import app

def boom() -> None:
    raise ZeroDivisionError("a bug in a command\\nsecond line")

app.command("bug-for-test")(boom)
sys.argv = ["threenines", *sys.argv[1:]]
app()
"""


def _buggy(*argv: str) -> subprocess.CompletedProcess[str]:
    """The real entry point (``app()``, as the console script calls it) with a buggy command."""
    env = {**os.environ, "COLUMNS": "40"}
    return subprocess.run(
        [sys.executable, "-c", BUGGY, *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_a_bug_is_one_line_and_exit_1_and_debug_shows_the_traceback() -> None:
    from threenines.core import cli as core

    line = (
        f"error: ZeroDivisionError: a bug in a command; run with '{core.DEBUG_HINT}' for details\n"
    )
    res = _buggy("bug-for-test")
    assert (res.returncode, res.stderr) == (1, line)
    res = _buggy("--debug", "bug-for-test")
    assert res.returncode == 1
    assert "Traceback" in res.stderr and "ZeroDivisionError" in res.stderr

    # in-process too: the runner sees the exception itself
    def boom() -> None:
        raise ZeroDivisionError("a bug in a command\nsecond line")

    app.command("bug-for-test", hidden=True)(boom)
    try:
        res = CliRunner().invoke(app, ["bug-for-test"])
        assert (res.exit_code, res.stderr) == (1, line)
        res = CliRunner().invoke(app, ["--debug", "bug-for-test"])
        assert isinstance(res.exception, ZeroDivisionError)
    finally:
        app.registered_commands.pop()
