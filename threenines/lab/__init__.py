"""A miniature council estate on one Linux machine: network namespaces, veth links, real servers.

Python API (used by ``threenines lab``, the demo and the lab tests)::

    from threenines import lab
    lab.up()                                   # idempotent; needs root
    lab.run_in("lib-grays", ["ping", "-c1", "198.18.30.10"])
    f = lab.fault_add("loss", "lib-grays", "30%")
    lab.fault_clear(f.id)                      # or lab.fault_clear() for all
    lab.spawn("lib-grays", "agent", [...])     # a long-running process in a site namespace
    lab.down()                                 # removes every tn-* namespace, link and process
    with lab.session(): ...                    # exclusive use (tests, demo): up, then down

Addresses and names live in ``lab.topology`` (``ESTATE``, ``site_addresses``...). Only addresses in
198.18.0.0/16 are created, and the host reaches them through ``tn-host``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy: the composition root imports ``threenines.lab.area`` for every command, and the
    # lab's machinery (namespaces, processes) must load only when the lab is used.
    if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        raise AttributeError(name)  # a submodule: the import system loads it itself
    control = importlib.import_module("threenines.lab.control")
    try:
        return getattr(control, name)
    except AttributeError:
        raise AttributeError(f"module 'threenines.lab' has no attribute {name!r}") from None
