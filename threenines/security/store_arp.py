"""Learned IP -> MAC bindings for protected addresses that have no MAC in the config.

The first uncontested MAC seen for a protected IP is kept; later claims from another MAC are
then spoofing findings. An operator who replaces the hardware clears the binding (``forget``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.core.tables import metadata
from threenines.security.tables import write_audit

arp_bindings = sa.Table(
    "security_arp_bindings",
    metadata,
    sa.Column("ip", sa.String(45), primary_key=True),
    sa.Column("mac", sa.String(17), nullable=False),
    sa.Column("site", sa.String(64)),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
)


class ArpBindings:
    def __init__(self, engine: Engine):
        self.engine = engine

    def learned(self, ips: list[str]) -> dict[str, str]:
        if not ips:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(arp_bindings.c.ip, arp_bindings.c.mac).where(arp_bindings.c.ip.in_(ips))
            ).all()
        return {ip: mac for ip, mac in rows}

    def learn(self, new: dict[str, str], site: str | None, now: float) -> None:
        """Keep the first binding for each IP (an existing one is never overwritten here)."""
        with self.engine.begin() as conn:
            have = {
                r.ip
                for r in conn.execute(
                    sa.select(arp_bindings.c.ip).where(arp_bindings.c.ip.in_(list(new)))
                )
            }
            rows = [
                {"ip": ip, "mac": mac, "site": site, "first_seen": now, "last_seen": now}
                for ip, mac in new.items()
                if ip not in have
            ]
            if rows:
                conn.execute(arp_bindings.insert(), rows)

    def forget(self, ip: str, *, by: str, now: float) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(arp_bindings.delete().where(arp_bindings.c.ip == ip)).rowcount
            if done:
                write_audit(conn, now, by, "arp_binding_forgotten", ip, {})
        return bool(done)
