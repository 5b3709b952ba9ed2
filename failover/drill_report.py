"""The drill report a DR lead signs: objectives, scenario, participants, the runs (with the
tasks check mode would change), each stage once in the configured time zone, what went wrong,
a comparison with the plan's previous drill, and sign-off fields.

HTML is self-contained (no external assets); the PDF is rendered from it with WeasyPrint, as
the board report does. ``render_html`` is pure (the drill row, its marks, ``DrillFacts`` and the
zone in); ``render_drill`` gathers the facts from the store and renders.

Rules the report states: a figure that cannot exist is "not applicable", never "not
measured" (a tabletop injects no fault, so it has no RTO; a plan without replication has no
RPO); the SLA-exclusion sentence appears only when a fault was injected and a drill period
was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import Any

import sqlalchemy as sa

from threenines.failover.drill_facts import SIGN_ROLES, DrillFacts, RunFacts, gather
from threenines.failover.timeline import MARKS, Mark

CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;color:#222;margin:24px;font-size:12px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:4px 6px;
text-align:left} .met{color:#1a7f37;font-weight:bold} .missed{color:#c62828;font-weight:bold}
.none{color:#777} .muted{color:#666} .problem{color:#c62828} .na{color:#555;font-style:italic}
.sign td{height:34px;border-bottom:1px solid #999} .sign th{width:22%}
"""
SCENARIO_TEXT = {
    "dc-cut": "A real fault: the primary data centre's links were cut, detection and the "
    "failover decision were left to the running system, then the fault was cleared and "
    "users were failed back.",
    "service-stop": "A real fault: the service was stopped at the primary data centre, "
    "detection and the failover decision were left to the running system, then it was "
    "started again and users were failed back.",
    "tabletop": "No fault was injected. The failover and failback playbooks ran in check "
    "mode: Ansible reported what each task would change and changed nothing.",
}
NOT_APPLICABLE = "not applicable"
VERDICTS: dict[Any, tuple[str, str]] = {
    None: ("none", "not measured"),
    True: ("met", "met"),
    False: ("missed", "missed"),
    NOT_APPLICABLE: ("na", NOT_APPLICABLE),
}


def _time(ts: float, tz: tzinfo = UTC) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def stages(marks: Sequence[Mark]) -> list[Mark]:
    """Each stage once: its first mark, the other marks' distinct messages joined to it."""
    out: dict[str, Mark] = {}
    for m in sorted(marks, key=lambda m: m.ts):
        seen = out.get(m.kind)
        if seen is None:
            out[m.kind] = m
        elif m.message and m.message not in seen.message:
            out[m.kind] = Mark(seen.ts, seen.kind, f"{seen.message}; {m.message}", seen.details)
    return sorted(out.values(), key=lambda m: m.ts)


def timeline_svg(marks: Sequence[Mark], width: int = 720) -> str:
    """Marks on a horizontal time axis, one labelled row each (seconds since the first mark)."""
    shown = [m for m in stages(marks) if m.kind in MARKS]
    if not shown:
        return "<p class='muted'>No timeline marks were recorded.</p>"
    t0 = min(m.ts for m in shown)
    span = max(max(m.ts for m in shown) - t0, 1.0)
    left, right, row = 250, 20, 22
    plot = width - left - right
    height = 40 + row * len(shown)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Drill timeline">'
    ]
    for i in range(5):  # grid and axis labels
        x = left + plot * i / 4
        out.append(f'<line x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{height - 20}" stroke="#eee"/>')
        out.append(
            f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" '
            f'fill="#666">+{span * i / 4:.1f}s</text>'
        )
    for i, m in enumerate(sorted(shown, key=lambda m: m.ts)):
        y = 22 + row * i
        x = left + plot * (m.ts - t0) / span
        colour = "#c62828" if m.kind in ("fault_injected", "first_failed_probe") else "#1565c0"
        if m.kind == "all_journeys_green":
            colour = "#1a7f37"
        out.append(
            f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end">'
            f"{escape(MARKS[m.kind])}</text>"
        )
        out.append(f'<line x1="{left}" y1="{y}" x2="{x:.1f}" y2="{y}" stroke="#ccc"/>')
        out.append(f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="{colour}"/>')
        out.append(
            f'<text x="{min(x + 8, width - 60):.1f}" y="{y + 4}" font-size="10" fill="#444">'
            f"+{m.ts - t0:.1f}s</text>"
        )
    out.append("</svg>")
    return "".join(out)


def objectives(drill: Mapping[str, Any], facts: DrillFacts) -> list[dict[str, Any]]:
    """The stored objectives, with "not applicable" where the figure cannot exist."""
    out = []
    fault = _fault_injected(drill)
    replication = facts.plan is not None and facts.plan.preflight.replication_lag is not None
    for o in (drill.get("summary") or {}).get("objectives") or []:
        o = dict(o)
        if o["name"].startswith("RTO") and not fault:
            o.update(measured=f"{NOT_APPLICABLE}: no fault was injected", met=NOT_APPLICABLE)
        elif o["name"].startswith("RPO") and facts.plan is not None and not replication:
            o.update(measured=f"{NOT_APPLICABLE}: the plan has no replication", met=NOT_APPLICABLE)
        out.append(o)
    return out


def _fault_injected(drill: Mapping[str, Any]) -> bool:
    return drill.get("scenario") != "tabletop" and bool(drill.get("_fault"))


def _objective_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for o in rows:
        met = o.get("met")
        cls, word = VERDICTS[met]
        cells = (o["name"], o["target"], o["measured"])
        out.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells)
                   + f"<td class='{cls}'>{word}</td></tr>")  # fmt: skip
    return "".join(out)


