"""The ``threenines`` command line. Each area adds its commands in its own module here.

To add a command group: write ``threenines/cli/<area>.py`` with ``app = typer.Typer(...)`` and
add one ``app.add_typer(...)`` line below.
"""

from __future__ import annotations

import typer

from threenines.cli import agent as agent_cli
from threenines.cli import alerts as alerts_cli
from threenines.cli import availability as availability_cli
from threenines.cli import check, core, run
from threenines.cli import drill as drill_cli
from threenines.cli import failover as failover_cli
from threenines.cli import lab as lab_cli
from threenines.cli import report as report_cli
from threenines.cli import security as security_cli
from threenines.cli import snmp as snmp_cli
from threenines.cli import token as token_cli

app = typer.Typer(
    name="threenines",
    help="Measure and enforce a 99.9% availability promise.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
core.register(app)
run.register(app)
check.register(app)
# Command groups, one line each:
# app.add_typer(snmp.app, name="snmp")
app.add_typer(security_cli.app, name="security")
app.add_typer(snmp_cli.app, name="snmp")
app.add_typer(lab_cli.app, name="lab")
app.add_typer(availability_cli.app, name="availability")
app.add_typer(availability_cli.maintenance_app, name="maintenance")
app.add_typer(report_cli.app, name="report")
app.add_typer(alerts_cli.app, name="alerts")
app.add_typer(token_cli.app, name="token")
app.add_typer(agent_cli.app, name="agent")
app.add_typer(failover_cli.app, name="failover")
app.add_typer(drill_cli.app, name="drill")
