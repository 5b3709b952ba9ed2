"""Synthetic probes: one module per kind, one registry (``PROBES``, in ``registry``).

Light on purpose: the CLI imports ``threenines.probes.cli`` for ``--help``, which must not load
every probe's libraries. ``from threenines.probes import PROBES`` loads the registry.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "PROBES":
        from threenines.probes.registry import PROBES

        return PROBES
    raise AttributeError(f"module 'threenines.probes' has no attribute {name!r}")
