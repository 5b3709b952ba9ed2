"""The overview's and the public page's views, kept fresh by one background task per server.

The task (``console-views``, added by the area's ``setup``) rebuilds the views every
``REBUILD_EVERY`` seconds while someone looks at them, and sooner (never within ``FLIP_GAP`` of
the previous rebuild) when the writer reports a state change, so a request only renders. The
overview and the public view are read at one instant: the latest intervals and the state rule
once for both (``views.live_views``), in a worker thread (never on the event loop). The public
page's daily bars are the availability engine's, on slower cadences of their own, in a thread of
their own so a rebuild of the bars never holds up the states: the days before today every
``views.PAST_FOR`` seconds (a late result or a retroactive window can still change a past day),
today's every ``views.TODAY_FOR``.

Only what is the same for everyone is kept: the views, the public page's HTML and JSON, and the
overview's body once per view for each kind of reader (operators see buttons, viewers do not),
rendered with ``CSRF_SLOT`` where each reader's CSRF token goes; the rest of a page (the
navigation with the reader's name) is rendered per request.

Without the task (an app built without ``run``, or after ``IDLE_AFTER`` with no request) a
request finding a view older than ``STALE_AFTER`` builds it itself, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from markupsafe import escape

from threenines.console import views

if TYPE_CHECKING:
    from threenines.core.config import Config
    from threenines.core.context import ServiceContext
    from threenines.core.store import StateChange

REBUILD_EVERY = 1.0  # seconds between rebuilds while someone looks
FLIP_GAP = 0.5  # a state change starts a rebuild early, but never this soon after the last
STALE_AFTER = 2.0  # a request finding a view older than this builds it itself
IDLE_AFTER = 60.0  # no request (and no live stream) for this long: the task rests
CTX_ATTR = "console_live"  # where the service context holds its LiveViews
CSRF_SLOT = "t9-csrf-slot-7c1e"  # in a body rendered once for all, where each reader's token goes


class LiveViews:
    """The views of one server, and what their rebuilds cost (``builds``, ``cpu``: the
    rebuilding threads' CPU seconds, the fast rebuild's and the bars')."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.overview: views.Overview | None = None
        self.overview_at = -1e9  # monotonic
        self.public: views.PublicStatus | None = None
        self.public_at = -1e9
        self.past: views.PastDays | None = None
        self.current: views.PastDays | None = None
        self.rendered: dict[Any, Any] = {}  # the public view's HTML and JSON, by key
        self.bodies: dict[bool, tuple[views.Overview, str]] = {}  # overview body, by operator
        self.seen_overview = self.seen_public = -1e9
        self.streams = 0  # live streams open (each keeps the overview wanted)
        self.builds = 0
        self.cpu = 0.0
        self.bars_cpu = 0.0
        self._wake = asyncio.Event()
        self._new = asyncio.Event()  # set (and replaced) with each new overview
        self._bars: asyncio.Task[None] | None = None

    # -- what requests call ---------------------------------------------------------------

    async def overview_view(self, ctx: ServiceContext) -> views.Overview:
        self.seen_overview = time.monotonic()
        self._wake.set()
        if self.overview is None or time.monotonic() - self.overview_at >= STALE_AFTER:
            await self._build(ctx, True, False, STALE_AFTER)
        assert self.overview is not None
        return self.overview

    async def public_view(self, ctx: ServiceContext) -> views.PublicStatus:
        self.seen_public = time.monotonic()
        self._wake.set()
        if self.public is None or time.monotonic() - self.public_at >= STALE_AFTER:
            await self._build(ctx, False, True, STALE_AFTER)
        assert self.public is not None
        return self.public

    async def rendered_public(self, key: Any, view: views.PublicStatus,
                              make: Callable[[], Any]) -> Any:  # fmt: skip
        """``make()`` (in a thread) once per public view and ``key``: the same for everyone."""
        found = self.rendered.get(key)
        if found is not None and found[0] is view:
            return found[1]
        value = await asyncio.to_thread(make)
        if self.public is view:
            self.rendered[key] = (view, value)
        return value

    async def overview_body(self, view: views.Overview, operator: bool, csrf: str,
                            make: Callable[[str], str]) -> str:  # fmt: skip
        """The overview's body for this reader: ``make(CSRF_SLOT)`` (in a thread) once per view
        for operators and once for the others, with the reader's token put in its slot."""
        found = self.bodies.get(operator)
        if found is not None and found[0] is view:
            body = found[1]
        else:
            body = await asyncio.to_thread(make, CSRF_SLOT)
            if self.overview is view:
                self.bodies[operator] = (view, body)
        return body.replace(CSRF_SLOT, str(escape(csrf)))

    async def next_overview(self, timeout: float) -> None:
        """Wait until a new overview is built, or ``timeout`` seconds."""
        new = self._new
        try:
            await asyncio.wait_for(new.wait(), timeout)
        except TimeoutError:
            pass

    # -- what the writer and a reload call ------------------------------------------------

    def flipped(self, flips: list[StateChange]) -> None:
        """A ``ctx.subscribe_flips`` subscriber: a state changed, rebuild soon."""
        self._wake.set()

    def reloaded(self, cfg: Config) -> None:
        """A ``ctx.on_reload`` hook: the services may differ, so nothing built is kept."""
        self.past = self.current = None
        self.overview_at = self.public_at = -1e9
        self._wake.set()

    # -- the background task --------------------------------------------------------------

    async def run(self, ctx: ServiceContext) -> None:
        try:
            while True:
                now = time.monotonic()
                over = self.streams > 0 or now - self.seen_overview < IDLE_AFTER
                pub = now - self.seen_public < IDLE_AFTER
                if not (over or pub):
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                started = time.monotonic()
                await self._build(ctx, over, pub, 0.0)
                self._wake.clear()
                try:
                    left = REBUILD_EVERY - (time.monotonic() - started)
                    await asyncio.wait_for(self._wake.wait(), left)
                except TimeoutError:
                    pass
                gap = FLIP_GAP - (time.monotonic() - started)
                if gap > 0:
                    await asyncio.sleep(gap)
        finally:
            if self._bars is not None:
                self._bars.cancel()

    async def _build(self, ctx: ServiceContext, over: bool, pub: bool, max_age: float) -> None:
        async with self.lock:  # a request and the task never build the same view twice
            now = time.monotonic()
            over = over and (self.overview is None or now - self.overview_at >= max_age)
            pub = pub and (self.public is None or now - self.public_at >= max_age)
            if not (over or pub):
                return
            if pub:
                self._refresh_bars(ctx)
            if pub and (self.past is None or self.current is None):
                if self._bars is None or self._bars.done():  # the first public view ever
                    self._bars = asyncio.create_task(self._compute_bars(ctx))
                await asyncio.shield(self._bars)
            o, p, cpu = await asyncio.to_thread(self._views, ctx, over, pub)
            self.builds += 1
            self.cpu += cpu
            at = time.monotonic()
            if o is not None:
                self.overview, self.overview_at = o, at
                new, self._new = self._new, asyncio.Event()
                new.set()
            if p is not None:
                self.public, self.public_at = p, at
                self.rendered = {}

    def _views(self, ctx: ServiceContext,
               over: bool, pub: bool) -> tuple[views.Overview | None, views.PublicStatus | None,
                                               float]:  # fmt: skip
        start = time.thread_time()
        o, p = views.live_views(ctx.engine, ctx.config, over, pub, self.past, self.current)
        return o, p, time.thread_time() - start

    def _refresh_bars(self, ctx: ServiceContext) -> None:
        if self._bars is not None and not self._bars.done():
            return
        now, cfg = time.time(), ctx.config
        if views.stale(self.past, cfg, now, views.PAST_FOR) or views.stale(
            self.current, cfg, now, views.TODAY_FOR
        ):
            self._bars = asyncio.create_task(self._compute_bars(ctx))

    async def _compute_bars(self, ctx: ServiceContext) -> None:
        """The past days' bars and today's, when due (each in a thread, the states not held up)."""
        cfg = ctx.config
        if views.stale(self.past, cfg, time.time(), views.PAST_FOR):
            past, cpu = await asyncio.to_thread(_timed, views.past_days, ctx)
            self.past, self.bars_cpu = past, self.bars_cpu + cpu
        if views.stale(self.current, cfg, time.time(), views.TODAY_FOR):
            current, cpu = await asyncio.to_thread(_timed, views.todays_bars, ctx)
            self.current, self.bars_cpu = current, self.bars_cpu + cpu


def _timed(fn: Callable[..., views.PastDays], ctx: ServiceContext) -> tuple[views.PastDays, float]:
    start = time.thread_time()
    out = fn(ctx.engine, ctx.config, time.time())
    return out, time.thread_time() - start


def live_of(ctx: ServiceContext) -> LiveViews:
    """The server's LiveViews (made by the area's ``setup``, or here for an app built without
    ``run``): the service context holds it, so the task and the routes share one."""
    found = getattr(ctx, CTX_ATTR, None)
    if isinstance(found, LiveViews):
        return found
    live = LiveViews()
    setattr(ctx, CTX_ATTR, live)
    return live


def setup(ctx: ServiceContext) -> None:
    """The console's hook into ``run``: the rebuild task, woken by the writer's state changes,
    and a reload's new config."""
    live = live_of(ctx)
    ctx.add_task("console-views", lambda: live.run(ctx))
    ctx.subscribe_flips(live.flipped)
    ctx.on_reload(live.reloaded)
