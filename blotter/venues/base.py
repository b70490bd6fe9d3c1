"""What every venue client offers the rest of the app, and the one lifecycle they all share.

A client owns one venue account (for B2TRADER, one broker login and its trading accounts): it
connects, authenticates, loads the open orders into the ``OrderStore``, streams updates,
reconnects, and cancels. Everything it learns goes out as store events, ``Notice``s and
``AccountState``s; the engine and the command line use nothing of it beyond ``VenueClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Order, OrderKey
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities
from blotter.venues.net import REST_TIMEOUT, RestFailure, check_origin, now_ms, rest_client


class VenueClient(Protocol):
    """The surface of a venue client: all the engine, the account manager and the command
    line may use.

    ``account`` is the configured account; ``venue_label`` what the trader calls the venue
    ("Bitfinex", or a B2TRADER broker's own name); ``cancel_timeout`` how long ``cancel`` waits
    for the venue's confirmation (the command line shortens it to fit its ``--timeout``).
    """

    account: AccountKey
    capabilities: Capabilities
    venue_label: str
    cancel_timeout: float

    @property
    def connection_note(self) -> str:
        """What the trader must know about how the account is connected, shown beside its
        connection light ("dead-man switch on"), or ""."""
        ...

    def serves(self, account: AccountKey) -> bool:
        """Whether rows of ``account`` are this client's (its own account, or for a B2TRADER
        login one of its trading accounts ``<login>/<trading account>``)."""
        ...

    def accounts(self) -> tuple[AccountKey, ...]:
        """The accounts whose rows this client keeps, as far as it knows them yet."""
        ...

    async def run(self) -> None:
        """Connect and stream until ``close()``; reconnect on its own; never raise for network
        or venue trouble (it is reported as states and notices)."""
        ...

    async def check(self) -> bool:
        """Re-read the open orders from the venue and make the rows equal them; False when the
        venue could not be asked (said in a notice or the log)."""
        ...

    async def probe(self) -> str | None:
        """One quick signed call for "Test connection": the venue's refusal in its own words,
        or None when the key is accepted or the venue has no such call."""
        ...

    async def cancel(self, plan: CancelPlan) -> CancelResult:
        """Cancel what the plan lists and wait for the venue's word on each order: one
        outcome per order, as the venue stated it (a guess is never an outcome)."""
        ...

    async def close(self) -> None:
        """Stop streaming and release the sockets; ``run()`` returns."""
        ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: delay ``n`` is uniform in
    ``[base, min(cap, base * factor ** n)]``."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt`` (0 for the first retry), never more than
        ``cap`` however many attempts there were."""
        # the exponent stops growing long after the cap is reached: a float power overflows
        # past ~1024 attempts, and a venue can be out of reach for that many
        upper = min(self.cap, self.base * self.factor ** min(max(attempt, 0), 64))
        r = (rng or random).random()
        return self.base + (upper - self.base) * r


AUTH_BACKOFF: Final = Backoff(base=30.0, factor=2.0, cap=300.0)
"""How long a client waits after the venue refused its key: never hammer a venue that said no."""


