"""Hostile input: the loader ends quickly with ``FILE:LINE`` problems, never a hang or traceback.

The hostile configurations themselves (anchor bombs, a 2 MB string, 800 levels of nesting,
custom tags, a NUL byte, huge numbers, unknown Apprise schemes, ...) are cases in
``tests/config/invalid``; here are the cases that need a file made at test time (secret files,
FIFOs, sizes), merge keys that must work, a bounded fuzz test, and ``threenines validate``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threenines.app.config import Config, load_config, parse_config
from threenines.core.config import ConfigError
from threenines.core.config.loader import Limits, parse_text
from threenines.core.config.secrets import SECRET_FILE_BYTES

INVALID = Path(__file__).parent / "invalid"
HOSTILE = sorted(INVALID.glob("hostile_*.yaml"))
SITE = "sites: [{name: main-dc, kind: datacentre}]\n"


def problems(text: str, file: str = "x.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, file=file)
    return str(info.value).splitlines()


def test_merge_keys_work() -> None:
    cfg = parse_config(
        SITE
        + """services:
  - name: portal
    site: main-dc
    checks:
      - &web {name: home, type: http, url: "https://portal.example.gov.uk/", interval: 30s}
      - <<: *web
        name: login
        timeout: 5s
      - {<<: [*web, {retries: 3, name: ignored}], name: api, interval: 1m}
"""
    )
    home, login, api = cfg.services[0].checks
    assert (login.name, login.interval, login.timeout, str(login.url)) == (
        "login",
        30.0,
        5.0,
        "https://portal.example.gov.uk/",
    )
    # keys written in the mapping win; then the first merged mapping that has the key
    assert (api.name, api.interval, api.retries) == ("api", 60.0, 3)
    assert home.timeout == 10.0  # merging never changes the anchored mapping


def test_a_merge_key_needs_mappings() -> None:
    assert problems(SITE + "server: {<<: [1, 2], listen: '127.0.0.1:1'}\n") == [
        "x.yaml:2 server: a merge key (<<) takes a mapping or a list of mappings"
    ]


def header_secret(tmp_path: Path, value: str) -> str:
    return (
        SITE
        + f"""services:
  - name: portal
    site: main-dc
    checks:
      - name: home
        type: http
        url: https://portal.example.gov.uk/
        headers: {{Authorization: "file:{value}"}}
"""
    )


def test_secret_files_are_bounded_and_regular(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * (SECRET_FILE_BYTES + 1))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: a blocking open would wait for ever
    latin = tmp_path / "latin"
    latin.write_bytes(b"caf\xe9")
    where = "x.yaml:9 services[0].checks[0].headers.Authorization (name=home)"
    for path, message in (
        (big, f"secret file {big} is larger than 64 KiB"),
        (fifo, f"secret file {fifo} is not a regular file"),
        (tmp_path, f"secret file {tmp_path} is not a regular file"),
        (latin, f"secret file {latin} is not UTF-8 text"),
        (Path("/dev/zero"), "secret file /dev/zero is not a regular file"),
    ):
        assert problems(header_secret(tmp_path, str(path))) == [f"{where}: {message}"]
    exact = tmp_path / "exact"
    exact.write_bytes(b"k" * SECRET_FILE_BYTES + b"\n")  # the limit counts the newline too
    assert problems(header_secret(tmp_path, str(exact)))[0].endswith("larger than 64 KiB")
    exact.write_bytes(b"k" * SECRET_FILE_BYTES)
    cfg = parse_config(header_secret(tmp_path, str(exact)))
    check = cfg.services[0].checks[0]
    assert check.headers["Authorization"].get_secret_value() == "k" * SECRET_FILE_BYTES


def test_config_files_are_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(8 * 1024 * 1024 + 1)  # sparse: nothing written
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"sites: []\norganisation: Caf\xe9\n")
    for path, message in (
        (big, f"{big}: the file is larger than 8 MiB"),
        (Path("/dev/zero"), "/dev/zero: the file is larger than 8 MiB"),
        (latin, f"{latin}:2: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
        (tmp_path, f"{tmp_path}: cannot read: Is a directory"),
    ):
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(info.value) == message


def test_limits_apply_without_aliases() -> None:
    text = SITE + "services: [{name: a, site: main-dc, tags: [" + ", ".join(["t"] * 200) + "]}]\n"
    parse_text(text, Config, "x.yaml", Limits(values=1000))  # within the limits, it loads
    for limits, message in (
        (Limits(values=100), "x.yaml:2: more than 100 values"),
        (Limits(file_bytes=100), "x.yaml: the file is larger than 100 bytes"),
        (Limits(depth=3), "x.yaml:2: nested more than 3 levels deep"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_text(text, Config, "x.yaml", limits)
        assert str(info.value) == message


def test_secrets_never_in_apprise_problems() -> None:
    text = (INVALID / "apprise_unknown_scheme.yaml").read_text()
    out = "\n".join(problems(text))
    assert "hunter2" not in out and "T0KEN" not in out and "robot" not in out


SEED = """organisation: Example Borough Council
sites:
  - {name: main-dc, kind: datacentre}
  - {name: dr-dc, kind: datacentre, mirror_of: main-dc}
