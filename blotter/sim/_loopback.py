"""What every simulated venue shares: an aiohttp server on a loopback address, its URLs and
demo credentials, the background order flow, and the teardown of its client sockets.

A venue subclass sets ``VENUE`` and ``WS_PATH``, adds its REST routes in ``_routes`` and its
websocket handler as ``_ws_handler``, writes one step of its flow in ``flow_step``, and keeps
its connections
(objects with ``alive``, ``tasks``, ``ws`` and ``transport``) in ``_conns``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, NamedTuple

from aiohttp import web


def loopback_host(host: str) -> str:
    """The address to bind; anything that is not loopback is refused."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"the simulator binds loopback addresses only, not {host!r}")


class Fault(NamedTuple):
    """One way a simulated venue can be made to misbehave, for the demo's menu: ``title`` is
    the menu entry, ``tip`` what the venue will do, and ``act()`` does it and returns what
    happened in a sentence for the status bar ("" when the client's own reaction says it).
    ``on``, for a fault that stays until undone, says whether it is in force (a check mark)."""

    title: str
    tip: str
    act: Callable[[], str | Awaitable[str]]
    on: Callable[[], bool] | None = None


class LoopbackVenue:
    VENUE: ClassVar[str]
    WS_PATH: ClassVar[str]

    _rng: random.Random
    _api_key: str
    _keys: dict[str, str]
    _conns: set[Any]
    _timers: set[asyncio.TimerHandle]
    flow_rate: float
    reply_delay: float
    fill_on_cancel: bool

    def _init_credentials(
        self,
        seed: int | None,
        api_key: str | None,
        api_secret: str | None,
        make: Callable[[random.Random], tuple[str, str]],
    ) -> None:
        """The venue's random generator and its one demo key (given, or made from the seed)."""
        self._rng = random.Random(seed)
        if api_key is None or api_secret is None:
            demo_key, demo_secret = make(self._rng)
            api_key = api_key if api_key is not None else demo_key
            api_secret = api_secret if api_secret is not None else demo_secret
        self._api_key = api_key
        self._keys = {api_key: api_secret}

    def _init_server(self) -> None:
        self._flow_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._host = "127.0.0.1"
        self._port = 0

    # -- to be provided by the venue -----------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    def flow_step(self) -> None:
        """One automatic event of the venue (a new order, a fill, a cancel at the venue)."""
        raise NotImplementedError

    async def _flow(self) -> None:
        """The venue's own trading: ``flow_step`` at random intervals, ``flow_rate`` a second."""
        while self.flow_rate > 0:
            await asyncio.sleep(self._rng.expovariate(self.flow_rate))
            self.flow_step()

    def _forget(self, conn: Any) -> None:
        """A websocket connection ended: it is no longer alive or kept, its tasks end."""
        conn.alive = False
        self._conns.discard(conn)
        for task in conn.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = loopback_host(host)
        app = web.Application()
        app.router.add_get(self.WS_PATH, self._ws_handler)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        if self.flow_rate > 0:
            self.start_flow()

    async def stop(self) -> None:
        self._stopping = True
        self.stop_flow()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for conn in list(self._conns):
            conn.alive = False
            for task in conn.tasks:
                task.cancel()
            try:
                async with asyncio.timeout(1.0):
                    await conn.ws.close(code=1001)
            except (TimeoutError, OSError, RuntimeError):
                if conn.transport is not None:
                    conn.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- where it listens ------------------------------------------------------------------------
    @property
    def _netloc(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self._netloc}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._netloc}{self.WS_PATH}"

    @property
    def credentials(self) -> dict[str, str]:
        return {"api_key": self._api_key, "api_secret": self._keys[self._api_key]}

    def describe(self) -> dict[str, Any]:
        """The line `python -m blotter.sim` prints for this venue."""
        return {"venue": self.VENUE, "rest_url": self.rest_url, "ws_url": self.ws_url,
                "credentials": self.credentials}

    # -- flow and faults -------------------------------------------------------------------------
    def start_flow(self, rate: float | None = None) -> None:
        if rate is not None:
            self.flow_rate = rate
        if self.flow_rate > 0 and (self._flow_task is None or self._flow_task.done()):
            self._flow_task = asyncio.get_running_loop().create_task(self._flow())

    @property
    def flow_running(self) -> bool:
        return self._flow_task is not None and not self._flow_task.done()

    def stop_flow(self) -> None:
        if self._flow_task is not None:
            self._flow_task.cancel()
            self._flow_task = None

    async def drop_connections(self) -> None:
        """Cut every websocket at TCP level: the client sees no close frame (1006)."""
        for conn in list(self._conns):
            conn.alive = False
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)

    async def _dropped(self) -> str:
        await self.drop_connections()
        return ""

    def common_faults(self, name: str) -> list[Fault]:
        """The faults every simulated venue offers, worded with ``name`` (how the trader knows
        the venue): a fill that beats the next cancel, slow replies, pausing the flow."""

        def fill_race() -> str:
            self.fill_on_cancel = True
            return f"the next {name} order you cancel will be filled first."

        def slow_replies() -> str:
            self.reply_delay = 0.0 if self.reply_delay else 1.5
            return f"slow {name} replies {'on (1.5 s)' if self.reply_delay else 'off'}."

        def flow() -> str:
            if self.flow_running:
                self.stop_flow()
            else:
                self.start_flow()
            return f"{name} order flow {'running' if self.flow_running else 'paused'}."

        return [
            Fault("Next cancel loses to a fill",
                  "The next cancelled order is filled before the cancel lands", fill_race),
            Fault("Slow replies on/off", "The venue waits 1.5 s before answering", slow_replies,
                  lambda: bool(self.reply_delay)),
            Fault("Pause/resume order flow", "Stop or restart the simulated trading activity",
                  flow),
        ]

    def faults(self, name: str) -> list[Fault]:
        """Everything this venue can be made to do wrong, for the demo's menu."""
        raise NotImplementedError
