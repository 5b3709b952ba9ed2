"""How long ``threenines validate`` takes on the largest configurations (goal: under 2 s).

    python -m bench.validate [--checks 10000] [--devices 2000] [--routes 500] [--runs 3]

The generated estate is a large council's at its limits: ``--checks`` checks (tcp, http, dns) in
services of 10 across 100 sites, each site and service needing SNMP devices and uplinks from
``--devices`` devices, alert routes in one long escalation chain, agents at half the sites. Each
run is the real console script in a fresh process (start-up, YAML, models, every area's
cross-checks, the summary), as an operator or CI runs it; the best and the median are printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("threenines")


def config_text(checks: int, devices: int, routes: int) -> str:
    sites = 100
    out = ["organisation: Bench Borough Council", "timezone: Europe/London", "sites:"]
    out.append("  - {name: dc-main, kind: datacentre}")
    for s in range(sites):
        d = s % devices
        out.append(f'  - {{name: site{s}, depends_on: [wan{s}], devices: ["dev{d}/if:wan0"]}}')
    out.append("vantage_points:")
    out.append("  - {name: central, site: dc-main}")
    out += [f"  - {{name: v{s}, site: site{s}}}" for s in range(0, sites, 2)]
    out.append("services:")
    out += [f"  - {{name: wan{s}, site: site{s}, checks: [{{name: ping, type: tcp, "
            f"host: 192.0.2.{s % 250 + 1}, port: 22}}]}}" for s in range(sites)]  # fmt: skip
    n = checks - sites
    for j in range(0, n, 10):
        site, dev = (j // 10) % sites, (j // 10) % devices
        out.append(f"  - name: svc{j}")
        out.append(f"    site: site{site}")
        out.append(f"    devices: [dev{dev}, dev{(dev + 1) % devices}]")
        out.append("    checks:")
        for i in range(j, min(j + 10, n)):
            vantage = f", vantage: [central, v{site - site % 2}]"
            kind = i % 3
            if kind == 0:
                spec = f"type: tcp, host: 192.0.2.{i % 250 + 1}, port: 443"
            elif kind == 1:
                spec = f'type: http, url: "https://app{i}.example.org/health", expect_status: [200]'
            else:
                spec = f"type: dns, query: host{i}.example.org, resolver: 192.0.2.53"
            out.append(f"      - {{name: c{i}, {spec}{vantage}}}")
    out += [
        "agents: {}",
        "snmp:",
        "  credentials:",
        '    v2: {version: v2c, community: "public-bench"}',
        "  devices:",
    ]
    out += [f"    - {{name: dev{d}, address: 198.18.{d // 250}.{d % 250 + 1}, site: "
            f"site{d % sites}, auth: v2, uplinks: [wan0]}}" for d in range(devices)]  # fmt: skip
    out += ["alerts:", "  receivers:", '    - {name: ops, url: "json://127.0.0.1:9/ops"}']
    out.append("  routes:")
    for r in range(routes):
        nxt = f", escalate_after: 15m, escalate_to: r{r + 1}" if r + 1 < routes else ""
        site = f"site{r % sites}"
        out.append(f"    - {{name: r{r}, match: {{site: [{site}]}}, receivers: [ops]{nxt}}}")
    return "\n".join(out) + "\n"


def time_validate(path: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.monotonic()
        res = subprocess.run([str(SCRIPT), "validate", str(path)], capture_output=True, text=True)
        times.append(time.monotonic() - start)
        if res.returncode != 0:
            raise SystemExit(f"validate failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.validate")
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--devices", type=int, default=2_000)
    ap.add_argument("--routes", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="Also write the generated config here")
    a = ap.parse_args(argv)
    text = config_text(a.checks, a.devices, a.routes)
    if a.keep:
        a.keep.write_text(text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(text)
        times = time_validate(path, a.runs)
    print(f"validate {a.checks} checks, {a.devices} devices, {a.routes} routes "
          f"({len(text) // 1024} KiB): best {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s over {a.runs} runs (goal < 2 s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
