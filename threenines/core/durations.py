"""Human durations (``30s``, ``5m``, ``1h30m``, ``90d``) parsed once, at config load."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
#: the longest duration anything may be given: nothing the service waits for is longer
MAX_DURATION = 100 * _UNITS["y"]


def parse_duration(value: Any) -> float:
    """Return seconds for ``value``: a number (seconds) or a string such as ``1h30m``.

    Raises ValueError with a message fit for a config error.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(value)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r}")
    text = value.strip().replace(" ", "")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h30m, 7d)")
    return _bounded(total)


def _bounded(seconds: float) -> float:
    if seconds != seconds:  # NaN (.nan in YAML)
        raise ValueError("not a duration: nan")
    if seconds > MAX_DURATION:  # before float(): a 400-digit int would overflow it
        raise ValueError("a duration cannot be more than 100 years")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """Short human form: ``43m12s``, ``1h``, ``250ms``."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    rest = round(seconds, 3)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            n = int(rest // size)
            out.append(f"{n}{unit}")
            rest -= n * size
    if rest or not out:
        out.append(f"{rest:g}s")
    return "".join(out)


#: what ``parse_duration`` accepts, for the JSON Schema (its value is checked only by it)
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d|w|y)\s*)+$"

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "Seconds, or a duration such as 30s, 5m, 1h30m, 7d",
        },
        mode="validation",
    ),
]
"""A pydantic field type: accepts ``30s``-style strings or seconds, holds seconds (float)."""
