"""SNMPv3 users for the trap receiver: keys localised to each sender's engine ID on demand.

SNMPv3 traps are authoritative at the sender, so a user's keys must be localised to every
sending agent's engine ID. Instead of listing engine IDs in the config, ``UsmLearner`` reads the
engine ID and user name from a v3 message header; for a configured user seen from a new engine
it adds the user for that engine (at most ``max_engines``, so spoofed engine IDs cannot grow
the table without bound). Pass phrases are hashed once per user (master keys); localising a
master key to an engine is one more hash. Authentication itself is still pysnmp's: a header
with a known user and wrong keys is rejected by the engine and counted as ``bad_auth``.
"""

from __future__ import annotations

from typing import Any

from pyasn1.codec.ber import decoder
from pyasn1.type import univ
from pysnmp.entity import config as pconfig
from pysnmp.hlapi.v3arch.asyncio import USM_AUTH_NONE, USM_KEY_TYPE_MASTER, USM_PRIV_NONE
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

from threenines.collectors.config import UsmUser
from threenines.collectors.snmp_client import AUTH, PRIV


class UsmLearner:
    def __init__(self, engine: Any, users: list[UsmUser], max_engines: int):
        self._engine = engine
        self._users = {u.user.encode(): u for u in users}
        self._max = max_engines
        self._learnt: set[tuple[bytes, bytes]] = set()
        self._master: dict[bytes, tuple[Any, Any]] = {}
        for user in users:
            self._add_user(user, None)  # our own engine ID: for informs

    def _add_user(self, user: UsmUser, engine_id: bytes | None) -> None:
        """Configure ``user`` for ``engine_id`` (None: our own engine, for informs)."""
        auth_proto = AUTH[user.auth_protocol] if user.level != "noAuthNoPriv" else USM_AUTH_NONE
        priv_proto = PRIV[user.priv_protocol] if user.level == "authPriv" else USM_PRIV_NONE
        name = user.user.encode()
        if name not in self._master:  # the slow pass-phrase hash, once per user
            auth_key = priv_key = None
            if auth_proto != USM_AUTH_NONE and user.auth_key:
                auth_key = pconfig.AUTH_SERVICES[auth_proto].hash_passphrase(
                    user.auth_key.get_secret_value()
                )
            if priv_proto != USM_PRIV_NONE and user.priv_key:
                priv_key = pconfig.PRIV_SERVICES[priv_proto].hash_passphrase(
                    auth_proto, user.priv_key.get_secret_value()
                )
            self._master[name] = (auth_key, priv_key)
        auth_key, priv_key = self._master[name]
        pconfig.add_v3_user(
            self._engine,
            user.user,
            auth_proto,
            auth_key,
            priv_proto,
            priv_key,
            securityEngineId=univ.OctetString(engine_id) if engine_id else None,
            authKeyType=USM_KEY_TYPE_MASTER,
            privKeyType=USM_KEY_TYPE_MASTER,
        )

    def learn(self, datagram: bytes) -> None:
        """For a v3 message from a configured user, localise its keys to the sender's engine."""
        try:
            msg, _ = decoder.decode(datagram, asn1Spec=SNMPv3Message())
            params, _ = decoder.decode(
                bytes(msg["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters()
            )
        except Exception:
            return  # the engine will count it as malformed
        engine_id = bytes(params["msgAuthoritativeEngineId"])
        user = bytes(params["msgUserName"])
        key = (engine_id, user)
        if not engine_id or user not in self._users or key in self._learnt:
            return
        if len(self._learnt) >= self._max:
            return
        self._learnt.add(key)
        self._add_user(self._users[user], engine_id)
