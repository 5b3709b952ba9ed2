"""Policy values to and from JSON-able dicts, for the store (restart without losing state)."""

from __future__ import annotations

from dataclasses import asdict, fields
from types import MappingProxyType
from typing import Any

from threenines.alerts.model import Flap, Group, Incident, Notice, PolicyState, Silence

_TUPLES = {f.name for f in fields(Incident) if str(f.type).startswith("tuple")}


def incident_to_dict(inc: Incident) -> dict[str, Any]:
    return asdict(inc)


def incident_from_dict(data: dict[str, Any]) -> Incident:
    known = {f.name for f in fields(Incident)}
    kw: dict[str, Any] = {
        k: (tuple(v) if k in _TUPLES and v is not None else v)
        for k, v in data.items()
        if k in known
    }
    return Incident(**kw)


def silence_to_dict(s: Silence) -> dict[str, Any]:
    return {
        "id": s.id,
        "matchers": dict(s.matchers),
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "author": s.author,
        "comment": s.comment,
    }


def silence_from_dict(d: dict[str, Any]) -> Silence:
    return Silence.make(
        d["id"], dict(d["matchers"]), d["starts_at"], d["ends_at"], d["author"], d["comment"]
    )


def groups_to_json(state: PolicyState) -> list[dict[str, Any]]:
    return [
        {
            "route": g.route,
            "label": g.label,
            "due": g.due,
            "last_flush": g.last_flush,
            "notices": [[n.incident, n.kind, n.at] for n in g.notices],
        }
        for g in state.groups.values()
    ]


def groups_from_json(data: list[dict[str, Any]]) -> dict[tuple[str, str], Group]:
    out: dict[tuple[str, str], Group] = {}
    for d in data:
        notices = tuple(Notice(k, kind, at) for k, kind, at in d.get("notices", []))
        out[(d["route"], d["label"])] = Group(
            d["route"], d["label"], d.get("due"), d.get("last_flush"), notices
        )
    return out


def flaps_to_json(state: PolicyState) -> dict[str, Any]:
    return {k: {"changes": list(f.changes), "flapping": f.flapping} for k, f in state.flaps.items()}


def flaps_from_json(data: dict[str, Any]) -> dict[str, Flap]:
    return {k: Flap(tuple(v["changes"]), bool(v["flapping"])) for k, v in data.items()}


def make_state(
    incidents: list[Incident], silences: list[Silence], kv: dict[str, Any]
) -> PolicyState:
    by_key: dict[str, Incident] = {}
    for inc in sorted(incidents, key=lambda i: i.opened_at):
        by_key[inc.key] = inc  # the newest occurrence of each key
    return PolicyState(
        incidents=MappingProxyType(by_key),
        groups=MappingProxyType(groups_from_json(kv.get("groups", []))),
        flaps=MappingProxyType(flaps_from_json(kv.get("flaps", {}))),
        silences=MappingProxyType({s.id: s for s in silences}),
    )
