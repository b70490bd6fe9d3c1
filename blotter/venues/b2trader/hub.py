"""The account hub's websocket (I/O): connecting with the JWT in the URL (§3.2), the SignalR
handshake (§3.3), sending, receiving, and the keep-alive (§3.5): a Ping after ``keepalive``
seconds without sending, and the hub taken for dead after ``server_timeout`` seconds without
anything from it.

What the frames mean is the ``StreamParser``'s business; this module only moves them. Every way
the connection ends is a ``SessionEnd`` with the reason in the trader's words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader import signalr
from blotter.venues.b2trader.stream import StreamParser
from blotter.venues.base import SessionEnd
from blotter.venues.net import close_code, describe_error, wire_logger

log = logging.getLogger("blotter.venues.b2trader")
_wire_log = wire_logger("b2trader")  # the hub URL carries the JWT (P-14)

_CONNECT_TIMEOUT = 10.0
_CLOSE_TIMEOUT = 3.0
_MAX_FRAME = 16 * 1024 * 1024


class HubSocket:
    """One connection to the account hub, from ``open`` to ``close``."""

    def __init__(
        self, ws: ClientConnection, keepalive: float, server_timeout: float, who: object
    ) -> None:
        self.ws = ws
        self.server_timeout = server_timeout
        self._who = who  # for the log
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._alive = signalr.KeepAlive(loop.time(), keepalive, server_timeout)
        self._keep_alive: asyncio.Task[None] | None = None
        self._silent = False  # the keep-alive closed the socket: the hub went quiet

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        keepalive: float,
        server_timeout: float,
        who: object,
        redact: Callable[[str], str],
        unauthorized: Callable[[], None],
    ) -> HubSocket:
        """Connect to ``url`` (it holds the JWT: never shown). A 401 calls ``unauthorized``
        (the token is refused: a fresh one next time); every failure is a ``SessionEnd``."""
        try:
            ws = await asyncio.wait_for(
                connect(
                    url, logger=_wire_log, max_size=_MAX_FRAME, open_timeout=None,
                    ping_interval=None, close_timeout=_CLOSE_TIMEOUT, proxy=None,
                ),
                _CONNECT_TIMEOUT,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                unauthorized()
            raise SessionEnd(f"the account hub refused the connection: HTTP {status}") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise SessionEnd(
                f"cannot reach the account hub: {redact(describe_error(exc))}"
            ) from None
        return cls(ws, keepalive, server_timeout, who)

    async def send(self, text: str) -> None:
        await self.ws.send(text)
        self._alive.sent(self._loop.time())

    async def handshake(self, parser: StreamParser) -> None:
        """Send the handshake request and wait for the answer (fed to ``parser``); messages
        that came in the same frame stay queued in ``parser``."""
        await self.send(signalr.handshake_request())
        deadline = self._loop.time() + signalr.HANDSHAKE_TIMEOUT_S
        while True:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                raise SessionEnd("no handshake answer from the account hub")
            try:
                frame = await asyncio.wait_for(self.ws.recv(), remaining)
            except TimeoutError:
                raise SessionEnd("no handshake answer from the account hub") from None
            except ConnectionClosed as exc:
                raise SessionEnd(
                    f"the account hub closed during the handshake ({close_code(exc)})"
                ) from None
            self._alive.received(self._loop.time())
            parser.feed(frame)
            try:
                first = parser.next_event()
            except MalformedFrame as exc:
                raise SessionEnd(f"unreadable handshake answer ({exc})") from None
            if first is None:
                continue
            if not isinstance(first, signalr.HandshakeResponse):
                raise SessionEnd("the account hub answered the handshake with a message")
            if not first.ok:
                raise SessionEnd(f"the account hub refused the handshake: {first.error}")
            return

    def start_keep_alive(self) -> None:
        self._silent = False
        self._keep_alive = self._loop.create_task(self._keep_alive_loop())

    async def recv(self) -> str | bytes:
        """The next frame; ``SessionEnd`` once the connection has ended (or gone silent)."""
        try:
            frame = await self.ws.recv()
        except ConnectionClosed as exc:
            if self._silent:
                raise SessionEnd(
                    f"no message from the account hub in {self.server_timeout:g} s"
                ) from None
            raise SessionEnd(f"the account hub connection closed ({close_code(exc)})") from None
        self._alive.received(self._loop.time())
        return frame

    async def close(self) -> None:
        if self._keep_alive is not None:
            self._keep_alive.cancel()
        try:
            await asyncio.wait_for(self.ws.close(), _CLOSE_TIMEOUT)
        except (OSError, TimeoutError, WebSocketException):
            pass

    async def _keep_alive_loop(self) -> None:
        alive = self._alive
        tick = max(0.05, min(alive.interval, alive.timeout) / 4)
        while True:
            await asyncio.sleep(tick)
            now = self._loop.time()
            if alive.server_timed_out(now):
                log.info("%s: nothing from the account hub in %g s", self._who, alive.timeout)
                self._silent = True
                try:
                    await asyncio.wait_for(self.ws.close(), _CLOSE_TIMEOUT)
                except (OSError, TimeoutError, WebSocketException):
                    pass
                return
            if alive.ping_due(now):
                try:
                    await asyncio.wait_for(self.send(signalr.ping()), 5.0)
                except (OSError, TimeoutError, WebSocketException):
                    return
