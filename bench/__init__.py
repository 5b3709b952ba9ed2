"""Benchmarks: one module per area (``python -m bench.<area>``); ``python -m bench`` runs all."""
