"""The agent's configuration document: the checks a vantage point runs, serialised and read back.

The server builds it from its own configuration (``build``); the agent turns it back into a
``Config`` holding only its checks (``load``), so the agent's jobs come from the very same
``threenines.core.scheduler.jobs_for`` as the server's.

Secrets: an agent's probes need the header values and journey variables that are ``Secret``s
in the server's config, so the document carries them in clear, and it is sent only to an
authenticated agent token for that vantage point (over HTTPS in production). Their paths are
listed in ``secret_paths`` so the agent wraps them straight back into ``SecretStr``: a secret
whose value happens to look like ``${VAR}`` or ``file:/x`` is never resolved on the agent.
Neither side ever logs the document.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from threenines.core.config.base import CheckBase
from threenines.core.config.schema import Config

Path = list[str | int]


def _reveal(model: BaseModel, dumped: dict[str, Any], at: Path, out: list[Path]) -> None:
    """Put each ``SecretStr`` of ``model`` back in clear into ``dumped``; record its path."""
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        if key in dumped:
            _reveal_value(getattr(model, name), dumped, key, [*at, key], out)


def _reveal_value(value: Any, parent: Any, key: str | int, at: Path, out: list[Path]) -> None:
    if isinstance(value, SecretStr):
        parent[key] = value.get_secret_value()
        out.append(at)
    elif isinstance(value, BaseModel):
        _reveal(value, parent[key], at, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _reveal_value(v, parent[key], k, [*at, k], out)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _reveal_value(v, parent[key], i, [*at, i], out)


def dump_check(check: CheckBase) -> tuple[dict[str, Any], list[Path]]:
    """A check as JSON-ready data with its secrets in clear, and the paths of those secrets."""
    # exclude_unset: the agent must see exactly what was written, so "was it set?" logic
    # (e.g. a JSON assertion with `equals`) reads the same on both sides
    dumped = check.model_dump(mode="json", by_alias=True, exclude_unset=True)
    paths: list[Path] = []
    _reveal(check, dumped, [], paths)
    return dumped, paths


def build(cfg: Config, vantage: str) -> dict[str, Any]:
    """The document for ``vantage``, with a ``version`` that changes whenever it does."""
    services = []
    for svc in cfg.services:
        checks = []
        for chk in svc.checks:
            if vantage in cfg.vantages_for(chk):
                data, secrets = dump_check(chk)
                checks.append({"config": data, "secret_paths": secrets})
        if checks:
            services.append({"name": svc.name, "site": svc.site, "checks": checks})
    doc: dict[str, Any] = {
        "vantage": vantage,
        "scheduler": cfg.scheduler.model_dump(mode="json"),
        "services": services,
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    doc["version"] = hashlib.sha256(canonical).hexdigest()[:32]
    return doc


def _wrap_secrets(data: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    data = json.loads(json.dumps(data))  # a private copy we may modify
    for path in paths:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = SecretStr(str(node[path[-1]]))
    return data


class Unusable(ValueError):
    """A check this agent cannot run as configured (e.g. its ``ca_file`` is not here)."""

    def __init__(self, service: str, site: str, kind: str, base: CheckBase, reason: str):
        self.check_id = f"{service}/{base.name}"
        super().__init__(f"{self.check_id}: {reason}")
        self.service, self.site, self.kind, self.base, self.reason = (
            service, site, kind, base, reason
        )  # fmt: skip


def load(doc: dict[str, Any], vantage: str, root: type[Config]) -> tuple[Config, list[Unusable]]:
    """A ``root`` config with the checks of ``doc``, and those that cannot run on this host.

    A check failing validation here (typically a file path that exists only on the server) is
    returned as ``Unusable`` with the fields every check has, so the agent can report it
    ("unknown") instead of silently not running it. Raises ValueError on a malformed document.
    """
    if doc.get("vantage") != vantage:
        raise ValueError(f"document is for vantage {doc.get('vantage')!r}, not {vantage!r}")
    check_type: TypeAdapter[Any] = TypeAdapter(root.check_type)
    services, unusable = [], []
    for svc in doc["services"]:
        good = []
        for entry in svc["checks"]:
            raw = entry["config"]
            try:
                good.append(check_type.validate_python(_wrap_secrets(raw, entry["secret_paths"])))
            except ValidationError as exc:
                common = {k: raw[k] for k in CheckBase.model_fields if k in raw}
                base = CheckBase.model_validate({**common, "retries": 0})
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first["loc"][1:]) or "config"
                reason = f"check config unusable on this agent: {where}: {first['msg']}"
                kind = str(raw.get("type", "?"))
                unusable.append(Unusable(svc["name"], svc["site"], kind, base, reason))
        services.append({"name": svc["name"], "site": svc["site"], "checks": good})
    cfg = root.model_validate(
        {"server": {"vantage": vantage}, "scheduler": doc["scheduler"], "services": services}
    )
    return cfg, unusable
