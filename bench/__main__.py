"""Run every benchmark module in this package (``make bench``), one after another.

A module is any ``bench/<name>.py`` not starting with ``_`` that defines ``main(argv)`` or
``main()``; each runs with its own defaults. A failing benchmark is reported and the others
still run; the exit status is 1 if any failed.

``python -m bench --quick`` (``make bench-quick``): the before/after of a change in under three
minutes: the fair probe sweep beside blackbox_exporter with short windows
(``bench.probes --quick``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import time
import traceback
from pathlib import Path

QUICK = [("probes", ["--quick"])]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--quick"]:
        return max(_run(f"bench.{name}", args) for name, args in QUICK)
    if argv:
        print("usage: python -m bench [--quick]", file=sys.stderr)
        return 2
    failed = []
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )  # fmt: skip
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        start = time.monotonic()
        try:
            run = importlib.import_module(f"bench.{name}").main
            # modules take ``main(argv)`` or ``main()``; an int result is an exit code
            code = run([]) if inspect.signature(run).parameters else run()
            if isinstance(code, int) and code != 0:
                failed.append(name)
        except (Exception, SystemExit):
            traceback.print_exc()
            failed.append(name)
        print(f"(bench.{name}: {time.monotonic() - start:.0f}s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run(module: str, args: list[str]) -> int:
    start = time.monotonic()
    print(f"\n=== {module} {' '.join(args)} ===", flush=True)
    code = importlib.import_module(module).main(args)
    print(f"({module}: {time.monotonic() - start:.0f}s)", flush=True)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
