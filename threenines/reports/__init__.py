"""Availability reports for the Digital Board: data (``board``), renderers, delivery hook.

Data flow: store -> ``data.load_estate`` -> ``availability.Estate`` -> ``board.build`` ->
``html`` / ``tabular`` renderers -> ``deliver.render_report`` (bytes and a filename, for the
CLI, scheduled jobs and email delivery).
"""
