"""Alerts: from confirmed conditions, flips and events to the right people, once.

Data flow: ``compose`` (flips -> service conditions, until the availability engine's quorum is
wired) -> ``policy.decide`` (pure: lifecycle, flapping, grouping and dependencies, silences and
maintenance, escalation and reminders) -> ``service.AlertService`` persists incidents and
rendered notifications (``render``) in one transaction -> ``outbox`` claims and delivers each
(notification, receiver) through ``deliver`` (Apprise, off the event loop), with retries.
"""
