"""Build the configuration root from the core schema and the areas' contributions.

The core ``Config`` knows no area; here each area's sections are added as fields and
``Service.checks`` becomes the discriminated union of every area's check kinds, so adding a
probe kind is one module and one line in its area's registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union, cast

from pydantic import Field, create_model

from threenines.core.config import schema

if TYPE_CHECKING:
    from threenines.core.area import Composition


def compose_config(composition: Composition) -> type[schema.Config]:
    kinds = composition.kinds()
    fields: dict[str, Any] = {}
    if kinds:
        check: Any = Annotated[
            Union[tuple(m.Config for m in kinds.values())],  # noqa: UP007
            Field(discriminator="type"),
        ]
        service = create_model(
            "Service",
            __base__=schema.Service,
            __module__=schema.__name__,
            checks=(list[check], Field(default_factory=list)),
        )
        fields["services"] = (list[service], Field(default_factory=list))
    checks = []
    for area in composition.areas:
        for name, model in (area.sections() if area.sections else {}).items():
            fields[name] = (model, Field(default_factory=model))
        if area.cross_check:
            checks.append(area.cross_check)
    root = create_model("Config", __base__=schema.Config, __module__=schema.__name__, **fields)
    root.area_checks = tuple(checks)
    if kinds:
        root.check_type = check
    return cast("type[schema.Config]", root)
