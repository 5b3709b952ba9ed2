"""The HTTP app with every area's routes (for tests and embedding; ``run`` builds the same)."""

from __future__ import annotations

from fastapi import FastAPI

from threenines.app.areas import COMPOSITION
from threenines.core.api import create_app as core_create_app
from threenines.core.context import ServiceContext


def create_app(ctx: ServiceContext) -> FastAPI:
    return core_create_app(ctx, COMPOSITION.install_api)
