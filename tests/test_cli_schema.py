"""``threenines schema``: standard JSON Schema (2020-12) that agrees with ``validate``.

It once held pydantic's own ``"gt"`` keyword 12 times, which validators ignore, so an editor
accepted ``agents.silent_after: 0``; and it typed every duration as a number, so it rejected
``interval: 30s`` in every shipped config. Checked here with the ``jsonschema`` library: the
schema against the metaschema, every keyword a standard one, the shipped configs accepted,
and every case in tests/config/invalid rejected, save those listed with why a schema cannot.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from threenines.core.config.document import LIMITS, Unreadable, read

ROOT = Path(__file__).resolve().parents[1]
INVALID = sorted((ROOT / "tests" / "config" / "invalid").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "config").glob("*.yaml"))

# Cases whose rule is not one a JSON Schema states (or not yet stated), and why.
CANNOT = {
    # cross-references between parts of the file: a schema sees one value at a time
    "unknown_site": "a reference to a site defined elsewhere in the file",
    "unknown_vantage": "a reference to a vantage point defined elsewhere",
    "report_unknown_receiver": "a reference to an alert receiver defined elsewhere",
    "journey_unknown_variable": "a {variable} used in a step must be defined in the check",
    "duplicate_name": "names unique across a list (uniqueItems compares whole items)",
    "icmp_loss_thresholds": "one field bounded by another (loss_degraded <= loss_down)",
    "journey_relative_url": "relative only when the check sets base_url (a sibling's value)",
    # the value needs code, the file system or the environment
    "bad_regex": "the regex must compile in Python ('format: regex' is only an annotation)",
    "bad_json_path": "the JSON path must parse (jsonpath-ng)",
    "apprise_unknown_scheme": "Apprise's plug-ins decide; the URL is usually an ${ENV} secret",
    "ca_file_missing": "a file that must exist on the monitor",
    "secret_env_unset": "an environment variable that must be set (validate --secrets)",
    "secret_file_dev_zero": "a secret file that must be a regular file",
    # limits of the YAML reader: the text, before there is data to validate
    "hostile_custom_tag": "a YAML tag (!foo): the data has no tags",
    "hostile_interval_nines": "a 400-digit number, refused by the reader (maximum is stated)",
    "hostile_long_string": "the reader's 64 KiB limit on a value (a size, not a rule)",
    "hostile_regex": "a regex nested too deeply to compile",
    # could be stated, not yet: the probes area's own field types (being changed, issue 14)
    "bad_url": "could be a pattern ^https?:// on the probes' URL type: not yet",
    "bad_status": "could be a pattern on the status-code spec type: not yet",
    "dns_resolver_not_ip": "could be an IP pattern on the resolver field: not yet",
}
# Keywords of the 2020-12 vocabularies (core, applicator, validation, meta-data, format,
# content, unevaluated) that the schema may use.
STANDARD = {
    "$schema", "$id", "$ref", "$defs", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor",
    "type", "enum", "const", "properties", "additionalProperties", "required", "items",
    "prefixItems", "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "propertyNames",
    "patternProperties", "dependentRequired", "dependentSchemas", "contains", "title",
    "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "format",
    "discriminator",  # OpenAPI's, which pydantic adds to tagged unions: an annotation only
    "contentEncoding", "contentMediaType", "unevaluatedProperties", "unevaluatedItems",
}  # fmt: skip
_SCHEMAS = {"items", "additionalProperties", "not", "if", "then", "else", "contains",
            "propertyNames", "unevaluatedItems", "unevaluatedProperties"}  # fmt: skip


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    script = ROOT / ".venv" / "bin" / "threenines"
    res = subprocess.run([str(script), "schema"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


def _keywords(node: Any, found: set[str]) -> set[str]:
    """Every keyword used in schema positions (not property names, not data)."""
    if not isinstance(node, dict):
        return found
    for key, value in node.items():
        found.add(key)
        if key in _SCHEMAS:
            _keywords(value, found)
        elif key in {"anyOf", "oneOf", "allOf", "prefixItems"}:
            for v in value:
                _keywords(v, found)
        elif key in {"properties", "patternProperties", "$defs", "dependentSchemas"}:
            for v in value.values():
                _keywords(v, found)
    return found


def _data(path: Path) -> Any:
    """The file's data as an editor's JSON model sees it (a YAML date is a string)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, datetime.date | datetime.time):
            return value.isoformat()
        return value

    doc = read(path.read_text(encoding="utf-8", errors="replace"), LIMITS)
    assert doc is not None
    return plain(doc.data), doc.problems


def test_the_schema_is_standard_json_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert _keywords(schema, set()) - STANDARD == set()
    silent = schema["$defs"]["AgentsConfig"]["properties"]["silent_after"]
    assert "exclusiveMinimum" in json.dumps(silent)


@pytest.mark.parametrize("config", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_shipped_config_is_accepted(schema: dict[str, Any], config: Path) -> None:
    data, _ = _data(config)
    errors = [f"{e.json_path}: {e.message[:200]}" for e in _validator(schema).iter_errors(data)]
    assert errors == []


def test_a_value_validate_rejects_an_editor_rejects_too(schema: dict[str, Any]) -> None:
    base = {"sites": [{"name": "dc", "kind": "datacentre"}], "services": []}
    v = _validator(schema)
    assert v.is_valid({**base, "agents": {"silent_after": "3m"}})
    for bad in (0, -1, "3 minutes", 1e12):
        assert not v.is_valid({**base, "agents": {"silent_after": bad}}), bad


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_every_invalid_case_is_rejected_where_a_schema_can_say_so(
    schema: dict[str, Any], case: Path
) -> None:
    try:
        data, problems = _data(case)
    except Unreadable:  # the reader refuses the text itself (a bomb, a NUL, a 2nd document)
        return
    rejected = not _validator(schema).is_valid(data)
    if case.stem in CANNOT:
        assert not rejected, f"{case.stem} is rejected now: take it off CANNOT"
    else:
        assert rejected or problems, f"{case.stem}: the schema accepts what validate rejects"


def test_cannot_lists_only_cases_that_exist() -> None:
    assert set(CANNOT) <= {p.stem for p in INVALID}
