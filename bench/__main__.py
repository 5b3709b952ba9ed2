"""Run every benchmark module in this package (``make bench``), one after another.

A module is any ``bench/<name>.py`` not starting with ``_`` that defines ``main()``; each runs
with its own defaults. A failing benchmark is reported and the others still run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def main() -> int:
    failed = []
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )  # fmt: skip
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "main", None)
        if run is None:
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        start = time.monotonic()
        try:
            run([])
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"(bench.{name}: {time.monotonic() - start:.0f}s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
