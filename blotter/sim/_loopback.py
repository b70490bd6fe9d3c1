"""What every simulated venue shares: an aiohttp server on a loopback address, its URLs and
demo credentials, the background order flow, and the teardown of its client sockets.

A venue subclass sets ``VENUE`` and ``WS_PATH``, adds its REST routes in ``_routes`` and its
websocket handler as ``_ws_handler``, writes its flow in ``_flow``, and keeps its connections
(objects with ``alive``, ``tasks``, ``ws`` and ``transport``) in ``_conns``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Callable
from typing import Any, ClassVar

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


class LoopbackVenue:
    VENUE: ClassVar[str]
    WS_PATH: ClassVar[str]

    _rng: random.Random
    _api_key: str
    _keys: dict[str, str]
    _conns: set[Any]
    _timers: set[asyncio.TimerHandle]
    flow_rate: float

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

    async def _flow(self) -> None:
        raise NotImplementedError

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
                await asyncio.wait_for(conn.ws.close(code=1001), 1.0)
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