def _runs(runs: Sequence[RunFacts], tz: tzinfo) -> str:
    if not runs:
        return "<p class='muted'>No failover or failback run was recorded for this drill.</p>"
    rows = []
    for r in runs:
        mode = "check mode (nothing changed)" if r.check_mode else "real"
        verb = "would change" if r.check_mode else "changed"
        tasks = ("".join(f"<li>{escape(t)}</li>" for t in r.changed_tasks)
                 or f"<li class='muted'>no task {verb} anything</li>")  # fmt: skip
        rows.append(f"<tr><td>{r.id}</td><td>{escape(r.kind)}</td><td>{escape(r.trigger)}</td>"
                    f"<td>{mode}</td><td>{escape(r.state)}</td><td>{_time(r.started, tz)}</td>"
                    f"<td>tasks that {verb}:<ul>{tasks}</ul></td></tr>")  # fmt: skip
    return ("<table><tr><th>Run</th><th>Kind</th><th>Trigger</th><th>Mode</th><th>State</th>"
            f"<th>Started</th><th>Tasks</th></tr>{''.join(rows)}</table>")  # fmt: skip


def _figure(v: Any) -> str:
    return "—" if v is None else f"{v:.1f}s"


def _compare(drill: Mapping[str, Any], prev: Mapping[str, Any] | None, tz: tzinfo) -> str:
    if prev is None:
        return "<p class='muted'>This is the plan's first recorded drill.</p>"
    now, before = drill.get("summary") or {}, prev.get("summary") or {}
    rows = "".join(
        f"<tr><td>{label}</td><td>{_figure(before.get(key))}</td><td>{_figure(now.get(key))}</td></tr>"
        for label, key in (("RTO", "rto"), ("Detection", "detection"), ("RPO (lag)", "rpo"))
    )  # fmt: skip
    return (f"<p>Previous drill of this plan: {prev['id']} ({escape(prev['scenario'])}, "
            f"{_time(prev['started'], tz)}, {escape(prev['state'])}).</p><table><tr><th>Figure"
            f"</th><th>Drill {prev['id']}</th><th>This drill</th></tr>{rows}</table>")  # fmt: skip


def _exclusion(drill: Mapping[str, Any], facts: DrillFacts, tz: tzinfo) -> str:
    if not _fault_injected(drill):
        return "No fault was injected, so no time is excluded from the SLA figures."
    if facts.excluded is None:
        return "No drill period was recorded: no time is excluded from the SLA figures."
    a, b = facts.excluded
    return (f"The drill period, {_time(a, tz)} to {_time(b, tz)}, is tagged as a drill and "
            "excluded from the SLA figures.")  # fmt: skip


def _period_history(facts: DrillFacts, tz: tzinfo) -> str:
    """The drill period's records as stored (append-only): who made each, when and why."""
    if not facts.period_records:
        return ""
    verbs = {"add": "added", "change": "changed", "remove": "removed"}
    rows = "".join(
        f"<tr class='record'><td>{r.id}</td><td>{verbs.get(r.action, r.action)} by "
        f"{escape(r.created_by or 'unknown')}</td><td>{_time(r.created_at, tz)}</td>"
        f"<td>{_time(r.window.start, tz)} to {_time(r.window.end, tz)}</td>"
        f"<td>{escape(r.window.reason)}</td></tr>"
        for r in facts.period_records
    )
    return ("<h2>Exclusion records</h2><p class='muted'>The drill period as recorded: records "
            "are only added, never changed; the last one is in effect.</p><table><tr><th>Record"
            "</th><th>Action</th><th>Recorded</th><th>Period</th><th>Why</th></tr>"
            f"{rows}</table>")  # fmt: skip


