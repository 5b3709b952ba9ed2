"""Failover to the mirror with Ansible, and DR drills that measure it.

Data flow: state intervals (store) -> ``quorum``/``decide`` (pure) -> ``orchestrator`` (approval,
lease, ``runner`` = ansible-runner, verification, events + audit) -> alerts consume the events.
``extension`` runs the orchestrator's loop inside ``threenines run``; the CLI (``threenines
failover``, ``threenines drill``) and the API (``/api/v1/failover``) act on the same store.
"""
