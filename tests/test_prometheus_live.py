"""threenines under a real Prometheus: a short ``threenines run`` (an HTTP server, a closed port
and a real snmpd on loopback, a failover plan), its /metrics checked by ``promtool check
metrics`` and named ``threenines_*``, then scraped by a real ``prometheus`` on loopback (a
short-lived TSDB in tmp) with the generated SLO rules loaded, and every query of the Grafana
dashboard evaluated against what it recorded: each must return at least one series.

promtool and prometheus come from Debian's ``prometheus`` package, snmpd from ``snmpd``.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import require_command

from threenines.app.grafana import dashboard, queries
from threenines.app.metrics_doc import metrics_markdown, readme_block

# one live estate for the module: under xdist its tests stay on one worker (the set-up is ~20 s)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prometheus_live")]
SNMP_DIR = Path(__file__).resolve().parent / "snmp"
# prometheus_client's own collectors; none is on threenines' registry today, but they are the
# only names allowed without the prefix
FOREIGN = ("process_", "python_")
SUBSTITUTE = {"$__rate_interval": "1m", "$__range": "5m", "$site": ".*", "$service": ".*"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond: Any, limit: float, what: str) -> None:
    for _ in range(int(limit / 0.2)):
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {limit} s")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running threenines and a Prometheus scraping it (with the generated rules)."""
    require_command("promtool", "prometheus", "snmpd")
    sys.path.insert(0, str(SNMP_DIR))
    from snmpd_lab import COMMUNITY, Snmpd

    tmp = tmp_path_factory.mktemp("prom")
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    snmpd = Snmpd(tmp / "snmpd").start()
    listen, prom_port = _port(), _port()
    cfg = tmp / "t.yaml"
    cfg.write_text(f"""
organisation: Test Council
storage: {{url: "sqlite:///{tmp}/t.db", flush_interval: 100ms, spool: {tmp}/spool.jsonl}}
server: {{listen: "127.0.0.1:{listen}"}}
sites:
  - {{name: dc1, kind: datacentre}}
  - {{name: dc2, kind: datacentre}}
services:
  - name: portal
    site: dc1
    checks:
      - {{name: home, type: http, url: "http://127.0.0.1:{web.server_port}/", interval: 500ms}}
  - name: payments
    site: dc2
    availability_target: 99.5
    checks: [{{name: api, type: tcp, host: 127.0.0.1, port: {_port()}, interval: 500ms}}]
snmp:
  credentials: {{lab: {{version: v2c, community: {COMMUNITY}}}}}
  devices:
    - {{name: core-sw, address: 127.0.0.1, port: {snmpd.port}, site: dc1, auth: lab, interval: 1s,
       uplinks: [lo]}}
failover:
  project_dir: {tmp}
  data_dir: {tmp}/failover
  plans:
    - name: dc1-to-dc2
      primary: dc1
      mirror: dc2
      trigger: {{services: [portal], quorum: 1}}
      guards: {{mode: "off"}}
      playbook: {{path: none.yml}}
      failback: {{path: none.yml}}
""")
    rules = tmp / "rules.yml"
    exe = str(Path(sys.executable).parent / "threenines")
    gen = subprocess.run([exe, "rules", "prometheus", "-c", str(cfg), "-o", str(rules)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    (tmp / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
scrape_configs:
  - job_name: threenines
    static_configs: [{{targets: ["127.0.0.1:{listen}"]}}]
""")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        log = open(tmp / "threenines.log", "wb")
        run = [exe, "run", "-c", str(cfg)]
        procs.append(subprocess.Popen(run, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))  # fmt: skip
        metrics = f"http://127.0.0.1:{listen}/metrics"

        def counted() -> bool:
            try:
                text = httpx.get(metrics, timeout=2).text
            except httpx.HTTPError:
                return False
            return bool(re.search(r'^threenines_service_counted_seconds_total\{service="portal"'
                                  r'.*\} [1-9]', text, re.M))  # fmt: skip

        plog = open(tmp / "prometheus.log", "wb")
        procs.append(subprocess.Popen(
            ["prometheus", f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
             "--storage.tsdb.retention.time=1h"],
            stdout=plog, stderr=subprocess.STDOUT, start_new_session=True,
        ))  # fmt: skip
        _wait(counted, 40, "SLO counters with counted time")
        from threenines.core.db import make_engine
        from threenines.failover.ledger import Ledger
        from threenines.failover.store import failover_runs

        engine = make_engine(f"sqlite:///{tmp}/t.db")
        try:  # a finished (rehearsed by hand) run, as the orchestrator records one
            ledger = Ledger(engine, "test")
            run = ledger.create_run(time.time() - 60, "dc1-to-dc2", "failover", trigger="manual")
            ledger.update_run(run, state="succeeded", finished=time.time() - 30)
            assert failover_runs is not None
        finally:
            engine.dispose()
        yield {"metrics": metrics, "prom": f"http://127.0.0.1:{prom_port}", "tmp": tmp}
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(5)
        snmpd.stop()
        web.shutdown()
        sys.path.remove(str(SNMP_DIR))


def test_metrics_pass_promtool_and_are_all_threenines(estate: dict[str, Any]) -> None:
    text = httpx.get(estate["metrics"], timeout=5).text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert len(names) > 40
    stray = sorted(
        n for n in names if not n.startswith("threenines_") and not n.startswith(FOREIGN)
    )
    assert stray == []
    for blackbox in ("probe_success", "probe_duration_seconds"):
        assert not re.search(rf"^{blackbox}\b", text, re.M)
    assert "NaN" not in text
    # the families the dashboard and the rules stand on are all here
    for name in ("threenines_check_up", "threenines_service_counted_seconds_total",
                 "threenines_snmp_if_oper_up", "threenines_failover_plan_info"):  # fmt: skip
        assert f"\n{name}{{" in text, name


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


def test_every_dashboard_query_returns_series(estate: dict[str, Any]) -> None:
    prom = estate["prom"]

    def rules_evaluated() -> bool:
        try:
            return bool(_query(prom, 'threenines:slo_burn_rate:rate5m{service="portal"}'))
        except (httpx.HTTPError, AssertionError, ValueError):
            return False

    _wait(rules_evaluated, 30, "burn-rate recording rule evaluated by Prometheus")
    empty = []
    for title, expr in queries():
        for var, value in SUBSTITUTE.items():
            expr = expr.replace(var, value)
        if not _query(prom, expr):
            empty.append(f"{title}: {expr}")
    assert empty == []
    # the burn rates agree with the run: payments' closed port burns, the portal does not
    burn = {r["metric"]["service"]: float(r["value"][1])
            for r in _query(prom, "threenines:slo_burn_rate:rate5m")}  # fmt: skip
    assert burn["portal"] == 0 and burn["payments"] > 14.4


def test_dashboard_json_model() -> None:
    doc = dashboard()
    panels = [p for p in doc["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    rows = [p["title"] for p in doc["panels"] if p["type"] == "row"]
    assert rows == ["Estate", "Data centres", "Services", "Probe phases", "SNMP uplinks",
                    "Alerts", "Failover"]  # fmt: skip
    assert all(t["expr"] and t["refId"] for p in panels for t in p["targets"])
    json.dumps(doc)  # serialisable as is


def test_readme_lists_the_metrics_the_server_exposes(estate: dict[str, Any]) -> None:
    text = httpx.get(estate["metrics"], timeout=5).text
    want = metrics_markdown(text)
    readme = Path(__file__).resolve().parents[1] / "README.md"
    have = readme_block(readme.read_text())
    if have != want:
        (estate["tmp"] / "metrics.md").write_text(want)
    assert have == want, (
        "README's metrics table is not what the server exposes: regenerate it with "
        "`python -m threenines.app.metrics_doc http://127.0.0.1:9339/metrics` "
        f"(this run's is in {estate['tmp'] / 'metrics.md'})"
    )