def _signoffs(facts: DrillFacts, tz: tzinfo) -> str:
    """One line per role: the name, note and date signed, or empty to sign on paper."""
    done = {s.role: s for s in facts.signoffs}
    out = []
    for role in SIGN_ROLES:
        s = done.get(role)
        if s is None:
            out.append(f"<tr><th>{role}</th><td></td><td></td><td></td></tr>")
        else:
            out.append(f"<tr><th>{role}</th><td>{escape(s.name)}</td><td>{escape(s.note)}</td>"
                       f"<td>{_time(s.signed_at, tz)}</td></tr>")  # fmt: skip
    return "".join(out)


def render_html(
    drill: Mapping[str, Any],
    marks: Sequence[Mark],
    organisation: str = "",
    facts: DrillFacts | None = None,
    tz: tzinfo = UTC,
) -> str:
    facts = facts or DrillFacts(plan=None)
    drill = {**drill, "_fault": any(m.kind == "fault_injected" for m in marks)}
    summary = drill.get("summary") or {}
    problems = summary.get("problems") or []
    took = (drill["finished"] - drill["started"]) if drill.get("finished") else None
    shown = stages(marks)
    marks_rows = "".join(
        f"<tr><td>{_time(m.ts, tz)}</td><td>{escape(MARKS.get(m.kind, m.kind))}</td>"
        f"<td>{escape(m.message)}</td></tr>"
        for m in shown
    )
    problem_list = "".join(f"<li class='problem'>{escape(p)}</li>" for p in problems) or (
        "<li>No problem was recorded.</li>")  # fmt: skip
    plan = facts.plan
    about = escape(plan.description) if plan is not None and plan.description else ""
    where = f"{escape(plan.primary)} to {escape(plan.mirror)}" if plan is not None else ""
    people = ", ".join(escape(p) for p in facts.participants) or escape(drill["actor"])
    sign = _signoffs(facts, tz)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>DR drill {drill["id"]}: {escape(drill["plan"])}</title><style>{CSS}</style></head><body>
<h1>DR drill {drill["id"]}: {escape(drill["plan"])} ({escape(drill["scenario"])})</h1>
<p class="muted">{escape(organisation)} &middot; started {_time(drill["started"], tz)} by
{escape(drill["actor"])} &middot; {f"took {took:.0f}s" if took is not None else "unfinished"}
&middot; outcome: <b>{escape(drill["state"])}</b>. {_exclusion(drill, facts, tz)}</p>
{_period_history(facts, tz)}
<h2>Scenario</h2><p>{escape(SCENARIO_TEXT.get(drill["scenario"], drill["scenario"]))}
{f"Failover from {where}." if where else ""} {about}</p>
<p>Participants: {people}.</p>
<h2>Objectives</h2>
<table><tr><th>Objective</th><th>Target</th><th>Measured</th><th></th></tr>
{_objective_rows(objectives(drill, facts))}</table>
<h2>Runs</h2>
{_runs(facts.runs, tz)}
<h2>Timeline</h2>
{timeline_svg(shown)}
<table><tr><th>Time</th><th>Stage</th><th>Detail</th></tr>{marks_rows}</table>
<h2>What went wrong</h2><ul>{problem_list}</ul>
<h2>Compared with the previous drill</h2>
{_compare(drill, facts.previous, tz)}
<h2>Sign-off</h2>
<table class="sign"><tr><th>Role</th><th>Name</th><th>Signature or note</th><th>Date</th></tr>
{sign}</table>
</body></html>
"""


def render_drill(engine: sa.Engine, cfg: Any, drill: Mapping[str, Any]) -> str:
    """The report of stored ``drill``: its marks and facts from the store, in ``cfg``'s zone."""
    from threenines.failover.config import failover_config
    from threenines.failover.drill import load_marks

    facts = gather(engine, failover_config(cfg).plans, drill)
    marks = load_marks(engine, int(drill["id"]))
    return render_html(drill, marks, cfg.organisation, facts, cfg.tz)


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    pdf = HTML(string=html).write_pdf(pdf_tags=True)
    assert pdf is not None
    return bytes(pdf)
