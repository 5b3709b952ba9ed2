"""API tokens: roles, vantage binding, hashed storage; and agents' heartbeats.

A token is ``tn_`` + 32 random bytes (URL-safe base64), shown once at creation. Only its
SHA-256 is stored: with 256 bits of entropy a plain hash is as good as a slow KDF, and it lets
``verify`` find the row with one indexed lookup. Logs never carry a token: they name the row's
short ``id`` or, for a token matching no row, a ``fingerprint`` (not the stored hash).

Roles: ``admin`` >= ``operator`` >= ``viewer``; ``agent`` is apart (agent endpoints only) and
must be bound to one vantage point.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Engine, Float, Index, Integer, String, Table

from threenines.core import audit
from threenines.core.tables import metadata

ROLES = ("agent", "viewer", "operator", "admin")
RANK = {"viewer": 1, "operator": 2, "admin": 3}  # agent has no rank: it satisfies only "agent"
SYSTEM = "system"  # the audit log's actor for tokens made by threenines itself (demo, tests)
TOUCH_EVERY = 60.0  # last_used is updated at most this often per token (no write per request)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(100), nullable=False, default=""),
    Column("role", String(10), nullable=False),
    Column("vantage", String(64)),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created", Float, nullable=False),
    Column("last_used", Float),
    Column("revoked", Float),
)

agent_heartbeats = Table(
    "agent_heartbeats",
    metadata,
    Column("vantage", String(64), primary_key=True),
    Column("last_heard", Float, nullable=False),
    Column("last_ingest", Float),
    Column("last_config", Float),
    Column("address", String(64)),
    Column("results", Integer, nullable=False, default=0),
    Index(None, "last_heard"),
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fingerprint(token: str) -> str:
    """A short, log-safe tag for a presented token (not a prefix of the stored hash)."""
    return hashlib.sha256(b"threenines-fp:" + token.encode()).hexdigest()[:10]


def role_allows(role: str, wanted: tuple[str, ...]) -> bool:
    """Does a token with ``role`` satisfy any of ``wanted``? (hierarchy; agent only for agent)"""
    if role == "agent":
        return "agent" in wanted
    rank = RANK.get(role, 0)
    return any(w in RANK and rank >= RANK[w] for w in wanted)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a token's public id, name, role and (for agents) its vantage."""

    id: str
    name: str
    role: str
    vantage: str | None

    @property
    def label(self) -> str:
        return self.name or f"token:{self.id}"


class TokenError(ValueError):
    pass


class TokenStore:
    """Synchronous; call from a thread in async code."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def create(
        self,
        role: str,
        *,
        now: float,
        vantage: str | None = None,
        name: str = "",
        by: str = SYSTEM,
    ) -> tuple[Principal, str]:
        """Create a token; return it with its plaintext (the only time it exists). ``by``
        (who created it) goes into the audit log in the same transaction."""
        if role not in ROLES:
            raise TokenError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if role == "agent" and not vantage:
            raise TokenError("an agent token must be bound to a vantage point (--vantage)")
        if role != "agent" and vantage:
            raise TokenError("only agent tokens are bound to a vantage point")
        plain = "tn_" + secrets.token_urlsafe(32)
        tid = secrets.token_hex(4)
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    id=tid, name=name, role=role, vantage=vantage, hash=token_hash(plain),
                    created=now, last_used=None, revoked=None,
                )
            )  # fmt: skip
            audit.append(conn, ts=now, actor=by[:64], action="token_created",
                         subject=f"token:{tid}",
                         detail={"role": role, "name": name, "vantage": vantage})  # fmt: skip
        return Principal(tid, name, role, vantage), plain

    def list(self) -> list[dict[str, Any]]:
        cols = [c for c in api_tokens.c if c.name != "hash"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).order_by(api_tokens.c.created)).all()
        return [dict(r._mapping) for r in rows]

    def revoke(self, tid: str, *, now: float, by: str = SYSTEM) -> bool:
        """Revoke an active token (False if there is none with ``tid``); audited as ``by``."""
        with self.engine.begin() as conn:
            res = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == tid, api_tokens.c.revoked.is_(None))
                .values(revoked=now)
            )
            if res.rowcount:
                audit.append(conn, ts=now, actor=by[:64], action="token_revoked",
                             subject=f"token:{tid}"[:200], detail={})  # fmt: skip
        return bool(res.rowcount)

    def verify(self, token: str, *, now: float) -> tuple[Principal | None, str]:
        """The token's principal, or None and why ("unknown" or "revoked <id>")."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(api_tokens).where(api_tokens.c.hash == token_hash(token))
            ).first()
        if row is None:
            return None, "unknown"
        if row.revoked is not None:
            return None, f"revoked id={row.id}"
        if row.last_used is None or now - row.last_used > TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(
                    api_tokens.update().where(api_tokens.c.id == row.id).values(last_used=now)
                )
        return Principal(row.id, row.name, row.role, row.vantage), "ok"


class HeartbeatStore:
    """When each agent was last heard from (any authenticated ingest or config fetch)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def heard(
        self, vantage: str, *, now: float, kind: str, address: str | None, results: int = 0
    ) -> None:
        values: dict[str, Any] = {"last_heard": now, "address": address}
        values["last_ingest" if kind == "ingest" else "last_config"] = now
        hb = agent_heartbeats
        for _ in range(2):  # update, else insert; a racing insert makes the retry an update
            with self.engine.begin() as conn:
                res = conn.execute(
                    hb.update()
                    .where(hb.c.vantage == vantage)
                    .values(**values, results=hb.c.results + results)
                )
            if res.rowcount:
                return
            try:
                with self.engine.begin() as conn:
                    conn.execute(hb.insert().values(vantage=vantage, results=results, **values))
                return
            except sa.exc.IntegrityError:
                continue

    def all(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(agent_heartbeats)).all()
        return {r.vantage: dict(r._mapping) for r in rows}
