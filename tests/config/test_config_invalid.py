"""Table-driven config errors: each tests/config/invalid/NAME.yaml with its exact NAME.expected.

The expected file holds the loader's output, one ``FILE:LINE path (name=...): message`` line
per problem, with FILE being the bare file name. To add a case, add both files. The
``hostile_*`` cases also go through ``threenines validate`` in ``test_config_hostile.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from threenines.app.config import parse_config
from threenines.core.config import ConfigError

HERE = Path(__file__).parent / "invalid"
CASES = sorted(HERE.glob("*.yaml"))
REQUIRED = {
    "unknown_key",
    "bad_regex",
    "bad_duration",
    "bad_url",
    "unknown_type",
    "port_out_of_range",
    "unknown_vantage",
    "unknown_site",
    "duplicate_name",
    # hostile input (issue 16): each once a traceback or a hang
    "hostile_anchor_bomb",
    "hostile_merge_bomb",
    "hostile_long_string",
    "hostile_deep_nesting",
    "hostile_deep_aliases",
    "hostile_custom_tag",
    "hostile_regex",
    "hostile_nul_byte",
    "hostile_huge_integer",
    "hostile_interval_nines",
    "merge_key_errors",
    "apprise_unknown_scheme",
    "cross_refs_with_field_errors",
    "one_pass_no_echoes",
    "secret_file_dev_zero",
    "yaml_recoverable_problems",
}


def test_required_cases_exist() -> None:
    assert REQUIRED <= {p.stem for p in CASES}
    assert all(p.with_suffix(".expected").is_file() for p in CASES)


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_invalid_config(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THREENINES_TEST_UNSET_TOKEN", raising=False)
    expected = case.with_suffix(".expected").read_text().splitlines()
    with pytest.raises(ConfigError) as info:
        parse_config(case.read_text(), file=case.name)
    assert str(info.value).splitlines() == expected


def test_secret_header_value_never_echoed() -> None:
    header = 'headers: {X-Key: "hunter2\\nInjected: 1"}'
    text = (HERE / "bad_url.yaml").read_text()
    fixed = f"url: https://x.example/\n        {header}"
    text = text.replace("url: portal.example.gov.uk/login", fixed)
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="secret.yaml")
    assert str(info.value) == (
        "secret.yaml:14 services[0].checks[0].headers (name=home): "
        "header 'X-Key' has a control character in its value"
    )
