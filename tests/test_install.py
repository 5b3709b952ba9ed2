"""The wheel, installed as an operator installs it, outside the repository.

One wheel is built for the module (``pip wheel``, the slow part) and installed into a clean
venv in a temporary directory. Its dependencies come from the development venv (a path entry:
no network, no copy), the package itself only from the wheel; the tests check that every
import of ``threenines`` comes from there. Then as a new user would: ``threenines init``,
``validate``, a short ``run``, the bundled playbooks found, and the systemd unit checked with
``systemd-analyze verify``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench._wait import until
from tests.conftest import require, require_command

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]  # one build per session


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # from a copy of the tree: a build writes build/ and *.egg-info into its source, and two
    # builds (two workers, or a developer's own) in one tree would meet there
    src = tmp_path_factory.mktemp("source") / "threenines"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "*_cache", "__pycache__", "data"))  # fmt: skip
    # no build isolation: setuptools and wheel come from the dev venv (the dev extra), so the
    # build never asks a package index (an isolated build fetched setuptools: once it failed)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        said = (done.stderr or done.stdout)[-3000:]
        pytest.fail(f"pip wheel failed ({done.returncode}):\n{said}")
    (built,) = out.glob("threenines-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the repo with the wheel installed (``bin/threenines``)."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True,
                   timeout=120)  # fmt: skip
    site = Path(sysconfig.get_path("purelib", vars={"base": str(home), "platbase": str(home)}))
    # the dependencies: the dev venv's site-packages as a plain path entry, *after* the venv's
    # own (a path line runs no .pth file there, so the repo's editable finder stays out)
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(home / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    return home


def _clean_env(**extra: str) -> dict[str, str]:
    home = os.environ.get("HOME", "/root")  # wide: rich must not wrap a long path
    return {"PATH": "/usr/bin:/bin", "HOME": home, "COLUMNS": "500", **extra}


def _tn(venv: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "threenines"), *argv], cwd=cwd, text=True,
                          capture_output=True, timeout=120, env=_clean_env())  # fmt: skip


def test_the_wheel_installs_one_import_name_with_its_migrations(
    wheel: Path, tmp_path: Path
) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"threenines"}
    for area in ("probes", "collectors", "failover", "alerts"):
        assert f"threenines/{area}/area.py" in names
    assert sum(n.endswith("_0001.py") and "/migrations/" in n for n in names) == 8
    for shipped in ("templates/status.html", "static/htmx.min.js", "static/LICENSE.htmx"):
        assert f"threenines/console/{shipped}" in names  # the console works offline
    # the playbooks, the report templates, the example configs and the unit, inside the package
    for played in (ROOT / "playbooks").rglob("*"):
        if played.is_file():
            assert (
                f"threenines/failover/playbooks/{played.relative_to(ROOT / 'playbooks')}" in names
            )
    for example in (ROOT / "config").glob("*.yaml"):
        assert f"threenines/app/share/config/{example.name}" in names
    assert "threenines/app/share/threenines.service" in names
    assert any(n.startswith("threenines/reports/templates/") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; from threenines.app.db import make_engine, migrate;"
        f"e = make_engine('sqlite:///{tmp_path}/w.db'); migrate(e);"
        "import threenines.alerts.policy as m; print(m.__file__)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().startswith(str(site))


@pytest.fixture(scope="module")
def initialised(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("etc") / "threenines"
    res = _tn(venv, "init", str(where), cwd=where.parent)
    assert res.returncode == 0, res.stderr
    return where


def test_init_writes_a_config_that_validates_with_the_playbooks_to_adapt(
    venv: Path, initialised: Path
) -> None:
    assert {p.name for p in initialised.iterdir()} == {
        "threenines.yaml", "threenines.service", "playbooks", "examples"
    }  # fmt: skip
    assert (initialised / "playbooks" / "failover.yml").is_file()
    res = _tn(venv, "validate", str(initialised / "threenines.yaml"), cwd=initialised)
    assert res.returncode == 0 and "valid" in res.stdout, res.stderr
    # the shipped example validates without its secrets, from the installed copy
    res = _tn(venv, "validate", str(initialised / "examples" / "example.yaml"), cwd=initialised)
    assert res.returncode == 0 and res.stderr.count("is not set") == 14, res.stderr
    again = _tn(venv, "init", str(initialised), cwd=initialised)
    assert again.returncode == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    plan = _tn(venv, "failover", "plan", "dc-main-to-mirror", "-c",
               str(initialised / "threenines.yaml"), cwd=initialised)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert f"{initialised}/playbooks/failover.yml" in plan.stdout
    assert "missing" not in plan.stdout


def test_without_project_dir_the_playbooks_in_the_package_are_used(
    venv: Path, initialised: Path, tmp_path: Path
) -> None:
    text = (initialised / "threenines.yaml").read_text()
    bare = tmp_path / "bare.yaml"
    bare.write_text("\n".join(ln for ln in text.splitlines() if "project_dir:" not in ln))
    res = _tn(venv, "failover", "plan", "dc-main-to-mirror", "-c", str(bare), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    packaged = f"{venv}/lib/python{sys.version_info.major}.{sys.version_info.minor}"
    lines = [ln for ln in res.stdout.splitlines() if "failover.yml" in ln or "failback.yml" in ln]
    assert len(lines) == 2, res.stdout
    for line in lines:
        assert packaged in line and "site-packages/threenines/failover/playbooks/" in line
        assert "missing" not in line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def running(
    venv: Path, initialised: Path, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    cfg = tmp_path / "threenines.yaml"
    cfg.write_text((initialised / "threenines.yaml").read_text().replace("9339", str(port)))
    proc = subprocess.Popen([str(venv / "bin" / "threenines"), "run"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=_clean_env(THREENINES_CONFIG=str(cfg)))  # fmt: skip
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_a_short_run_from_the_installed_package(
    running: tuple[subprocess.Popen[str], int], venv: Path, tmp_path: Path
) -> None:
    proc, port = running

    def healthy() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    until("the installed service's /healthz", healthy, limit=90)
    # its own check (the starter probes its /healthz) has a result
    metrics = lambda: "self" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text  # noqa: E731
    until("a first result of the starter's check", metrics, limit=90)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    out = proc.stdout.read() if proc.stdout else ""
    assert "Traceback" not in out
    assert (tmp_path / "data" / "threenines.db").is_file()  # relative to its working directory
    code = "import threenines, sys; print(threenines.__file__)"
    res = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, env=_clean_env(), cwd=tmp_path, timeout=60)  # fmt: skip
    assert res.stdout.startswith(str(venv)), res.stdout  # the wheel's copy, not the repo's


def test_the_systemd_unit_is_hardened_and_verifies(venv: Path, initialised: Path) -> None:
    unit = (initialised / "threenines.service").read_text()
    settings = dict(
        ln.split("=", 1) for ln in unit.splitlines() if "=" in ln and not ln.startswith("#")
    )
    assert settings["User"] == "threenines" and settings["ProtectSystem"] == "strict"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ReadWritePaths"] == "/var/lib/threenines"
    for caps in ("AmbientCapabilities", "CapabilityBoundingSet"):
        assert set(settings[caps].split()) == {"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"}
    assert settings["ExecStart"] == f"{venv}/bin/threenines run"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"  # systemctl reload: in place
    assert settings["Environment"] == f"THREENINES_CONFIG={initialised}/threenines.yaml"
    require_command("systemd-analyze")
    res = subprocess.run(["systemd-analyze", "verify", str(initialised / "threenines.service")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    # verify exits 0 on unknown keys and bad values too: any line it prints is a failure
    assert res.returncode == 0 and res.stdout + res.stderr == "", res.stdout + res.stderr
    res = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=30",
                          str(initialised / "threenines.service")], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    require("Unknown option" not in res.stderr, "systemd-analyze security --offline (>= 250)")
    assert res.returncode == 0, res.stdout[-1500:]
    assert "Overall exposure level" in res.stdout
