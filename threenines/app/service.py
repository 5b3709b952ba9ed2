"""``threenines run`` with every area plugged in (the composition's hooks and routes)."""

from __future__ import annotations

import socket
from pathlib import Path

from threenines.app.areas import COMPOSITION
from threenines.core import service
from threenines.core.config import Config
from threenines.core.context import ServiceContext
from threenines.core.service import Extension


def build_context(
    cfg: Config, *, live: bool = False, config_path: Path | None = None
) -> ServiceContext:
    return service.build_context(cfg, COMPOSITION, live=live, config_path=config_path)


async def serve(
    ctx: ServiceContext, sock: socket.socket, extensions: list[Extension] | None = None
) -> None:
    await service.serve(ctx, sock, COMPOSITION, extensions)


def run(cfg: Config, *, live: bool = False) -> int:
    return service.run(cfg, COMPOSITION, live=live)


def extensions() -> list[Extension]:
    """Every area's hook into ``run``, in the composition's order."""
    return COMPOSITION.setups()
