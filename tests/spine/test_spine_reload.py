"""Reload without a gap (issue 18), in process: the scheduler takes a new set of checks by id.

Under load (200 checks every 100 ms on a real TCP server on loopback), one check changed, one
added and one removed: every unchanged check keeps its next slot (the grid is not restarted),
the changed check keeps its phase, the removed one is not run again, the added one starts
within its jitter; and a reload through the service's ``Reloader`` that finds an invalid file
keeps the running config and says why.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from spine_support import BannerServer, tcp_config

from threenines.app.areas import COMPOSITION
from threenines.app.service import build_context
from threenines.core.results import ProbeResult, Status
from threenines.core.scheduler import Job, Scheduler, jobs_for
from threenines.core.store import ResultRecord

INTERVAL = 0.1
N = 200
PROBLEM = (
    "{file}:9 services[0].checks[1].port (name=b): Input should be less than or equal to 65535"
)


def _checks(port: int, n: int = N, **changed: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        c = {"name": f"c{i}", "host": "127.0.0.1", "port": port, "interval": INTERVAL,
             "timeout": 0.5, "retries": 0}  # fmt: skip
        out.append({**c, **changed.get(c["name"], {})})
    return out


async def _until(cond: Any, limit: float = 10.0) -> None:
    for _ in range(int(limit / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_update_keeps_unchanged_slots_changes_added_removed_under_load() -> None:
    async with BannerServer() as srv:
        cfg = tcp_config(_checks(srv.port))
        seen: dict[str, list[float]] = {}

        def note(rec: ResultRecord, job: Job) -> None:
            seen.setdefault(rec.check_id, []).append(asyncio.get_running_loop().time())

        sched = Scheduler(jobs_for(cfg, "central"), cfg.scheduler, vantage="central",
                          on_result=[note])  # fmt: skip
        task = asyncio.create_task(sched.run())
        try:
            await _until(lambda: all(len(seen.get(f"web/c{i}", [])) >= 3 for i in range(N)))
            checks = _checks(srv.port, N, c1={"interval": 0.3})  # c1 changed
            checks = [c for c in checks if c["name"] != "c2"]  # c2 removed
            checks.append({**checks[0], "name": "new"})  # one added
            new = tcp_config(checks)
            before = {f"web/c{i}": sched.next_due(f"web/c{i}") for i in range(3, N)}
            changes = sched.update(jobs_for(new, "central"), new.scheduler)
            at = asyncio.get_running_loop().time()
            after = {k: sched.next_due(k) for k in before}
            changed_next = sched.next_due("web/c1")
            assert changes.added == ("web/new",)
            assert changes.removed == ("web/c2",)
            assert changes.changed == ("web/c1",)
            assert changes.unchanged == N - 2  # c0 and c3..c199
            # Unchanged checks keep their slot: the grid was not restarted (no gap)
            assert after == before
            removed_runs = len(seen["web/c2"])
            await _until(lambda: len(seen.get("web/new", [])) >= 3 and
                         sum(1 for t in seen["web/c1"] if t > at) >= 2)  # fmt: skip
            # the removed check ran at most once more (a run in flight at the update)
            assert len(seen["web/c2"]) <= removed_runs + 1
            # the changed check runs on its new interval, one interval after its last
            # planned run (at most one new interval from the update)
            assert changed_next is not None and at <= changed_next <= at + 0.3 + 1e-6
            assert sum(1 for t in seen["web/c1"] if t > at) >= 2
            assert len(sched.jobs) == N
            # the removed check's series are gone (its last result is not shown as current)
            reg = sched.metrics.registry
            labels = {"service": "web", "site": "dc1", "vantage": "central", "type": "tcp"}
            assert reg.get_sample_value("threenines_check_up", {**labels, "check": "c2"}) is None
            assert reg.get_sample_value("threenines_check_up", {**labels, "check": "new"}) == 1
        finally:
            await sched.stop(1.0)
            await task


async def test_reload_refuses_an_invalid_file_and_keeps_running(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    body = f"""
storage: {{url: "sqlite:///{tmp_path}/r.db", spool: "{tmp_path}/spool.db"}}
sites: [{{name: dc1, kind: datacentre}}]
services:
  - name: web
    site: dc1
    checks:
      - {{name: a, type: tcp, host: 127.0.0.1, port: 9, interval: 10s}}