vantage_points:
  - {name: dc-probe, site: main-dc}
services:
  - name: portal
    site: main-dc
    tags: &tags [web, public]
    checks:
      - &web {name: home, type: http, url: "https://portal.example.gov.uk/", body_regex: "W.l+"}
      - <<: *web
        name: login
        vantage: [dc-probe]
      - {name: db, type: tcp, host: db.example.gov.uk, port: 5432, timeout: 5s, expect: "^R"}
  - {name: intranet, site: dr-dc, depends_on: [portal], tags: *tags}
alerts:
  receivers: [{name: ops, url: "json://127.0.0.1:9/hook"}]
  routes: [{name: all, receivers: [ops], group_wait: 10s}]
"""
# fmt: off
TOKENS = [
    ":", ": ", "- ", "[", "]", "{", "}", ",", "\n", "\n  ", "  ", "\t", "#", "'", '"', "? ",
    "&a ", "*a", "*tags", "*web", "<<: *web\n", "<<: [*web, *tags]", "!foo ", "!!int ", "!!str ",
    "!!binary ", "!!python/name:os.system ", "%YAML 1.1\n", "---\n", "...\n", "\0", "\x1b",
    "\ufeff", "\ud800", "9" * 400, "9" * 5000, "1e400", ".nan", "-.inf", "0x", "2026-13-45",
    "~", "null", "yes", "${NOPE}", "${HOME}", "file:/dev/zero", "file:/nonexistent",
    "notascheme://u:p@h", "x" * 70_000, "[" * 100, "]" * 100, "\\", "\\x00", "\\uD800",
    "(" * 5000, "{4294967296}", "(?P<", "*+", "30s", "interval: ", "1000y",
]
# fmt: on


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The seed with a few tokens inserted and a few spans deleted or repeated."""
    text = SEED
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "insert", "delete", "repeat"]))
        if edit == "insert":
            token = draw(st.sampled_from(TOKENS) | st.text(max_size=4))
            text = text[:at] + token + text[at:]
        else:
            span = draw(st.integers(1, 40))
            text = (
                text[:at]
                + (text[at : at + span] * 3 if edit == "repeat" else "")
                + text[at + span :]
            )
    return text


def loads_or_config_error(text: str) -> None:
    try:
        parse_config(text, file="fuzz.yaml")
    except ConfigError as exc:
        assert exc.problems and all(str(p).startswith("fuzz.yaml") for p in exc.problems)


@settings(
    max_examples=300,
    deadline=timedelta(seconds=2),  # any input ends, and quickly
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_fuzz_mutated_config_only_raises_config_error(text: str) -> None:
    loads_or_config_error(text)


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
KEYS = [
    "organisation",
    "target",
    "timezone",
    "sites",
    "services",
    "storage",
    "server",
    "scheduler",
    "maintenance",
    "alerts",
    "snmp",
    "failover",
    "reports",
    "security",
    "agents",
]


@settings(max_examples=200, deadline=timedelta(seconds=2), database=None)
@given(st.dictionaries(st.sampled_from(KEYS), YAML_VALUES, max_size=5))
def test_fuzz_random_documents_only_raise_config_error(doc: dict[str, object]) -> None:
    import yaml

    loads_or_config_error(yaml.safe_dump(doc, allow_unicode=True))


# one of each kind that was a hang or a traceback; every hostile case in the slow test
FAST = ["hostile_long_string", "hostile_anchor_bomb", "hostile_deep_nesting", "hostile_nul_byte"]


def validate_each(cases: list[Path]) -> None:
    """Each case through the CLI: it ends (a hang would pass the timeout), exits 2 and prints
    its expected ``FILE:LINE`` lines, no traceback. Side by side: each starts a Python. A
    narrow terminal: a problem is one line however long (no wrapping at the terminal's width)."""
    cli = str(Path(sys.executable).with_name("threenines"))
    env = {**os.environ, "COLUMNS": "40"}
    procs = {
        case: subprocess.Popen(
            [cli, "validate", str(case)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for case in cases
    }
    for case, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"threenines validate {case.name} still running after 60 s")
        lines = stderr.splitlines()
        assert proc.returncode == 2, (case.name, stderr)
        assert "Traceback" not in stdout + stderr, case.name
        assert lines[-1] == f"{len(lines) - 1} problem(s) in {case}"
        expected = (case.with_suffix(".expected")).read_text().splitlines()
        assert [line.removeprefix(str(case.parent) + "/") for line in lines[:-1]] == expected


def test_validate_prints_file_line_problems_without_traceback() -> None:
    validate_each([INVALID / f"{name}.yaml" for name in FAST])


@pytest.mark.slow
def test_validate_every_hostile_case() -> None:
    validate_each(HOSTILE)
