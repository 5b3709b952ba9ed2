"""How availability figures are shown: one function for every output (CLI, HTML, PDF, CSV, mail).

A percentage is truncated (rounded down) to the places shown, never rounded to nearest: 2,593 s
down in a 30-day month is 99.8999614 %, shown "99.899 %", so a miss never reads as the
target. Float noise (an exact 99.9 % stored as 99.89999999999999) is absorbed by
``FLOAT_NOISE`` before truncating. With a verdict given, the figure is held to it at the
precision shown: a met target never shows below the target, a miss never at or above it.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

PLACES = 3  # percent places on every page and in the CLI
DATA_PLACES = 6  # percent places in the CSV
FLOAT_NOISE = 1e-9  # percent: far below a shown place, far above binary float error
NO_DATA = "no data"


def truncate(value: float, places: int = PLACES) -> Decimal:
    """``value`` rounded down to ``places`` decimals (toward minus infinity)."""
    step = Decimal(1).scaleb(-places)
    return Decimal(repr(value + FLOAT_NOISE)).quantize(step, rounding=ROUND_FLOOR)


def shown_percent(
    value: float, places: int = PLACES, *, target: float | None = None, met: bool | None = None
) -> Decimal:
    """The figure as shown: truncated, and agreeing with ``met`` against ``target``."""
    shown = truncate(value, places)
    if target is None or met is None:
        return shown
    goal = Decimal(repr(target)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    if met and shown < goal:  # met within the accounting's float tolerance
        return goal
    if not met and shown >= goal:
        return goal - Decimal(1).scaleb(-places)
    return shown


def percent(
    value: float | None,
    places: int = PLACES,
    *,
    unit: str = "\u00a0%",
    target: float | None = None,
    met: bool | None = None,
    none: str = NO_DATA,
) -> str:
    """A percentage for people: ``99.899 %`` (truncated), ``none`` when there is no figure."""
    if value is None:
        return none
    return f"{shown_percent(value, places, target=target, met=met)}{unit}"


def share(part: float, whole: float) -> str:
    """A whole-number share in percent, rounded down (budget left: 0.6 % left shows 0 %)."""
    if whole <= 0:
        return "—"
    return f"{Decimal(repr(part / whole * 100 + FLOAT_NOISE)).quantize(Decimal(1), ROUND_FLOOR)}"
