"""The ``console:`` section: sessions and sign-in throttling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from threenines.core.config.base import StrictModel
from threenines.core.durations import Duration


class ConsoleConfig(StrictModel):
    session_ttl: Duration = Field(
        12 * 3600.0,
        gt=0,
        le=7 * 86400,
        description="A console session ends this long after sign-in",
    )
    login_attempts: int = Field(
        5, ge=1, le=100, description="Failed sign-ins per client and per user name in the window"
    )
    login_window: Duration = Field(300.0, gt=0, le=86400, description="The throttle's window")
    secure_cookies: Literal["auto", "always"] = Field(
        "auto",
        description="auto: the session cookie is Secure unless served over plain HTTP to a "
        "loopback client (a developer's machine); always: Secure in every case",
    )
