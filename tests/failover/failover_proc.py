"""A separate threenines instance for the multi-process tests: run one orchestrator action.

Usage: python failover_proc.py CONFIG ACTION START_AT
ACTION: tick (automatic evaluation) or manual (an operator's forced run). Waits until START_AT
(epoch seconds) so that several instances start together, then prints the outcome.
"""

from __future__ import annotations

import asyncio
import sys
import time

from threenines.app.config import load_config
from threenines.core.db import make_engine
from threenines.failover.orchestrator import Orchestrator, RunOutcome


async def main(path: str, action: str, start_at: float) -> None:
    cfg = load_config(path)
    engine = make_engine(cfg.storage.url)
    orch = Orchestrator(cfg, engine)
    orch.recover()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    if action == "tick":
        out = await orch.tick("main-to-mirror")
    else:
        out = await orch.run_manual("main-to-mirror", by="proc", force=True)
    if isinstance(out, RunOutcome):
        print(f"RUN {out.run_id} {out.state}", flush=True)
    else:
        print(f"DECISION {out.action} {out.reason}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
