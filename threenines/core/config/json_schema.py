"""The configuration's JSON Schema in the standard dialect (2020-12), for editors and CI.

pydantic writes a bound it cannot place on a JSON type as its own keyword (``"gt": 0`` beside
an ``anyOf`` of a number and a duration string), which JSON Schema validators ignore: an editor
then accepts ``agents.silent_after: 0`` that ``validate`` rejects. ``standard`` rewrites those
bounds into ``exclusiveMinimum``/``minimum``/``exclusiveMaximum``/``maximum`` on the numeric
branches they apply to. Rules a schema cannot state (a duration string's value, a regex that
must compile, cross-references) stay with ``validate``.
"""

from __future__ import annotations

from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_NUMERIC = {"number", "integer"}
# keywords whose value is a schema, a list of schemas, or a map of names to schemas
_ONE = {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema"}  # fmt: skip
_LIST = {"anyOf", "allOf", "oneOf", "prefixItems"}
_MAP = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}


def json_schema(model: Any) -> dict[str, Any]:
    """``model``'s JSON Schema (a pydantic model class), standard and with its dialect."""
    return {"$schema": DIALECT, **standard(model.model_json_schema())}


def standard(node: Any) -> Any:
    """``node`` (a schema) with pydantic's bound keywords made standard, recursively."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ONE:
            out[key] = standard(value)
        elif key in _LIST and isinstance(value, list):
            out[key] = [standard(v) for v in value]
        elif key in _MAP and isinstance(value, dict):
            out[key] = {name: standard(v) for name, v in value.items()}
        else:
            out[key] = value  # a keyword's data (default, enum, const, ...) is left as it is
    bounds = {_BOUNDS[k]: out.pop(k) for k in list(out) if k in _BOUNDS}
    if bounds:
        _bound(out, bounds)
    return out


def _bound(node: dict[str, Any], bounds: dict[str, Any]) -> None:
    """Put ``bounds`` where a validator applies them: this node when it is numeric, else each
    numeric branch of its ``anyOf``/``oneOf`` (a string branch, such as ``"5m"``, keeps none)."""
    kinds = node.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if kinds & _NUMERIC:
        node.update(bounds)  # bounds apply to numbers only: other types pass through them
        return
    for key in ("anyOf", "oneOf"):
        for branch in node.get(key, []):
            if isinstance(branch, dict):
                _bound(branch, bounds)
