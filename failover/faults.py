"""Fault injection for DR drills: the lab's faults when the lab is up, else the plan's playbooks.

Contract: ``inject`` returns a description of what it did or raises ``RuntimeError`` (no lab and
no fault playbook for the scenario, or the playbook failed); ``clear`` reverts what ``inject``
did and is safe to call when nothing was injected. Both block: call them from a worker thread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threenines.failover.config import Plan, PlaybookRun, failover_config

if TYPE_CHECKING:
    from threenines.failover.orchestrator import Orchestrator


class Faults:
    def __init__(self, orch: Orchestrator, plan: Plan, lab_dir: Path | None = None):
        self.orch, self.plan, self.lab_dir = orch, plan, lab_dir
        self.lab_fault: int | None = None
        self.injected = False

    def _lab(self) -> Any:
        try:
            from threenines import lab
        except ImportError:
            return None
        root = Path(self.lab_dir or lab.DEFAULT_DIR)
        return lab if root.is_dir() and (root / "haproxy.sock").exists() else None

    def inject(self, scenario: str, service: str) -> str:
        lab = self._lab()
        if lab is not None:
            value = service if scenario == "service-stop" else None
            fault = lab.fault_add(scenario, self.plan.primary, value)
            self.lab_fault = fault.id
            return f"lab fault {fault.id}: {fault.describe()}"
        spec = self.plan.faults.dc_cut if scenario == "dc-cut" else self.plan.faults.service_stop
        if spec is None:
            raise RuntimeError(f"no lab and no fault playbook for {scenario} in the plan's faults")
        out = self._play(spec, "fault")
        self.injected = True
        if not out.ok:
            raise RuntimeError(f"fault playbook failed: {out.error}")
        return f"fault playbook {spec.path}"

    def clear(self) -> None:
        if self.lab_fault is not None:
            self._lab().fault_clear(self.lab_fault)
            self.lab_fault = None
        elif self.injected and self.plan.faults.clear is not None:
            self._play(self.plan.faults.clear, "clear")
            self.injected = False

    def _play(self, spec: PlaybookRun, what: str) -> Any:
        cfg = failover_config(self.orch.cfg)
        return self.orch.run_playbook(
            spec,
            project_dir=cfg.project_dir,
            data_dir=cfg.data_dir,
            ident=f"drill-{what}-{time.time_ns()}",
        )
