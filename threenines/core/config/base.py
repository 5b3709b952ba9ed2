"""Building blocks shared by every config model: strict models, names, the common check fields."""

from __future__ import annotations

import re
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    model_validator,
)

from threenines.core.durations import Duration

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lower-case letters, digits, '-', '_' or '.'"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]
"""Identifier for sites, services, checks, vantage points, devices (used in metric labels)."""


def first_named(owner: BaseModel, field: str, name: str) -> Any | None:
    """The first item of ``owner``'s list ``field`` whose ``name`` is ``name``, or None.

    From a dict built once per list (a scan per lookup made cross-checks quadratic: 10,000
    devices named by 10,000 services). The dict is kept in the instance's ``__dict__``, as
    ``functools.cached_property`` does (so equality and dumps ignore it), with the list it was
    built from: after ``model_copy(update=...)`` the list is another and the dict is rebuilt.
    """
    items = getattr(owner, field)
    key = f"_first_named_{field}"
    cached = owner.__dict__.get(key)
    if cached is None or cached[0] is not items:
        index: dict[str, Any] = {}
        for item in items:
            index.setdefault(item.name, item)
        cached = owner.__dict__[key] = (items, index)
    return cached[1].get(name)


class StrictModel(BaseModel):
    """Unknown keys are errors; loaded config is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _within_reason(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # A validator may overflow or recurse on hostile input (re.compile of "a{4294967296}"
        # or of 5,000 nested groups): that is a problem of this item, not a traceback.
        try:
            return handler(data)
        except (RecursionError, OverflowError) as exc:
            what = "nested too deeply" if isinstance(exc, RecursionError) else "too large"
            raise ValueError(
                f"a value here is {what} to be checked ({type(exc).__name__})"
            ) from None


class CheckBase(StrictModel):
    """Fields every check has, whatever its ``type``.

    ``retries`` are confirmation retries: a failure is re-tried (after ``retry_interval``) before
    it counts, and the retries themselves are never recorded as downtime.
    """

    name: Name
    interval: Duration = Field(60.0, gt=0, description="How often the check runs")
    timeout: Duration = Field(10.0, gt=0, description="Deadline for one attempt")
    retries: int = Field(1, ge=0, le=10, description="Confirmation retries before a failure counts")
    retry_interval: Duration = Field(2.0, ge=0)
    vantage: list[Name] | None = Field(
        None, description="Vantage points that run this check (default: the central one)"
    )
    tags: list[str] = Field(default_factory=list)

    def target(self) -> str:
        """The host or URL this check talks to, for per-target concurrency limits and labels."""
        raise NotImplementedError
