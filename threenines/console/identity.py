"""Who is signed in: local accounts, sessions, and the one ``Identity`` the pages see.

The seam for other sign-in methods: a provider turns a sign-in into an ``Identity`` (name,
role, provider); ``SessionStore.start`` makes a session of it whatever the provider was. The
local provider is ``UserStore.verify`` (argon2id hashes, argon2-cffi); an OIDC provider (a
council's Entra ID) would add its own login and callback routes that end in the same
``start``, and no page changes, since pages only ever read the session's ``Identity``.

A session id is a random token in an HttpOnly cookie; the table holds its SHA-256 only, with the
session's CSRF token and its expiry (``console.session_ttl``). Roles are the API tokens' (the
hierarchy is ``threenines.agents.tokens.role_allows``): viewer sees, operator acts, admin
manages users.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Engine, Float, Index, String, Table

from threenines.agents.tokens import role_allows
from threenines.core import audit
from threenines.core.tables import metadata

ROLES = ("viewer", "operator", "admin")
NAME_MAX = 64
PASSWORD_MIN = 10
PASSWORD_MAX = 1024

console_users = Table(
    "console_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(10), nullable=False),
    Column("hash", String(200), nullable=False),
    Column("created", Float, nullable=False),
    Column("disabled", Float),
)
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("role", String(10), nullable=False),
    Column("provider", String(20), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),
    Index(None, "expires"),
)

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# verified against when the user does not exist, so both cases cost the same time
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user that cannot be added as asked (the message says why, in one line)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The signed-in person, whatever signed them in."""

    name: str
    role: str
    provider: str = "local"

    def may(self, role: str) -> bool:
        return role_allows(self.role, (role,))


@dataclass(frozen=True, slots=True)
class Session:
    identity: Identity
    csrf: str
    expires: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Local accounts (the local sign-in provider)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, name: str, role: str, password: str, *, now: float, by: str) -> None:
        """Add an account; ``by`` (who added it) goes into the audit log in the same
        transaction."""
        if role not in ROLES:
            raise UserError(f"--role: {role!r} is not one of {', '.join(ROLES)}")
        if not name or len(name) > NAME_MAX or not name.isprintable() or name != name.strip():
            raise UserError(f"user name must be 1 to {NAME_MAX} printable characters")
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise UserError(f"the password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(console_users.c.name).where(console_users.c.name == name)
                            ).first() is not None:  # fmt: skip
                raise UserError(f"user {name!r} exists already")
            conn.execute(console_users.insert().values(
                name=name, role=role, hash=_HASHER.hash(password), created=now))  # fmt: skip
            audit.append(conn, ts=now, actor=by[:64], action="user_added",
                         subject=f"user:{name}", detail={"role": role})  # fmt: skip

    def users(self) -> list[dict[str, Any]]:
        """Every account (never its hash), oldest first."""
        c = console_users.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.name, c.role, c.created, c.disabled)
                                .order_by(c.created, c.name)).all()  # fmt: skip
        return [dict(r._mapping) for r in rows]

    def disable(self, name: str, *, now: float, by: str) -> bool:
        """Refuse the account's sign-ins from now on and end its (local) sessions; False if there is
        no enabled account ``name``. Audited as ``by`` in the same transaction."""
        c = console_users.c
        with self.engine.begin() as conn:
            res = conn.execute(console_users.update().where(c.name == name, c.disabled.is_(None))
                               .values(disabled=now))  # fmt: skip
            if res.rowcount:
                s = console_sessions.c
                ended = conn.execute(
                    console_sessions.delete().where(s.user == name, s.provider == "local")
                ).rowcount
                audit.append(conn, ts=now, actor=by[:64], action="user_disabled",
                             subject=f"user:{name}", detail={"sessions_ended": ended})  # fmt: skip
        return bool(res.rowcount)

    def verify(self, name: str, password: str) -> Identity | None:
        """The user's identity if ``password`` is theirs (and the account is enabled)."""
        if len(name) > NAME_MAX or len(password) > PASSWORD_MAX:
            return None
        c = console_users.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(console_users).where(c.name == name)).first()
        try:
            if row is None or row.disabled is not None:
                _HASHER.verify(_DUMMY, password)
                return None
            _HASHER.verify(row.hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return Identity(row.name, row.role, "local")


class SessionStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def start(self, identity: Identity, *, now: float, ttl: float) -> tuple[str, Session]:
        """A new session for ``identity``: (the cookie's token, the session)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(console_sessions.delete().where(console_sessions.c.expires <= now))
            conn.execute(console_sessions.insert().values(
                id=_digest(token), user=identity.name, role=identity.role,
                provider=identity.provider, csrf=csrf, created=now, expires=now + ttl))  # fmt: skip
        return token, Session(identity, csrf, now + ttl)

    def get(self, token: str, *, now: float) -> Session | None:
        if not token or len(token) > 100:
            return None
        c = console_sessions.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(console_sessions).where(c.id == _digest(token), c.expires > now)
            ).first()
        if row is None:
            return None
        return Session(Identity(row.user, row.role, row.provider), row.csrf, row.expires)

    def end(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(console_sessions.delete().where(console_sessions.c.id == _digest(token)))


class Throttle:
    """Failed sign-ins per key (client address, user name) in a sliding window, in memory
    (one service process; bounded to ``max_keys``)."""

    def __init__(self, attempts: int, window: float, max_keys: int = 10_000):
        self.attempts, self.window, self.max_keys = attempts, window, max_keys
        self.failures: dict[str, list[float]] = {}

    def blocked(self, keys: tuple[str, ...], now: float) -> bool:
        return any(len(self._recent(k, now)) >= self.attempts for k in keys)

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if len(self.failures) >= self.max_keys:
            for k in [k for k in self.failures if not self._recent(k, now)]:
                del self.failures[k]
            if len(self.failures) >= self.max_keys:
                self.failures.clear()
        for k in keys:
            self.failures.setdefault(k, []).append(now)

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self.failures.get(key, ()) if t > now - self.window]
        if key in self.failures:
            self.failures[key] = times
        return times
