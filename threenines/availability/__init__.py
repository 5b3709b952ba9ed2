"""The availability engine: pure functions of state intervals, configuration and ``now``.

- ``intervals``: algebra of half-open ``[start, end)`` interval sets.
- ``state``: THE service-state rule (quorum over fresh vantage points, "quorum not reached",
  all / any / weighted, devices), at an instant and over timelines; every area that needs a
  service's state (status, alerts, failover) calls it.
- ``timeline``: per-vantage timelines from store rows (no data where unknown), the sweep that
  combines timelines, site state from components.
- ``schedule``: maintenance windows (one-off, cron) and service hours as interval sets.
- ``devices``: SNMP devices and uplinks that sites and services list (``devices:``), which
  count against them like a check that must pass, and are named as the incident's cause.
- ``accounting``: time-weighted figures, error budget, burn rate; ``RULES`` for reports.
- ``incidents``: incidents with dependency attribution, MTTR and MTBF.
- ``periods``: local-calendar periods (month, quarter, year, dates) as UTC windows.
- ``engine``: ``Estate`` ties them together for a configuration over a span.
- ``metrics``: Prometheus gauges (the one module here that reads the store).

No module here does I/O except ``metrics.update_availability_metrics``; loading from the
database is ``threenines.availability.load`` and ``threenines.availability.store``.
"""
