"""The ``alerts:`` configuration section: receivers, routes, time intervals, templates, outbox.

Routes are matched in order, first match wins unless ``continue: true`` (as in Alertmanager).
A route with ``active_during`` only matches inside those time intervals (in ``timezone``), so
an office-hours route followed by an always-on on-call route gives out-of-hours on-call.
Receiver URLs are Apprise URLs held as ``Secret`` (``${ENV}`` or ``file:``): they embed
passwords and tokens, so they are never printed, logged or serialised. Each is resolved and
given to Apprise at load, as delivery will, so a URL Apprise rejects fails before the service
starts; a problem names the URL's scheme only.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from threenines.alerts.model import Category, Severity
from threenines.core.config.base import Name, StrictModel, first_named
from threenines.core.config.secrets import Secret, is_unset
from threenines.core.durations import Duration

if TYPE_CHECKING:
    from threenines.core.config.schema import Config

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
Loc = tuple[str | int, ...]
_CRITICAL: tuple[Severity, ...] = ("critical",)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")


class Receiver(StrictModel):
    name: Name
    url: Secret = Field(description="Apprise URL, e.g. ${ONCALL_SMS_URL} or file:/run/secrets/x")
    format: Literal["full", "short"] = Field(
        "full", description="short: the <= 160 character SMS form"
    )
    max_length: int | None = Field(
        None,
        ge=100,
        le=10_000_000,
        description="Longest message (characters) this receiver takes; a longer one is sent as "
        "its summary. Default: what Apprise knows of the service (Discord 2,000, Telegram "
        "4,096, Slack 35,000, e-mail and JSON 32,768...)",
    )

    @field_validator("url")
    @classmethod
    def _apprise(cls, value: SecretStr) -> SecretStr:
        if not is_unset(value):  # validated without secrets: no URL to check
            check_apprise_url(value.get_secret_value())
        return value


class _OtherThreads(logging.Filter):
    """Drops the records of the thread that made it: Apprise logs a rejected URL in full."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


def check_apprise_url(url: str) -> None:
    """Raise ValueError unless Apprise accepts ``url``; the message names the scheme only."""
    match = _SCHEME.match(url)
    if not match:
        raise ValueError("not an Apprise URL (SCHEME://..., e.g. mailtos://... or json://...)")
    scheme = match.group(1).lower()
    quiet, log = _OtherThreads(), logging.getLogger("apprise")
    log.addFilter(quiet)
    try:
        accepted = _accepted_by_its_plugin(scheme, url)
        if accepted is None:  # the plug-in is not known by its module: ask Apprise as a whole
            import apprise  # loads all of its ~190 plug-ins (a third of a second)

            accepted = bool(apprise.Apprise().add(url))
    except Exception:  # a plug-in's parser failing on odd input: still this URL's problem
        accepted = False
    finally:
        log.removeFilter(quiet)
    if accepted:
        return
    import apprise

    if scheme not in apprise.NotificationManager().schemas():
        raise ValueError(f"unknown Apprise scheme {scheme!r} (see the Apprise wiki for the list)")
    raise ValueError(
        f"Apprise does not accept this {scheme}:// URL (see its page on the Apprise wiki)"
    )


_PROTOCOL = re.compile(r"protocol\s*=\s*(\([^)]*\)|[^\n]*)")  # a literal start: a fast scan
_QUOTED = re.compile(r"[\"']([A-Za-z][A-Za-z0-9+.-]*)[\"']")


@functools.cache
def _plugin_modules() -> dict[str, str]:
    """Scheme -> the Apprise plug-in module that declares it, read from the plug-ins' sources
    (each declares ``protocol = ...`` / ``secure_protocol = ...``). Only a hint: the class
    imported from that module is checked to own the scheme before it is used."""
    import importlib.util

    spec = importlib.util.find_spec("apprise.plugins")
    found: dict[str, str] = {}
    for folder in spec.submodule_search_locations or [] if spec else []:
        root = Path(folder)
        for path in sorted([*root.glob("*.py"), *root.glob("*/*.py")]):
            if path.name.startswith("_") or (path.parent == root and path.stem == "base"):
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for decl in _PROTOCOL.findall(text):
                for name in _QUOTED.findall(decl):
                    dotted = ".".join(path.relative_to(root).with_suffix("").parts)
                    found.setdefault(name.lower(), f"apprise.plugins.{dotted}")
    return found