class SessionEnd(Exception):
    """Ends one connection: ``reason`` for the trader, an optional fixed ``delay`` before the
    next, and ``failed`` when the venue refused us (the account shows as failed, and the
    retry waits ``AUTH_BACKOFF``)."""

    def __init__(self, reason: str, delay: float | None = None, failed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        self.failed = failed


class PendingCancels:
    """A client's cancels in flight, as futures it can await.

    The state itself lives in the store (``OrderStore.begin_cancel``): the row shows "cancel
    pending" until the venue's close arrives, and the outcome follows the close's status, so a
    fill that won the race is reported as filled. This only turns the store's tickets into
    futures.
    """

    def __init__(self, store: OrderStore) -> None:
        self._store = store

    def begin(self, orders: Iterable[Order]) -> dict[OrderKey, asyncio.Future[OrderOutcome]]:
        """Start waiting for each order's close (the rows show "cancel pending"); one future
        per order, done when the cancel is settled either way."""
        loop = asyncio.get_running_loop()
        futures: dict[OrderKey, asyncio.Future[OrderOutcome]] = {}
        for key, ticket in self._store.begin_cancel(orders).items():
            future: asyncio.Future[OrderOutcome] = loop.create_future()
            ticket.add_callback(functools.partial(_set_result, future))
            futures[key] = future
        return futures

    def is_waiting(self, key: OrderKey) -> bool:
        """Whether a cancel of ``key`` still waits for the venue's word."""
        return self._store.is_cancel_waiting(key)

    def resolve(self, key: OrderKey, outcome: Outcome, text: str = "") -> bool:
        """Settle one order's cancel with what the venue said (a refusal or a timeout puts the
        row back as it was); False when nothing was waiting."""
        return self._store.end_cancel(key, outcome, text)


def _set_result(future: asyncio.Future[OrderOutcome], outcome: OrderOutcome) -> None:
    if not future.done():
        future.set_result(outcome)


class ReconnectingClient:
    """The one lifecycle of every venue client, built of sessions.

    ``run()`` connects, streams until the connection ends, says why, waits (jittered backoff,
    counted from the start again once a session went live; ``AUTH_BACKOFF`` after the venue
    refused the key), and repeats until ``close()``. A bug in a session is logged and retried,
    never the end of the feed.

    A subclass must:
    - implement ``_session()``: one connection, from connect to its end. Call ``_went_live()``
      once the account's rows equal the venue's (LIVE), or publish another state itself (a
      venue in maintenance is STALE); raise ``SessionEnd`` to say why the session ended (a
      plain return reads "connection closed"). Keep the socket in ``_ws`` while it is open and
      the HTTP client in ``_http``, so ``close()`` can release them.
    - implement ``cancel(plan)`` and ``check()`` (the ``VenueClient`` promises).
    - reach the venue's REST API through ``_http_client()`` (made for ``rest_url`` on first use,
      closed by ``close()``); ``rest_example`` names a good origin when ``rest_url`` is not one.
    - override ``serves``/``accounts`` if it keeps rows of more than its own account, and
      ``probe``/``connection_note`` where the venue has something to say there.
    Run background work through ``_spawn`` (cancelled on close), report through ``_state`` and
    ``_notice``, and pass every text that may echo a secret through ``_redact``.
    """

    def __init__(
        self,
        account: AccountKey,
        *,
        venue: str,
        store: OrderStore,
        notices: NoticeBus,
        states: StateBus,
        capabilities: Capabilities,
        venue_label: str,
        rest_url: str,
        rest_example: str,
        secrets: Sequence[str],
        cancel_timeout: float,
        backoff: Backoff,
        log: logging.Logger,
    ) -> None:
        if account.venue != venue:
            raise ValueError(f"{type(self).__name__} needs a {venue} account, got {account}")
        self._rest_origin, self._rest_loopback = check_origin(rest_url, rest_example)
        self.account = account
        self.capabilities = capabilities
        self.venue_label = venue_label
        self.cancel_timeout = cancel_timeout
        self.backoff = backoff
        self.auth_backoff = AUTH_BACKOFF
        self._store = store
        self._notices = notices
        self._states = states
        self._secrets = tuple(s for s in secrets if s)
        self._log = log
        self._pending = PendingCancels(store)
        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self._closing = False
        self._running = False
        self._started = False
        self._live = False  # the current session is live
        self._went_live_once = False  # the current session reached LIVE at some point

    # -- what the VenueClient protocol asks of every client --------------------------------------
    @property
    def connection_note(self) -> str:
        """Nothing to say by default (see ``VenueClient.connection_note``)."""
        return ""

    def serves(self, account: AccountKey) -> bool:
        """Its own account only, by default."""
        return account == self.account

    def accounts(self) -> tuple[AccountKey, ...]:
        """Its own account only, by default."""
        return (self.account,)

    async def probe(self) -> str | None:
        """No quick check by default: "Test connection" waits for the session."""
        return None

    async def _session(self) -> None:
        raise NotImplementedError

    def _http_client(self) -> httpx.AsyncClient:
        """The account's one HTTP client (connections reused), made on first use."""
        if self._http is None:
            self._http = rest_client(self._rest_origin, self._rest_loopback, REST_TIMEOUT)
        return self._http

    # -- the lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        """Sessions one after another until ``close()``; see the class docstring."""
        if self._running:
            raise RuntimeError(f"{type(self).__name__}.run() is already running")
        self._running = True
        self._started = True
        attempt = 0
        refusals = 0  # the venue refused the key this many times in a row
        self._state(VenueState.CONNECTING)
        try:
            while not self._closing:
                end: SessionEnd | None = None
                self._went_live_once = False
                try:
                    await self._session()
                    reason = "connection closed"
                except SessionEnd as ended:
                    end, reason = ended, ended.reason
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a bug must not end the feed
                    self._log.exception("%s: session failed", self.account)
                    reason = f"internal error: {type(exc).__name__}: {self._redact(str(exc))}"
                self._live = False
                if self._closing:
                    break
                if self._went_live_once:
                    attempt = refusals = 0
                delay = self.backoff.delay(attempt)
                attempt += 1
                if end is not None and end.delay is not None:
                    delay = end.delay
                if end is not None and end.failed:
                    refusals += 1
                    delay = max(delay, self.auth_backoff.delay(refusals - 1))
                    self._state(VenueState.FAILED, f"{reason}; retrying in {delay:.0f} s")
                else:
                    self._state(VenueState.RECONNECTING, reason)
                self._log.info("%s: %s; reconnecting in %.2f s", self.account, reason, delay)
                await self._sleep(delay)
        finally:
            self._running = False
            self._live = False
            self._state(VenueState.STOPPED, "closed" if self._closing else "stopped")

    def _went_live(self, stale: str = "") -> None:
        """The account's rows equal the venue's: the account is LIVE, or STALE with the reason
        ``stale`` when the venue is connected but not all there (in maintenance, say)."""
        self._live = True
        self._went_live_once = True
        if stale:
            self._state(VenueState.STALE, stale)
        else:
            self._state(VenueState.LIVE)

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
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if not self._started:
            self._state(VenueState.STOPPED, "closed")

    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less if ``close()`` comes first."""
        if delay <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._stop.wait()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, kept until done (not at all once closing)."""
        if self._closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- reporting ----------------------------------------------------------------------------
    def _state(self, state: VenueState, reason: str = "") -> None:
        self._states.publish(
            AccountState(self.account.venue, self.account.account, state, reason)
        )

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
        """``text`` with every secret of the account replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _refuse_plan(self, plan: CancelPlan) -> CancelResult | None:
        """The result for a plan this client cannot take (closed, or another account's);
        None when it can."""
        if self._closing:
            refusal = f"the {self.venue_label} connection is closed"
        elif not self.serves(plan.account):
            refusal = f"plan for {plan.account} sent to {self.account}"
        else:
            return None
        result = CancelResult(plan, error=refusal)
        for order in plan.orders:
            result.outcomes[order.key] = OrderOutcome(order.key, Outcome.REJECTED, refusal)
        return result


__all__ = [
    "AUTH_BACKOFF",
    "Backoff",
    "PendingCancels",
    "ReconnectingClient",
    "RestFailure",
    "SessionEnd",
    "VenueClient",
]
