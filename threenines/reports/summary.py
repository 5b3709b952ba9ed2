"""The board report's first words: a plain-English summary generated from its figures.

``summarise`` is pure (a ``BoardReport`` in, sentences out) and says, in this order: target
met or missed and by how much, the data centres, the biggest incidents and their causes, the
error budget left, the change since the previous period, the DR drills, and any restatement.
Figures are the same strings every page shows (``availability.display``).
"""

from __future__ import annotations

from threenines.availability.display import percent, shown_percent
from threenines.core.durations import format_duration
from threenines.reports.board import BoardReport, IncidentRow, Row

TOP_INCIDENTS = 3


def _dur(seconds: float) -> str:
    return format_duration(round(abs(seconds))) if round(abs(seconds)) else "0s"


def _pct(row: Row) -> str:
    return percent(row.availability, unit=" %", target=row.target, met=row.met)


def _verdict(r: BoardReport) -> list[str]:
    o = r.overall
    n = len(r.services)
    if o.met is None:
        return [f"No measurements were counted for {r.period}: no availability figure can be "
                f"given (time without data: {_dur(o.nodata)})."]  # fmt: skip
    who = r.organisation if r.scope == "estate" else f"Site {r.scope}"
    period = f"{r.period} so far" if r.generated_at < r.end else r.period  # still running
    if o.met:
        head = (f"{who} met its {r.target:g} % availability target for {period}: "
                f"{_pct(o)} across {n} service{'s' * (n != 1)}.")  # fmt: skip
    else:
        head = (f"{who} missed its {r.target:g} % availability target for {period}: "
                f"{_pct(o)} across {n} service{'s' * (n != 1)}, with {_dur(o.budget_used)} of "
                f"downtime, {_dur(-o.budget_remaining)} more than the error budget of "
                f"{_dur(o.budget_allowed)} allows.")  # fmt: skip
    missed = sorted(s.name for s in r.services if s.met is False)
    if missed:
        shown = ", ".join(missed[:8]) + (f" and {len(missed) - 8} more" if len(missed) > 8 else "")
        head += f" {len(missed)} of {n} services missed the target: {shown}."
    return [head]


def _sites(r: BoardReport) -> list[str]:
    dcs = [s for s in r.sites if s.kind == "datacentre"]
    if not dcs:
        return []
    verdict = {True: "met", False: "missed", None: "no data"}
    parts = [f"{s.name} {_pct(s)} ({verdict[s.met]})" for s in dcs]
    return ["Data centres: " + "; ".join(parts) + "."]


def _incident(i: IncidentRow) -> str:
    when = i.start_local.rsplit(" ", 1)[0]
    affected = ", ".join(i.affected[:4]) + (" ..." if len(i.affected) > 4 else "")
    state = "still ongoing" if i.ongoing else _dur(i.duration)
    return f"{when}, {state}: {i.cause} (affecting {affected})"


def _incidents(r: BoardReport) -> list[str]:
    if not r.incidents:
        return ["There were no incidents."] if r.overall.met is not None else []
    top = sorted(r.incidents, key=lambda i: -i.duration * len(i.affected))[:TOP_INCIDENTS]
    mttr = f" Mean time to recover: {_dur(r.overall.mttr)}." if r.overall.mttr else ""
    n = len(r.incidents)
    head = f"There {'was' if n == 1 else 'were'} {n} incident{'s' * (n != 1)}."
    return [f"{head} The biggest: " + "; ".join(_incident(i) for i in top) + "." + mttr]


def _budget(r: BoardReport) -> list[str]:
    o = r.overall
    if o.met is None or o.budget_allowed <= 0:
        return []
    if o.budget_remaining >= 0:
        share = int(o.budget_remaining / o.budget_allowed * 100)
        return [f"Error budget left: {_dur(o.budget_remaining)} of {_dur(o.budget_allowed)} "
                f"({share} %)."]  # fmt: skip
    return [f"The error budget is overspent by {_dur(-o.budget_remaining)}."]


def _change(r: BoardReport) -> list[str]:
    o = r.overall
    if o.met is None or not o.trend:
        return []
    label, before = o.trend[-1]
    if before is None:
        return [f"There is no figure for {label} to compare with."]
    assert o.availability is not None
    now = shown_percent(o.availability, target=o.target, met=o.met)
    delta = now - shown_percent(before)
    if delta == 0:
        return [f"Unchanged from {label} ({percent(before, unit=' %')})."]
    way = "Up" if delta > 0 else "Down"
    return [f"{way} {abs(delta)} points from {label} ({percent(before, unit=' %')})."]


def _drills(r: BoardReport) -> list[str]:
    if not r.drills:
        return ["No DR drills ran in this period."]
    parts = [f"drill {d['id']} of {d['plan']} ({d['scenario']}): {', '.join(d['objectives'])}; "
             f"{d['outcome']}" for d in r.drills]  # fmt: skip
    n = len(r.drills)
    return [f"{n} DR drill{'s' * (n != 1)} ran: " + " | ".join(parts) + "."]


def _restated(r: BoardReport) -> list[str]:
    if not r.restatements:
        return []
    issues = sorted({x["issue"] for x in r.restatements})
    return [f"Figures of {len(issues)} earlier issued report{'s' * (len(issues) != 1)} "
            f"({', '.join(issues)}) changed after issue: see Restatements."]  # fmt: skip


def summarise(r: BoardReport) -> list[str]:
    """Sentences for the first page, from the report's own figures."""
    out = _verdict(r) + _sites(r) + _incidents(r) + _budget(r) + _change(r)
    return out + _drills(r) + _restated(r)
