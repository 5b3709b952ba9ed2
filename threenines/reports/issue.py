"""Issued reports: immutable snapshots with their figures and a SHA-256 over each file.

``issue`` stores every file of an issued report (``report --issue`` or a scheduled send) once,
never updated: its bytes, their SHA-256, the figures it showed, who issued it and the audit
log's head at that moment (an anchor: a deleted audit row after it is still found), and adds
an audit row. ``verify_file`` tells whether a file is byte-for-byte an issued one. A scheduled
send that is retried resends the files issued the first time, not a new rendering.

Restatements: ``restatements`` recomputes the latest issue of each earlier period (as the data
and exclusions stand now) and lists every figure that moved: the old and the new figure and
the exclusion records made or approved after the issue that explain it (or, with none, the
measurements that changed since).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, Engine, Float, Index, Integer, LargeBinary, String, Table
from sqlalchemy.exc import IntegrityError

from threenines.availability import display
from threenines.availability.history import records
from threenines.availability.periods import local_text
from threenines.availability.store import drill_periods, maintenance_windows
from threenines.core import audit
from threenines.core.tables import Id, metadata
from threenines.reports.board import BoardReport, Row

report_issues = Table(
    "report_issues",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("number", Integer, nullable=False),  # 1, 2, ... per (period, scope)
    Column("period", String(32), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("format", String(8), nullable=False),
    Column("name", String(200), nullable=False),
    Column("issued_at", Float, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("figures", JSON, nullable=False),  # subject -> the figures the report showed
    Column("content", LargeBinary, nullable=False),
    Column("audit_seq", Integer, nullable=False),
    Column("audit_hash", String(64), nullable=False),
    Index(None, "period", "scope", "number", "format", unique=True),
    Index(None, "sha256"),
)
t = report_issues.c
MARKER = "threenines-issue"  # in each issued file: "threenines-issue: 2026-10 estate #2"
MAX_RACES = 20
MAX_RESTATED = 12  # earlier issued periods recomputed for a report
MOVED_S = 0.5  # a restated figure: downtime moved by more than half a second


@dataclass(frozen=True, slots=True)
class Issue:
    number: int
    period: str
    scope: str
    issued_at: float
    issued_by: str

    @property
    def label(self) -> str:
        return f"{self.period} {self.scope} #{self.number}"


def figures(report: BoardReport) -> dict[str, dict[str, Any]]:
    """What a snapshot keeps of each subject: the figure shown and the seconds behind it."""

    def one(row: Row) -> dict[str, Any]:
        return {
            "shown": display.percent(row.availability, unit="", target=row.target, met=row.met),
            "met": row.met,
            "down": row.budget_used,
            "counted": row.up + row.degraded + row.down,
            "excluded": row.maintenance + row.drill,
        }

    rows = [report.overall, *report.sites, *report.services]
    return {f"{r.kind}:{r.name}": one(r) for r in rows}


def next_issue(engine: Engine, report: BoardReport, now: float, by: str) -> Issue:
    q = sa.select(sa.func.max(t.number)).where(t.period == report.period, t.scope == report.scope)
    with engine.connect() as conn:
        last = conn.execute(q).scalar() or 0
    return Issue(int(last) + 1, report.period, report.scope, now, by)


def store(
    engine: Engine, issue: Issue, report: BoardReport, files: list[tuple[str, str, bytes]]
) -> bool:
    """Store the files (format, name, bytes) of ``issue``; False if that number was taken."""
    snap = figures(report)
    try:
        with engine.begin() as conn:
            seq, head = audit.head(conn)
            for fmt, name, data in files:
                digest = hashlib.sha256(data).hexdigest()
                conn.execute(report_issues.insert().values(
                    number=issue.number, period=issue.period, scope=issue.scope, format=fmt,
                    name=name, issued_at=issue.issued_at, issued_by=issue.issued_by,
                    sha256=digest, figures=snap, content=data, audit_seq=seq, audit_hash=head,
                ))  # fmt: skip
                audit.append(conn, ts=issue.issued_at, actor=issue.issued_by,
                             action="report_issued", subject=f"report:{issue.label}",
                             detail={"format": fmt, "name": name, "sha256": digest})  # fmt: skip
    except IntegrityError:
        return False
    return True


def issued(engine: Engine, period: str, scope: str, by: str | None = None) -> list[dict[str, Any]]:
    """The files of the latest issue of (period, scope) (by ``by`` only, if given)."""
    q = sa.select(report_issues).where(t.period == period, t.scope == scope)
    if by is not None:
        q = q.where(t.issued_by == by)
    with engine.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(q.order_by(t.number, t.format))]
    last = max((r["number"] for r in found), default=None)
    return [r for r in found if r["number"] == last]


def issue(
    engine: Engine, report: BoardReport, render: Any, name: Any, formats: list[str], now: float,
    by: str,
) -> tuple[Issue, list[tuple[str, str, bytes]]]:  # fmt: skip
    """Issue ``report`` in ``formats``: number it, render each file with its marker, store."""
    for _ in range(MAX_RACES):
        iss = next_issue(engine, report, now, by)
        report.issue = {"label": iss.label, "number": iss.number, "issued_by": by,
                        "issued_at": now, "marker": f"{MARKER}: {iss.label}"}  # fmt: skip
        files = [(fmt, name(report, fmt), render(report, fmt)) for fmt in formats]
        if store(engine, iss, report, files):
            return iss, files
    raise RuntimeError("report issue: numbering raced too often; try again")


def anchors(engine: Engine) -> list[tuple[int, str, str]]:
    """The audit heads the issued reports saw (one per issue), for ``audit verify``."""
    q = (sa.select(t.audit_seq, t.audit_hash, t.period, t.scope, t.number)
         .where(t.audit_seq > 0).distinct().order_by(t.audit_seq))  # fmt: skip
    with engine.connect() as conn:
        found = list(conn.execute(q))
    return [(int(r.audit_seq), str(r.audit_hash), f"issued report {r.period} {r.scope} #{r.number}")
            for r in found]  # fmt: skip


@dataclass(frozen=True, slots=True)
class FileCheck:
    ok: bool
    lines: tuple[str, ...]


def verify_file(engine: Engine, data: bytes, tz: Any, name: str = "the file") -> FileCheck:
    """Is ``data`` byte-for-byte an issued file, and is its audit row still in the chain? The
    verdict is one line naming ``name``: OK, or FAILED and why (for an edited copy: the issue
    it claims to be, from its marker, and where it first differs from the issued file)."""
    digest = hashlib.sha256(data).hexdigest()
    with engine.connect() as conn:
        row = conn.execute(sa.select(report_issues).where(t.sha256 == digest).limit(1)).first()
    if row is not None:
        label = f"{row.period} {row.scope} #{row.number}"
        what = (f"issued report {label} ({row.format}), issued by {row.issued_by} at "
                f"{local_text(row.issued_at, tz)}")  # fmt: skip
        logged = [r for r in audit.rows(engine, f"report:{label}", 1000)
                  if r["detail"].get("sha256") == digest]  # fmt: skip
        chain = audit.verify(engine, [(int(row.audit_seq), str(row.audit_hash), label)]
                             if row.audit_seq else [])  # fmt: skip
        broken = ""
        if not logged:
            broken = "its audit-log row is missing (deleted from the log)"
        elif not chain.ok:
            broken = f"the audit log is not intact: {'; '.join(chain.problems)}"
        if broken:
            return FileCheck(False, (f"{name}: FAILED: it is {what}, byte for byte, but {broken}",))
        return FileCheck(True, (f"{name}: OK: {what}: SHA-256 {digest} matches",))
    claim = _claim(data)
    if claim is None:
        return FileCheck(False, (f"{name}: FAILED: not an issued file: no issued report has its "
                                 f"SHA-256 {digest}, and it names no issue",))  # fmt: skip
    period, scope, number = claim
    label = f"{period} {scope} #{number}"
    fmt = _format(data)
    with engine.connect() as conn:
        orig = conn.execute(sa.select(t.format, t.sha256, t.content).where(
            t.period == period, t.scope == scope, t.number == number)).all()  # fmt: skip
    mine = next((r for r in orig if r.format == fmt), None)
    if mine is None:
        known = ", ".join(r.format for r in orig) or "none: no such issue is stored"
        why = f"that issue has no {fmt} file (its files: {known})"
    else:
        why = (f"its SHA-256 is {digest[:16]}..., the issued file's {mine.sha256[:16]}...; "
               f"{_difference(bytes(mine.content), data, fmt)}")  # fmt: skip
    return FileCheck(False, (f"{name}: FAILED: changed after it was issued: it says it is "
                             f"issued report {label} ({fmt}), but {why}",))  # fmt: skip


MAX_INFLATE = 64 << 20  # bytes of a PDF's streams inflated to find its marker


def _claim(data: bytes) -> tuple[str, str, int] | None:
    """The issue a file says it is, from its marker (a PDF keeps it in its metadata, which
    may sit in a compressed object stream)."""
    pattern = rf"{MARKER}: ([^\s\"<)]+) ([^\s\"<)]+) #(\d+)".encode()
    found = re.search(pattern, data)
    if found is None and data.startswith(b"%PDF"):
        budget = MAX_INFLATE
        for m in re.finditer(rb"stream\r?\n", data):
            if budget <= 0:
                break
            end = data.find(b"endstream", m.end())
            z = zlib.decompressobj()
            try:
                text = z.decompress(data[m.end() : end if end > 0 else None], budget)
            except zlib.error:
                continue
            budget -= len(text)
            found = re.search(pattern, text)
            if found is not None:
                break
    if found is None:
        return None
    period, scope, number = (x.decode(errors="replace") for x in found.groups())
    return period, scope, int(number)


def _format(data: bytes) -> str:
    head = data[:200].lstrip()
    if head.startswith(b"%PDF"):
        return "pdf"
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:1] == b"<":
        return "html"
    return "csv"


def _difference(issued: bytes, data: bytes, fmt: str) -> str:
    """Where ``data`` first departs from the issued file, in words."""
    if data.startswith(issued):
        extra = len(data) - len(issued)
        tail = " (an incremental update: the PDF was edited and saved)" if fmt == "pdf" else ""
        return f"{extra} bytes were appended after the issued file's end{tail}"
    at = next((i for i, (x, y) in enumerate(zip(issued, data, strict=False)) if x != y),
              min(len(issued), len(data)))  # fmt: skip
    if fmt == "pdf":
        return f"the bytes differ from byte {at} on (the issued file has {len(issued)})"
    line = issued.count(b"\n", 0, at) + 1
    start = max(issued.rfind(b"\n", 0, at) + 1, at - 30)

    def excerpt(b: bytes) -> str:
        text = b[start : at + 40].split(b"\n", 1)[0].decode("utf-8", errors="replace")
        return repr(text.strip())

    return f"first change at line {line}: issued {excerpt(issued)}, this file {excerpt(data)}"


def restatements(
    engine: Engine, recompute: Any, report: BoardReport, before: float
) -> list[dict[str, Any]]:
    """Figures of issued periods (same scope) that moved since they were issued: earlier
    periods ending by ``before`` (``recompute(period_label)`` -> that period's ``BoardReport``
    now) and ``report``'s own period when it was issued after it ended (a second issue then
    carries the restatement against the first; an issue made while the period ran showed
    figures "so far", which move as it runs)."""
    q = (sa.select(t.period, t.number, t.issued_at, t.figures)
         .where(t.scope == report.scope).order_by(t.period, t.number))  # fmt: skip
    with engine.connect() as conn:
        latest: dict[str, Any] = {}
        for r in conn.execute(q):
            latest[str(r.period)] = r
    own = latest.pop(report.period, None)
    todo = sorted(latest.items())[-MAX_RESTATED:]
    if own is not None and own.issued_at >= report.end:
        todo.append((report.period, own))
    out: list[dict[str, Any]] = []
    recs = None
    for period, r in todo:
        now = report if period == report.period else recompute(period)
        if now is None or (now is not report and now.end > before):
            continue
        new = figures(now)
        moved = [(k, old, new[k]) for k, old in r.figures.items()
                 if k in new and (old["shown"] != new[k]["shown"]
                                  or abs(old["down"] - new[k]["down"]) > MOVED_S)]  # fmt: skip
        if not moved:
            continue
        recs = recs if recs is not None else _records(engine)
        causes = [c for c in recs if c["after"] > r.issued_at
                  and c["start"] < now.end and c["end"] > now.start]  # fmt: skip
        for key, old, cur in moved:
            out.append({
                "period": period, "issue": f"{period} {report.scope} #{r.number}",
                "issued_at": r.issued_at, "subject": key.split(":", 1)[1],
                "kind": key.split(":", 1)[0], "old": old["shown"], "new": cur["shown"],
                "old_down": old["down"], "new_down": cur["down"],
                "old_met": old["met"], "new_met": cur["met"],
                "causes": [c["text"] for c in causes] or [
                    "measurements added or changed after the issue (late results; no "
                    "exclusion record explains it)"],
            })  # fmt: skip
    return out


def _records(engine: Engine) -> list[dict[str, Any]]:
    out = []
    for table, kind in ((maintenance_windows, "maintenance"), (drill_periods, "drill")):
        for rec in records(engine, table):
            when = max(rec.created_at, rec.approval.at if rec.approval else 0.0)
            text = (f"{kind} record {rec.id} ({rec.action} {rec.window.name!r}) by "
                    f"{rec.created_by}: {rec.window.reason or 'no reason given'}")  # fmt: skip
            if rec.retroactive:
                text += ", retroactive"
            if rec.approval:
                text += f", approved by {rec.approval.by}"
            out.append({"after": when, "start": rec.window.start, "end": rec.window.end,
                        "text": text})  # fmt: skip
    return out
