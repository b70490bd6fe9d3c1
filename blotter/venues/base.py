"""What every venue client offers the rest of the app, and the one lifecycle they all share.

A client owns one venue account (for B2TRADER, one broker login and its trading accounts): it
connects, authenticates, loads the open orders into the ``OrderStore``, streams updates,
reconnects, and cancels. Everything it learns goes out as store events, ``Notice``s and
``AccountState``s; the engine and the command line use nothing of it beyond ``VenueClient``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome, ScopeKind
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
    audit_interval: float  # seconds between re-reads of the open orders while live; 0: never

    @property
    def last_message_ms(self) -> int | None:
        """When the venue last sent anything on the stream (epoch ms, to within a second),
        or None before the first frame."""
        ...

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
        outcome per order, as the venue stated it (a guess is never an outcome).

        A plan with a ``side`` never goes out as a primitive that ignores sides: exactly its
        orders are cancelled, with the ones of that side that arrived since it was made (for
        the wider kinds: a group, an instrument, an account). ``plan.everything`` cancels
        everything the account has at the venue, shown or not."""
        ...

    def cancel_route(self, plan: CancelPlan) -> str:
        """How ``cancel(plan)`` will send the plan, in the trader's words, for the
        confirmation ("one cancel-batch (3 orders)", "one cancel-all request (all: 1)"). Pure:
        no I/O, the same answer until the plan or the account's options change."""
        ...

    def reconnect_now(self) -> None:
        """Cut the wait before the next connection attempt short (a failed account's
        "Reconnect now"); nothing when it is connected or connecting."""
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
    cap: float = 5.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt`` (0 for the first retry), never more than
        ``cap`` however many attempts there were."""
        # the exponent stops growing long after the cap is reached: a float power overflows
        # past ~1024 attempts, and a venue can be out of reach for that many
        upper = min(self.cap, self.base * self.factor ** min(max(attempt, 0), 64))
        r = (rng or random).random()
        return self.base + (upper - self.base) * r


AUTH_RETRIES: Final = (2.0, 5.0, 15.0, 30.0)
"""Seconds before each retry after the venue refused the key, the last one repeating: a venue
can refuse a good key for a moment, and one that keeps saying no must not be hammered."""

LIVE_RESET: Final = 2.0
"""Seconds a session must stay live before the reconnect backoff counts from zero again: an
account that drops at once after every connect must not reconnect in a tight loop."""

AUDIT_INTERVAL: Final = 60.0
"""Default seconds between re-reads of an account's open orders while it is live."""

_RUN_END_WAIT: Final = 2.0  # s close() lets run() end by itself (then as long once cancelled)


def auth_retry_delay(refusals: int) -> float:
    """Seconds to wait after the ``refusals``-th refusal in a row (1 for the first)."""
    return AUTH_RETRIES[min(max(refusals, 1), len(AUTH_RETRIES)) - 1]