"""
    cfg_file.write_text(body)
    ctx = build_context(COMPOSITION.load_config(cfg_file), config_path=cfg_file)
    assert ctx.reloader is not None
    running = ctx.config
    (job,) = ctx.scheduler.jobs
    ctx.metrics.observe(job.labels, ProbeResult.make(Status.UP, 0.01, None, "ok"))
    cfg_file.write_text(body + "      - {name: b, type: tcp, host: 127.0.0.1, port: 70000}\n")
    outcome = await ctx.reloader.reload("test")
    assert outcome.result == "refused"
    assert outcome.problems == [PROBLEM.format(file=cfg_file)]
    assert ctx.config is running  # the old config kept, nothing applied
    # a held section changed with a valid one: the rest applied, the held part said why
    cfg_file.write_text(body.replace("sqlite:///", "sqlite:////tmp/../")
                        + "      - {name: b, type: tcp, host: 127.0.0.1, port: 7}\n")  # fmt: skip
    outcome = await ctx.reloader.reload("test")
    assert outcome.result == "partial"
    assert list(outcome.not_applied) == ["storage"]
    assert "opened at start-up" in outcome.not_applied["storage"]
    assert outcome.checks.added == ("web/b",)
    assert ctx.config.storage == running.storage
    assert [j.check_id for j in ctx.scheduler.jobs] == ["web/a", "web/b"]
    # the new check's series are declared; the running one's state is not reset to unknown
    labels = {"service": "web", "site": "dc1", "vantage": "central", "type": "tcp"}
    state = "threenines_check_state"
    reg = ctx.metrics.registry
    assert reg.get_sample_value(state, {**labels, "check": "a", "state": "up"}) == 1
    assert reg.get_sample_value(state, {**labels, "check": "b", "state": "unknown"}) == 1
    # the reloads are counted by result
    reg = ctx.metrics.registry
    for result, n in (("refused", 1), ("partial", 1), ("applied", 0)):
        got = reg.get_sample_value("threenines_config_reloads_total", {"result": result})
        assert got == n
    ctx.engine.dispose()


async def test_a_partial_reload_that_would_not_hold_together_is_refused(tmp_path: Path) -> None:
    """The new file renames this node (``server``, held) and gives a check to the new name:
    valid on its own, but with ``server`` kept as running the check names an unknown vantage."""
    cfg_file = tmp_path / "c.yaml"
    body = f"""
storage: {{url: "sqlite:///{tmp_path}/r.db", spool: "{tmp_path}/spool.db"}}
sites: [{{name: dc1, kind: datacentre}}]
services:
  - name: web
    site: dc1
    checks:
      - {{name: a, type: tcp, host: 127.0.0.1, port: 9, interval: 10s}}
"""
    cfg_file.write_text(body)
    ctx = build_context(COMPOSITION.load_config(cfg_file), config_path=cfg_file)
    assert ctx.reloader is not None
    running = ctx.config
    cfg_file.write_text(body.replace("interval: 10s}", "interval: 10s, vantage: [node2]}")
                        + "server: {vantage: node2}\n")  # fmt: skip
    outcome = await ctx.reloader.reload("test")
    assert outcome.result == "refused"
    assert outcome.problems == [
        f"{cfg_file} services[0].checks[0].vantage[0]: unknown vantage point 'node2' (with server "
        "kept as running: a restart is needed)"
    ]
    assert ctx.config is running
    ctx.engine.dispose()


def test_the_readme_names_every_held_part() -> None:
    """The README's list of what a reload holds comes from the code: every held part is in it."""
    from threenines.core.reload import held_parts

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Reloading the config") :]
    section = section[: section.index("\n## ")]
    root = COMPOSITION.config_model()
    for part in held_parts(COMPOSITION):
        assert f"`{part}`" in section, part
        value: object = root  # and each names a part the config has (no typo holds nothing)
        for name in part.split("."):
            assert name in type(value).model_fields, part  # type: ignore[attr-defined]
            value = getattr(value, name)
