"""The account hub's websocket (I/O): connecting with the JWT in the URL (§3.2), the SignalR
handshake (§3.3), sending, receiving, and ending the connection — politely, or at once for a hub
that went silent (a half-open socket answers no close either).

What the frames mean is the ``StreamParser``'s business, and whether the hub is still there the
client's (its keep-alive counts every frame through ``on_frame``); this module only moves them.
Every way the connection ends is a ``SessionEnd`` with the reason in the trader's words.
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


def _no_count() -> None:
    pass


class HubSocket:
    """One connection to the account hub, from ``open`` to ``close``."""

    def __init__(self, ws: ClientConnection, on_frame: Callable[[], None] = _no_count) -> None:
        self.ws = ws
        self._on_frame = on_frame
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        who: object,
        redact: Callable[[str], str],
        unauthorized: Callable[[], None],
        on_frame: Callable[[], None] = _no_count,
    ) -> HubSocket:
        """Connect to ``url`` (it holds the JWT: never shown). A 401 calls ``unauthorized``
        (the token is refused: a fresh one next time); every failure is a ``SessionEnd``.
        ``on_frame`` is called for every frame received."""
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                ws = await connect(
                    url, logger=_wire_log, max_size=_MAX_FRAME, open_timeout=None,
                    ping_interval=None, close_timeout=_CLOSE_TIMEOUT, proxy=None,
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
        log.debug("%s: account hub connected", who)
        return cls(ws, on_frame)

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def handshake(
        self, parser: StreamParser, timeout: float = signalr.HANDSHAKE_TIMEOUT_S
    ) -> None:
        """Send the handshake request and wait up to ``timeout`` s for the answer (fed to
        ``parser``); messages that came in the same frame stay queued in ``parser``."""
        await self.send(signalr.handshake_request())
        deadline = self._loop.time() + timeout
        while True:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                raise SessionEnd("no handshake answer from the account hub")
            try:
                async with asyncio.timeout(remaining):
                    frame = await self.ws.recv()
            except TimeoutError:
                raise SessionEnd("no handshake answer from the account hub") from None
            except ConnectionClosed as exc:
                raise SessionEnd(
                    f"the account hub closed during the handshake ({close_code(exc)})"
                ) from None
            self._on_frame()
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

    async def recv(self) -> str | bytes:
        """The next frame; ``SessionEnd`` once the connection has ended."""
        try:
            frame = await self.ws.recv()
        except ConnectionClosed as exc:
            raise SessionEnd(f"the account hub connection closed ({close_code(exc)})") from None
        self._on_frame()
        return frame

    def abort(self) -> None:
        """Drop the connection at once, without a closing handshake (the hub went silent)."""
        transport = self.ws.transport
        if transport is not None:
            transport.abort()

    async def close(self) -> None:
        """End the connection: a close frame, and at most ``_CLOSE_TIMEOUT`` s for the answer."""
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):  # no task: never left unawaited
                await self.ws.close()
        except (OSError, TimeoutError, WebSocketException):
            self.abort()
