"""Plug the failover orchestrator into ``threenines run``: ``setup(ctx)`` is the area's
``Area.setup`` hook (``area.py``).

With at least one plan in ``failover.plans`` it adds one background task, ``failover``, that
first marks runs left 'running' by a dead instance as interrupted (and pages), then evaluates
every plan each ``failover.evaluate_every`` and fails over when the decision says so. Every
blocking step (database, pre-flight commands, ansible-runner) runs in a worker thread, so the
probes scheduled on the same event loop never wait for a playbook. Several instances may run
this on one database: the plan's lease makes exactly one of them run the playbook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from threenines.core.quarantine import Quarantine
from threenines.failover import metrics
from threenines.failover.config import failover_config
from threenines.failover.orchestrator import Orchestrator

if TYPE_CHECKING:
    from threenines.core.config import Config
    from threenines.core.context import ServiceContext


def setup(ctx: ServiceContext) -> Orchestrator | None:
    if not failover_config(ctx.config).plans:
        return None
    metrics.register(ctx.metrics.registry, ctx.engine, failover_config(ctx.config))
    quarantine = Quarantine(ctx.engine, registry=ctx.metrics.registry)
    orch = Orchestrator(ctx.config, ctx.engine, quarantine=quarantine)
    ctx.add_task("failover", lambda: orch.serve(ctx.stopping), singleton=True)

    def reload(cfg: Config) -> None:  # plans resolve their services from it at each decision
        orch.cfg = cfg  # (the ``failover`` section itself is held: ``area.py``)

    ctx.on_reload(reload)
    return orch
