"""What every venue client offers the rest of the app, and the parts they share.

A client owns one venue account: it connects, authenticates, loads the open orders into the
``OrderStore``, streams updates, reconnects, and cancels. Everything it learns goes out as store
events, ``Notice``s and ``AccountState``s; nothing else of it is visible to the UI.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import random
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Order, OrderKey
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities


class VenueClient(Protocol):
    account: AccountKey
    capabilities: Capabilities

    async def run(self) -> None:
        """Connect and stream until ``close()``; reconnect on its own."""

    async def cancel(self, plan: CancelPlan) -> CancelResult:
        """Cancel what the plan lists and wait for the venue's confirmation of each order."""

    async def close(self) -> None:
        """Stop streaming and release sockets."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: delay n is uniform in [base, min(cap, base*factor^n)]."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        upper = min(self.cap, self.base * self.factor ** max(attempt, 0))
        r = (rng or random).random()
        return self.base + (upper - self.base) * r


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, secure: str, plain: str, what: str) -> tuple[str, bool]:
    """Validate a URL; returns it and whether its host is loopback. Plain text only on loopback."""
    parts = urlsplit(url)
    if parts.scheme not in (secure, plain) or not parts.hostname:
        raise ValueError(f"{what} must be a {secure}:// URL, got {url!r}")
    loopback = is_loopback(parts.hostname)
    if parts.scheme == plain and not loopback:
        raise ValueError(
            f"refusing unencrypted {what} {url!r}: plain {plain}:// is allowed only for a "
            f"loopback host (127.0.0.1, ::1, localhost); use {secure}://"
        )
    return url, loopback


def check_origin(url: str, example: str) -> tuple[str, bool]:
    """A REST ``rest_url`` that must be an origin only (the client appends the venue's paths):
    returns ``scheme://host[:port]`` and whether the host is loopback."""
    url, loopback = check_url(url, "https", "http", "rest_url")
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"rest_url must be an origin such as {example}, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}", loopback


def rest_client(origin: str, loopback: bool, timeout: float) -> httpx.AsyncClient:
    """One HTTP client per account: connections reused; proxies from the environment are not
    used for a loopback venue (a simulator)."""
    return httpx.AsyncClient(
        base_url=origin,
        timeout=httpx.Timeout(timeout, connect=5.0),
        trust_env=not loopback,
        headers={"user-agent": "blotter"},
    )


class PendingCancels:
    """A client's view of its cancels in flight, as futures it can await.

    The state itself lives in the store (``OrderStore.begin_cancel``): the row shows
    "cancel pending" until the venue's close arrives, and the outcome follows the close's
    status, so a fill that won the race is reported as filled. This only turns the store's
    tickets into futures and bounds the wait.
    """

    def __init__(self, store: OrderStore) -> None:
        self._store = store

    def begin(self, orders: Iterable[Order]) -> dict[OrderKey, asyncio.Future[OrderOutcome]]:
        """Start waiting for each order's close; the rows show "cancel pending"."""
        loop = asyncio.get_running_loop()
        futures: dict[OrderKey, asyncio.Future[OrderOutcome]] = {}
        for key, ticket in self._store.begin_cancel(orders).items():
            future: asyncio.Future[OrderOutcome] = loop.create_future()
            ticket.add_callback(functools.partial(_set_result, future))
            futures[key] = future
        return futures

    def is_waiting(self, key: OrderKey) -> bool:
        return self._store.is_cancel_waiting(key)

    def resolve(self, key: OrderKey, outcome: Outcome, text: str = "") -> bool:
        """Settle one order's cancel; a refusal or timeout puts the row back as it was."""
        return self._store.end_cancel(key, outcome, text)


def _set_result(future: asyncio.Future[OrderOutcome], outcome: OrderOutcome) -> None:
    if not future.done():
        future.set_result(outcome)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def describe_error(exc: BaseException) -> str:
    """An exception as a short line for a state reason or a notice."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def close_code(exc: ConnectionClosed) -> str:
    """The close code and reason of a websocket that ended; 1006 when no close frame came."""
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "1006"
    return f"{frame.code} {frame.reason}".strip()


class AccountReporter:
    """What a client tells the app about its account: states, notices, and secret-free text."""

    account: AccountKey
    _states: StateBus
    _notices: NoticeBus
    _key: str
    _secret: str

    def _state(self, state: VenueState, reason: str = "") -> None:
        publish_state(self._states, self.account, state, reason)

    def _notice(
        self,
        level: Level,
        text: str,
        *,
        status: str | None = None,
        order_ids: Iterable[str] = (),
    ) -> None:
        self._notices.publish(
            Notice(
                self.account.venue, self.account.account, level, text, status=status,
                order_ids=tuple(order_ids), ts_ms=now_ms(),
            )
        )

    def _redact(self, text: str) -> str:
        for secret in (self._secret, self._key):
            if secret:
                text = text.replace(secret, "***")
        return text


class SessionEnd(Exception):
    """Ends one connection: ``reason`` for the trader, an optional fixed ``delay`` before the
    next, and ``failed`` when the venue refused us (the account shows as failed meanwhile)."""

    def __init__(self, reason: str, delay: float | None = None, failed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        self.failed = failed


class ReconnectingClient(AccountReporter):
    """``run()`` for a client built of sessions: connect, stream until the connection ends, say
    why, wait (jittered backoff, from the start again after a session that went live), repeat
    until ``close()``. A bug in a session is logged and retried, never the end of the feed."""

    backoff: Backoff
    _closing: bool
    _running: bool
    _live: bool
    _stop: asyncio.Event
    _log: logging.Logger

    _ws: ClientConnection | None
    _http: httpx.AsyncClient | None
    _background: set[asyncio.Task[Any]]

    async def _session(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Stop: the loop ends, the socket closes, background work is cancelled."""
        self._closing = True
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 3.0)
            except (OSError, TimeoutError, WebSocketException):
                pass
        for task in list(self._background):
            task.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, kept until done (not at all once closing)."""
        if self._closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def run(self) -> None:
        if self._running:
            raise RuntimeError(f"{type(self).__name__}.run() is already running")
        self._running = True
        attempt = 0
        self._state(VenueState.CONNECTING)
        try:
            while not self._closing:
                failed = False
                try:
                    await self._session()
                    reason = "connection closed"
                    delay = self.backoff.delay(attempt)
                except SessionEnd as end:
                    reason = end.reason
                    failed = end.failed
                    delay = end.delay if end.delay is not None else self.backoff.delay(attempt)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a bug must not end the feed
                    self._log.exception("%s: session failed", self.account)
                    reason = f"internal error: {type(exc).__name__}: {self._redact(str(exc))}"
                    delay = self.backoff.delay(attempt)
                was_live, self._live = self._live, False
                if self._closing:
                    break
                attempt = 0 if was_live else attempt + 1
                self._state(VenueState.FAILED if failed else VenueState.RECONNECTING, reason)
                self._log.info("%s: %s; reconnecting in %.2f s", self.account, reason, delay)
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
                if failed and not self._closing:
                    self._state(VenueState.RECONNECTING, reason)
        finally:
            self._running = False
            self._live = False
            self._state(VenueState.STOPPED)


def publish_state(
    states: StateBus, account: AccountKey, state: VenueState, reason: str = ""
) -> None:
    states.publish(AccountState(account.venue, account.account, state, reason))


__all__ = [
    "AccountReporter",
    "Backoff",
    "Capabilities",
    "NoticeBus",
    "PendingCancels",
    "ReconnectingClient",
    "SessionEnd",
    "StateBus",
    "VenueClient",
    "check_origin",
    "check_url",
    "close_code",
    "describe_error",
    "is_loopback",
    "now_ms",
    "publish_state",
    "rest_client",
]
