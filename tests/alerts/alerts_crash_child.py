"""Child process for the crash test: writes a notification to the outbox, then stops (and is
killed with SIGKILL by the test) at a chosen point; ``resume`` delivers what is left.

usage: alerts_crash_child.py CONFIG DB_URL (write-only | mid-send | resume)
"""

from __future__ import annotations

import asyncio
import sys
import time

from threenines.alerts.deliver import Message
from threenines.alerts.model import ConditionUpdate
from threenines.alerts.service import AlertService
from threenines.app.config import load_config
from threenines.core.db import make_engine


async def main(config: str, url: str, phase: str) -> None:
    cfg = load_config(config)
    engine = make_engine(url)
    svc = AlertService(cfg, engine)
    real = svc.deliverer.send

    async def send(receiver: str, msg: Message) -> str | None:
        if phase == "mid-send" and receiver == "mail":
            print("SENDING mail", flush=True)
            await asyncio.Event().wait()  # the test kills us here: SIGKILL, no clean-up
        return await real(receiver, msg)

    svc.sender.send = send
    if phase in ("write-only", "mid-send"):
        await svc.on_conditions(
            [
                ConditionUpdate(
                    "service:payroll",
                    "service",
                    "down",
                    time.time(),
                    site="hq",
                    service="payroll",
                    cause="http_status: 503",
                )
            ]
        )
        print("WRITTEN", flush=True)
        if phase == "write-only":
            await asyncio.Event().wait()
        await svc.sender.run_once()
        return
    deadline = time.time() + 20
    while time.time() < deadline:  # resume: deliver until the outbox is empty
        await svc.sender.run_once()
        counts = svc.sender.store.counts()
        if not counts.get("pending") and not counts.get("sending"):
            break
        await asyncio.sleep(0.2)
    print("DONE", dict(svc.sender.stats), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