class SessionEnd(Exception):
    """Ends one connection: ``reason`` for the trader, an optional fixed ``delay`` before the
    next, and ``failed`` when the venue refused us (the account shows as failed, and the
    retry waits ``AUTH_RETRIES``)."""

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
    counted from the start again once a session stayed live ``live_reset`` seconds;
    ``AUTH_RETRIES`` after the venue refused the key; ``reconnect_now()`` cuts a wait short),
    and repeats until ``close()``. A bug in a session is logged and retried, never the end of
    the feed. While a session is live, the open orders are re-read every ``audit_interval``
    seconds (``check()``).

    A subclass must:
    - implement ``_session()``: one connection, from connect to its end. Call ``_went_live()``
      once the account's rows equal the venue's (LIVE), or publish another state itself (a
      venue in maintenance is STALE); raise ``SessionEnd`` to say why the session ended (a
      plain return reads "connection closed"). Keep the socket in ``_ws`` while it is open and
      the HTTP client in ``_http``, so ``close()`` can release them.
    - implement ``cancel(plan)``, ``cancel_route(plan)`` and ``check()`` (the ``VenueClient``
      promises); ``_plan_rows(plan)`` gives the orders a plan asks for, arrivals included.
    - reach the venue's REST API through ``_http_client()`` (made for ``rest_url`` on first use,
      closed by ``close()``); ``rest_example`` names a good origin when ``rest_url`` is not one.
    - override ``serves``/``accounts`` if it keeps rows of more than its own account, and
      ``probe``/``connection_note`` where the venue has something to say there.
    - count every frame received in ``_rx``, and watch for silence with ``_keep_alive`` (the
      venue's own ping, and STALE at once when the stream goes quiet).
    - call ``_distrust(what)`` for an item about an order that could not be read: the rows are
      marked unverified and the open orders re-read at once.
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
        self.audit_interval = AUDIT_INTERVAL
        self.live_reset = LIVE_RESET
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
        self._live_at: float | None = None  # loop time the current session first went live
        # waits between sessions: close() ends each, reconnect_now() those marked ``wake``
        self._sleepers: list[tuple[asyncio.Future[None], bool]] = []
        self._run_task: asyncio.Task[Any] | None = None  # the task in run(), while it runs
        self._auditor: asyncio.Task[None] | None = None  # the session's periodic audits
        self._rereading = False  # a re-read after an unreadable item is under way
        self._rx = 0  # frames received; the subclass counts every frame
        self._rx_seen = 0
        self._heard_ms: int | None = None

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

    async def check(self) -> bool:
        """See ``VenueClient.check``; every client implements it."""
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
        self._run_task = asyncio.current_task()
        attempt = 0
        refusals = 0  # the venue refused the key this many times in a row
        loop = asyncio.get_running_loop()
        self._state(VenueState.CONNECTING)
        try:
            while not self._closing:
                end: SessionEnd | None = None
                self._live_at = None
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
                finally:
                    self._end_session_work()
                self._live = False
                if self._closing:
                    break
                if self._live_at is not None and loop.time() - self._live_at >= self.live_reset:
                    attempt = 0
                if self._live_at is not None:
                    refusals = 0
                delay = self.backoff.delay(attempt)
                attempt += 1
                if end is not None and end.delay is not None:
                    delay = end.delay
                if end is not None and end.failed:
                    refusals += 1
                    delay = max(delay, self.auth_retry(refusals))
                    self._state(
                        VenueState.FAILED, f"{reason}; retrying in {delay:.0f} s",
                        attempt=refusals, retry_in=delay,
                    )
                    self._notice(Level.ERROR, f"{reason}; retrying in {delay:.0f} s")
                else:
                    self._state(VenueState.RECONNECTING, reason, attempt=attempt, retry_in=delay)
                self._log.info("%s: %s; reconnecting in %.2f s", self.account, reason, delay)
                await self._sleep(delay, wake=True)
                if not self._closing:
                    self._state(VenueState.CONNECTING, attempt=attempt)
        finally:
            self._running = False
            self._live = False
            self._state(VenueState.STOPPED, "closed" if self._closing else "stopped")

    def _went_live(self, stale: str = "") -> None:
        """The account's rows equal the venue's: the account is LIVE, or STALE with the reason
        ``stale`` when the venue is connected but not all there (in maintenance, say). Starts
        the periodic audits of the session."""
        self._live = True
        if stale:
            self._state(VenueState.STALE, stale)
        else:
            self._state(VenueState.LIVE)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a frame handed in by a test, outside any session
            return
        if self._live_at is None:
            self._live_at = loop.time()
        if self._auditor is None and self.audit_interval > 0 and not self._closing:
            self._auditor = loop.create_task(self._audits())
            # kept with the background work too: close() awaits it once cancelled
            self._background.add(self._auditor)
            self._auditor.add_done_callback(self._background.discard)

    def auth_retry(self, refusals: int) -> float:
        """Seconds before the next try after the ``refusals``-th refusal of the key in a row."""
        return auth_retry_delay(refusals)

    def reconnect_now(self) -> None:
        """See ``VenueClient.reconnect_now``: wakes the wait between two sessions."""
        self._settle_sleepers(wake_only=True)

    @property
    def last_message_ms(self) -> int | None:
        """See ``VenueClient.last_message_ms`` (sampled from the frame counter ``_rx``)."""
        self._sample_rx()
        return self._heard_ms

    def _sample_rx(self) -> bool:
        """Note the time if frames arrived since the last look; True if they did."""
        if self._rx != self._rx_seen:
            self._rx_seen = self._rx
            self._heard_ms = now_ms()
            return True
        return False

    async def _keep_alive(
        self, ping: Callable[[], Awaitable[None]] | None, every: float, bound: float
    ) -> str:
        """Send ``ping()`` every ``every`` seconds and watch the frames arrive; return (after
        publishing STALE) once nothing came for ``bound`` seconds. The caller ends the session
        with the text returned. The frame counter ``_rx`` must grow with every frame."""
        loop = asyncio.get_running_loop()
        seen = self._rx  # its own mark: a reader of last_message_ms must not hide frames
        quiet_since = loop.time()
        next_ping = quiet_since + every
        step = max(0.02, min(0.5, every / 4, bound / 10))
        while True:
            await asyncio.sleep(step)
            now = loop.time()
            if self._rx != seen:
                seen = self._rx
                self._sample_rx()
                quiet_since = now
            elif now - quiet_since >= bound:
                text = f"no data from {self.venue_label} for {now - quiet_since:.0f} s"
                self._log.info("%s: %s; reconnecting", self.account, text)
                self._state(VenueState.STALE, f"silent {now - quiet_since:.0f} s; reconnecting",
                            heard_ms=now_ms() - round((now - quiet_since) * 1000))
                return text
            if ping is not None and now >= next_ping:
                next_ping = now + every
                try:
                    async with asyncio.timeout(min(every, 5.0)):
                        await ping()
                except (OSError, TimeoutError, WebSocketException):
                    pass  # the silence bound decides

    def _distrust(self, what: str) -> None:
        """Something about the account's orders could not be read (``what``, in words): say
        so, mark the rows unverified and re-read the open orders at once; LIVE again once the
        rows equal the venue's."""
        self._notice(
            Level.WARNING,
            f"Could not read {what} from {self.venue_label}; re-reading the open orders",
        )
        if self._rereading or self._closing:
            return
        self._rereading = True
        if self._live:
            self._state(VenueState.STALE, f"could not read {what}; re-reading the open orders")
        self._spawn(self._reread())

    async def _reread(self) -> None:
        try:
            ok = await self.check()
        finally:
            self._rereading = False
        if ok and self._live:
            self._went_live()

    async def _audits(self) -> None:
        """Re-read the open orders every ``audit_interval`` seconds while the session is live,
        skipping a turn while a cancel of this client waits for the venue (an audit never
        delays a cancel)."""
        while True:
            await asyncio.sleep(self.audit_interval)
            if not self._live or self._rereading:
                continue
            if any(self.serves(key.account_key) for key in self._store.waiting_cancels()):
                continue
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - a failed audit must not end the session
                self._log.exception("%s: audit failed", self.account)

    def _end_session_work(self) -> None:
        auditor, self._auditor = self._auditor, None
        if auditor is not None:
            auditor.cancel()

    async def close(self) -> None:
        """Stop: the loop ends, the socket closes, background work is cancelled."""
        self._closing = True
        self._stop.set()
        self._settle_sleepers(wake_only=False)
        ws = self._ws
        if ws is not None:
            try:
                async with asyncio.timeout(3.0):  # no task: never left unawaited
                    await ws.close()
            except (OSError, TimeoutError, WebSocketException):
                pass
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._run_ended()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if not self._started:
            self._state(VenueState.STOPPED, "closed")

    async def _run_ended(self) -> None:
        """Let ``run()`` end before the HTTP client closes under a request of its (a request
        in flight when the pool closes fails in the HTTP library's own task bookkeeping): it
        ends by itself once the socket is closed, or is cancelled after a moment."""
        task = self._run_task
        if task is None or task.done() or task is asyncio.current_task():
            return
        done, _ = await asyncio.wait({task}, timeout=_RUN_END_WAIT)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=_RUN_END_WAIT)

    async def _sleep(self, delay: float, wake: bool = False) -> None:
        """Wait ``delay`` seconds, or less if ``close()`` (or with ``wake``, ``reconnect_now``)
        comes first."""
        if delay <= 0 or self._stop.is_set():
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        entry = (waiter, wake)
        self._sleepers.append(entry)
        timer = loop.call_later(delay, _settle, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._sleepers.remove(entry)

    def _settle_sleepers(self, *, wake_only: bool) -> None:
        for waiter, wake in self._sleepers:
            if wake or not wake_only:
                _settle(waiter)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, kept until done (not at all once closing)."""
        if self._closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- reporting ----------------------------------------------------------------------------
    def _state(
        self, state: VenueState, reason: str = "", *, attempt: int = 0,
        retry_in: float | None = None, heard_ms: int | None = None,
    ) -> None:
        self._states.publish(
            AccountState(
                self.account.venue, self.account.account, state, reason, now_ms(), attempt,
                retry_in, heard_ms,
            )
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

    def _plan_rows(self, plan: CancelPlan) -> list[Order]:
        """The orders ``plan`` asks this client to cancel: the ones it lists (of accounts this
        client serves), and for a plan scoped wider than its rows (a group, an instrument, a
        side, an account) the rows that arrived since it was made and that it covers."""
        orders = [o for o in plan.orders if self.serves(o.account_key)]
        if plan.kind is ScopeKind.ORDER or plan.kind is ScopeKind.SELECTED:
            return orders
        if not self.serves(plan.account):
            return orders
        listed = {o.key for o in orders}
        # a B2TRADER plan on the login covers each of its trading accounts
        scope = self.accounts() if plan.account == self.account else (plan.account,)
        for account in scope or (plan.account,):
            orders += [
                o for o in self._store.orders(account) if o.key not in listed and plan.covers(o)
            ]
        return orders

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
    "AUDIT_INTERVAL",
    "AUTH_RETRIES",
    "LIVE_RESET",
    "Backoff",
    "PendingCancels",
    "ReconnectingClient",
    "RestFailure",
    "SessionEnd",
    "VenueClient",
]


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