def _accepted_by_its_plugin(scheme: str, url: str) -> bool | None:
    """Whether the plug-in for ``scheme`` accepts ``url``, importing that plug-in only, with the
    steps of ``Apprise.instantiate`` (parse_url, the plug-in enabled, the constructor); None
    when the plug-in cannot be found this way. Apprise itself imports every plug-in to find one:
    a 10,000-check configuration spent a fifth of its validation there."""
    module_name = _plugin_modules().get(scheme)
    if module_name is None:
        return None
    import importlib

    from apprise import AppriseAsset

    module = importlib.import_module(module_name)
    plugin = None
    for value in vars(module).values():
        if isinstance(value, type) and value.__module__ == module_name:
            names = [getattr(value, "protocol", None), getattr(value, "secure_protocol", None)]
            flat = {n.lower() for x in names for n in (x if isinstance(x, tuple | list) else (x,))
                    if isinstance(n, str)}  # fmt: skip
            if scheme in flat and hasattr(value, "parse_url"):
                plugin = value
    if plugin is None:
        return None
    results = plugin.parse_url(url.replace("/#", "/%23"))
    if not results or not getattr(plugin, "enabled", True):
        return False
    results["tag"], results["asset"] = set(), AppriseAsset()
    plugin(**results)  # raises when the URL's values are not acceptable
    return True


class TimeRange(StrictModel):
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not HH:MM (00:00 to 24:00)")
        return value


class TimeInterval(StrictModel):
    """Named recurring hours, e.g. office hours mon-fri 08:00-18:00. Entries sharing a name
    form one interval (their union), e.g. weekday evenings plus whole weekends."""

    name: Name
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    times: list[TimeRange] = Field(default_factory=lambda: [TimeRange()])


class RouteMatch(StrictModel):
    """Every listed field must match; an empty list matches anything. site/service take globs."""

    severity: list[Severity] = Field(default_factory=list)
    category: list[Category] = Field(default_factory=list)
    site: list[str] = Field(default_factory=list)
    service: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="any of these tags")
    kind: list[str] = Field(default_factory=list)


class Route(StrictModel):
    name: Name
    match: RouteMatch = Field(default_factory=RouteMatch)
    receivers: list[Name] = Field(min_length=1)
    active_during: list[Name] = Field(
        default_factory=list, description="Time intervals when this route applies (empty: always)"
    )
    continue_: bool = Field(False, alias="continue", description="Keep matching later routes")
    group_wait: Duration = Field(30.0, ge=0)
    group_interval: Duration = Field(300.0, ge=0)
    repeat_interval: Duration = Field(
        14400.0, ge=0, description="Reminder while unacknowledged; 0 = never"
    )
    escalate_after: Duration | None = Field(None, gt=0)
    escalate_to: Name | None = None
    escalate_severities: list[Severity] = Field(default_factory=lambda: list(_CRITICAL))


class Templates(StrictModel):
    """Jinja2 templates (see alerts/render.py for the variables); compiled at load time."""

    title: str | None = None
    body: str | None = None
    short: str | None = None
    runbook_url: str | None = Field(
        None, description="e.g. https://wiki.example.org/runbooks/{{ service or key }}"
    )
    ack_hint: str = "threenines alerts ack {{ uid }} --note '...'"
    console_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="The console's address for people reading a notification (e.g. "
        "https://threenines.example.gov.uk): a summary links to its incidents list",
    )

    @field_validator("title", "body", "short", "runbook_url", "ack_hint")
    @classmethod
    def _compile(cls, value: str | None) -> str | None:
        if value is not None:
            from jinja2 import TemplateSyntaxError  # here: config loads stay fast without it

            from threenines.alerts.render import environment

            try:
                environment().from_string(value)
            except TemplateSyntaxError as exc:
                raise ValueError(f"template error line {exc.lineno}: {exc.message}") from None
        return value


