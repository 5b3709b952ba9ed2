"""``threenines init DIR``: a starter configuration, the playbooks to adapt and a systemd unit.

Everything written comes from the package itself (``app/share``: the starter and example
configs, the unit; ``failover/playbooks``), so an installed wheel can set itself up with no
source tree. Nothing is overwritten without ``--force``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer

from threenines.core.cli import err

DATA = Path(__file__).parent / "share"
STARTER = DATA / "config" / "starter.yaml"
EXAMPLES = ("example.yaml", "probes.example.yaml", "security.example.yaml")
UNIT = DATA / "threenines.service"
#: the starter's line naming the playbooks, relative there, made absolute by ``init``
PROJECT_LINE = "  project_dir: playbooks\n"


def executable() -> str:
    """This installation's ``threenines`` script: beside its Python (a venv, pipx), else on
    PATH."""
    beside = Path(sys.executable).parent / "threenines"
    if beside.is_file():
        return str(beside)
    return shutil.which("threenines") or "/usr/local/bin/threenines"


def render_unit(config: Path, exe: str | None = None) -> str:
    text = UNIT.read_text()
    return text.replace("@CONFIG@", str(config)).replace("@EXECUTABLE@", exe or executable())


def init(
    directory: Path = typer.Argument(
        ..., help="Where to write (e.g. /etc/threenines); created if missing"
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist"),
) -> None:
    """Write a starter config, example configs, the playbooks to adapt and a systemd unit."""
    from threenines.failover.config import PLAYBOOKS

    target = directory.expanduser().absolute()
    config = target / "threenines.yaml"
    unit = target / "threenines.service"
    playbooks = target / "playbooks"
    examples = target / "examples"
    exists = [p for p in (config, unit, playbooks, examples) if p.exists()]
    if exists and not force:
        names = ", ".join(str(p) for p in exists)
        err.print(f"init: {names} already there (--force overwrites)", markup=False)
        raise typer.Exit(2)
    try:
        target.mkdir(parents=True, exist_ok=True)
        starter = STARTER.read_text()
        config.write_text(starter.replace(PROJECT_LINE, f"  project_dir: {playbooks}\n", 1))
        unit.write_text(render_unit(config))
        shutil.copytree(PLAYBOOKS, playbooks, dirs_exist_ok=True)
        examples.mkdir(exist_ok=True)
        for name in EXAMPLES:
            shutil.copyfile(DATA / "config" / name, examples / name)
    except OSError as exc:
        err.print(f"init: cannot write {exc.filename or target}: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    for line in (
        f"wrote {config} (starter config: it probes only 127.0.0.1)",
        f"wrote {playbooks}/ (failover and failback playbooks to adapt)",
        f"wrote {examples}/ (a commented council estate, probe and security examples)",
        f"wrote {unit} (systemd unit, hardened)",
        "next:",
        f"  threenines validate {config}",
        f"  threenines run --config {config}",
        "  as a service: see the top of the unit file",
    ):
        print(line)


def register(app: typer.Typer) -> None:
    app.command()(init)