class EventRules(StrictModel):
    min_severity: Severity = Field("major", description="Events below this are recorded only")
    ttl: Duration = Field(3600.0, gt=0, description="An event incident resolves after this quiet")
    resolves: dict[str, str] = Field(
        default_factory=lambda: {"link_up": "link_down", "agent_clock_ok": "agent_clock_skew"},
        description="event kind -> the kind it clears (same device and subject)",
    )


class Outbox(StrictModel):
    max_attempts: int = Field(12, ge=1, le=1000)
    backoff: Duration = Field(5.0, gt=0)
    backoff_max: Duration = Field(600.0, gt=0)
    lease: Duration = Field(60.0, gt=0, description="A claim expires after this (crashed sender)")
    poll_interval: Duration = Field(1.0, gt=0)
    timeout: Duration = Field(30.0, gt=0, description="Deadline for one delivery attempt")


class AlertsConfig(StrictModel):
    enabled: bool = True
    timezone: str | None = Field(None, description="For time intervals (default: top-level)")
    receivers: list[Receiver] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    time_intervals: list[TimeInterval] = Field(default_factory=list)
    reopen_window: Duration = Field(3600.0, ge=0)
    flap_window: Duration = Field(600.0, gt=0)
    flap_threshold: int = Field(6, ge=2, description="State changes within flap_window")
    templates: Templates = Field(default_factory=Templates)
    events: EventRules = Field(default_factory=EventRules)
    outbox: Outbox = Field(default_factory=Outbox)
    events_poll: Duration = Field(5.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def route(self, name: str) -> Route | None:
        found: Route | None = first_named(self, "routes", name)
        return found

    def receiver(self, name: str) -> Receiver | None:
        found: Receiver | None = first_named(self, "receivers", name)
        return found


def cross_check(cfg: Config) -> list[tuple[Loc, str]]:
    """Problems spanning the alerts section (unknown receivers, routes, intervals; cycles)."""
    a: AlertsConfig = alerts_config(cfg)
    out: list[tuple[Loc, str]] = []
    receivers = {r.name for r in a.receivers}
    intervals = {t.name for t in a.time_intervals}
    routes = {r.name: r for r in a.routes}
    looping = _escalation_cycles(routes)
    for what, names in (
        ("receivers", [r.name for r in a.receivers]),
        ("routes", [r.name for r in a.routes]),
    ):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                out.append((("alerts", what, i, "name"), f"duplicate name {name!r}"))
            seen.add(name)
    for i, route in enumerate(a.routes):
        for j, rec in enumerate(route.receivers):
            if rec not in receivers:
                out.append((("alerts", "routes", i, "receivers", j), f"unknown receiver {rec!r}"))
        for j, name in enumerate(route.active_during):
            if name not in intervals:
                out.append(
                    (("alerts", "routes", i, "active_during", j), f"unknown time interval {name!r}")
                )
        if route.escalate_to is not None and route.escalate_to not in routes:
            out.append(
                (("alerts", "routes", i, "escalate_to"), f"unknown route {route.escalate_to!r}")
            )
        elif route.escalate_to is not None and route.escalate_after is None:
            out.append(
                (("alerts", "routes", i, "escalate_after"), "escalate_to needs escalate_after")
            )
        if route.name in looping:
            out.append((("alerts", "routes", i, "escalate_to"), "escalation chain loops back"))
    return out


def _escalation_cycles(routes: dict[str, Route]) -> set[str]:
    """The routes whose escalation chain comes back to themselves. Each route is walked once
    (a chain of n routes checked from each start was n squared steps)."""
    looping: set[str] = set()
    done: set[str] = set()
    for start in routes:
        path: dict[str, int] = {}  # the routes of this walk, in order
        cur: str | None = start
        while cur is not None and cur in routes and cur not in done and cur not in path:
            path[cur] = len(path)
            cur = routes[cur].escalate_to
        if cur is not None and cur in path:  # this walk closed a loop: from cur on, it loops
            looping.update(list(path)[path[cur] :])
        done.update(path)
    return looping


def alerts_config(cfg: Config) -> AlertsConfig:
    """The ``alerts`` section of a composed configuration."""
    return cfg.section("alerts", AlertsConfig)
