"""The one lifecycle every venue client shares, driven by a scripted client without sockets.

``Scripted._session()`` plays one step of its script per connection (end with a reason, go
live, be refused, hit a bug, or stay connected until closed), so each test says exactly which
sessions the venue gave and reads back the states the trader would have seen.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from blotter.core.cancel import CancelPlan, OrderOutcome, Outcome, ScopeKind
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import (
    AccountKey,
    Closed,
    Order,
    OrderStatus,
    Side,
    Snapshot,
    Upsert,
)
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities
from blotter.venues.base import (
    AUTH_RETRIES,
    LIVE_RESET,
    Backoff,
    PendingCancels,
    ReconnectingClient,
    SessionEnd,
)
from tests.helpers import until

ACCOUNT = AccountKey("bitfinex", "bfx-test")
SECRET = "s3cr3t-api-key-0123456789"
CAPS = Capabilities(group_cancel=True, cancel_all=True, dead_man_switch=False)

Step = Callable[["Scripted"], Awaitable[None]]


class Ladder(Backoff):
    """A backoff whose delay ``n`` is ``(n + 1) * step`` (each attempt tells itself apart),
    keeping every attempt number it was asked for."""

    def __init__(self, step: float = 0.001) -> None:
        super().__init__(base=step, factor=1.0, cap=step)
        self.asked: list[int]
        object.__setattr__(self, "asked", [])  # Backoff is frozen

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        self.asked.append(attempt)
        return (attempt + 1) * self.base


def fixed(seconds: float) -> Backoff:
    """A backoff that always waits exactly ``seconds``."""
    return Backoff(base=seconds, factor=1.0, cap=seconds)


class Scripted(ReconnectingClient):
    """A client whose connections are a script: one step per session, then connected (not
    live) until closed. ``close()`` hangs up the session, as closing a socket would."""

    def __init__(
        self,
        script: list[Step],
        *,
        backoff: Backoff | None = None,
        store: OrderStore | None = None,
        label: str = "Bitfinex",
    ) -> None:
        self.store = store or OrderStore()
        self.notices, self.states = NoticeBus(), StateBus()
        self.seen: list[AccountState] = []
        self.said: list[Notice] = []
        self.states.subscribe(self.seen.append)
        self.notices.subscribe(self.said.append)
        super().__init__(
            ACCOUNT, venue="bitfinex", store=self.store, notices=self.notices,
            states=self.states, capabilities=CAPS, venue_label=label,
            rest_url="https://api.bitfinex.com", rest_example="https://api.bitfinex.com",
            secrets=(SECRET, ""), cancel_timeout=5.0, backoff=backoff or Ladder(), log=logging.getLogger("test.base"),
        )
        self.script = list(script)
        self.live_reset = 0.0  # a session that went live at all counts as back
        self.audit_interval = 0.0
        self.sessions = 0
        self.hangup = asyncio.Event()

    async def _session(self) -> None:
        self.sessions += 1
        if self.script:
            await self.script.pop(0)(self)
        else:
            await self.hangup.wait()

    async def close(self) -> None:
        self.hangup.set()
        await super().close()

    def trail(self) -> list[tuple[VenueState, str]]:
        return [(s.state, s.reason) for s in self.seen]

    def state(self) -> VenueState | None:
        return self.seen[-1].state if self.seen else None


# -- script steps ---------------------------------------------------------------------------
def ends(reason: str, *, delay: float | None = None, failed: bool = False) -> Step:
    async def step(client: Scripted) -> None:
        raise SessionEnd(reason, delay=delay, failed=failed)

    return step


def refused(text: str = "10100: apikey: invalid") -> Step:
    return ends(text, failed=True)


def live_then_ends(reason: str) -> Step:
    async def step(client: Scripted) -> None:
        client._went_live()
        raise SessionEnd(reason)

    return step


def returns() -> Step:
    async def step(client: Scripted) -> None:
        return None

    return step


def raises(exc: Exception) -> Step:
    async def step(client: Scripted) -> None:
        raise exc

    return step


def stays_live(stale: str = "") -> Step:
    async def step(client: Scripted) -> None:
        client._went_live(stale)
        await client.hangup.wait()

    return step


async def run_until(client: Scripted, done: Callable[[], object]) -> asyncio.Task[None]:
    task = asyncio.create_task(client.run())
    await until(done)
    return task


async def stop(client: Scripted, task: asyncio.Task[None]) -> None:
    await asyncio.wait_for(client.close(), 5)
    await asyncio.wait_for(task, 5)
    assert client.trail()[-1] == (VenueState.STOPPED, "closed")


# -- the lifecycle --------------------------------------------------------------------------
async def test_states_run_from_connecting_to_stopped_closed() -> None:
    client = Scripted([ends("1006"), returns(), stays_live()])
    task = await run_until(client, lambda: client.state() is VenueState.LIVE)
    await stop(client, task)
    assert client.trail() == [
        (VenueState.CONNECTING, ""),
        (VenueState.RECONNECTING, "1006"),
        (VenueState.CONNECTING, ""),
        (VenueState.RECONNECTING, "connection closed"),  # a session that just returned
        (VenueState.CONNECTING, ""),
        (VenueState.LIVE, ""),
        (VenueState.STOPPED, "closed"),
    ]
    # each try says which it is and when the next comes
    waits = [(s.attempt, s.retry_in) for s in client.seen if s.state is VenueState.RECONNECTING]
    assert waits == [(1, 0.001), (2, 0.002)]
    assert all(s.ts_ms for s in client.seen)
    assert client.sessions == 3


async def test_a_venue_connected_but_not_all_there_is_stale_with_its_reason() -> None:
    client = Scripted([stays_live("maintenance (20060)")])
    task = await run_until(client, lambda: client.state() is VenueState.STALE)
    assert client.seen[-1].reason == "maintenance (20060)"
    await stop(client, task)


async def test_the_backoff_counts_from_zero_again_after_a_session_that_went_live() -> None:
    backoff = Ladder()
    client = Scripted(
        [ends("a"), ends("b"), ends("c"), live_then_ends("d"), ends("e"), ends("f")],
        backoff=backoff,
    )
    task = await run_until(client, lambda: client.sessions == 7)
    await stop(client, task)
    assert backoff.asked == [0, 1, 2, 0, 1, 2]


async def test_a_fixed_delay_from_the_session_replaces_the_backoff() -> None:
    # a venue that says when to come back (a restart notice, Retry-After) is taken at its word
    client = Scripted([ends("restarting", delay=0.0), ends("1006")], backoff=fixed(60))
    task = await run_until(client, lambda: client.sessions == 2 and client.state() is VenueState.RECONNECTING)
    assert client.trail()[-1] == (VenueState.RECONNECTING, "1006")
    await stop(client, task)


async def test_close_during_the_wait_ends_run_promptly() -> None:
    client = Scripted([ends("1006")], backoff=fixed(600))
    task = await run_until(client, lambda: client.state() is VenueState.RECONNECTING)
    await stop(client, task)  # bounded by 5 s; the wait was ten minutes
    assert client.sessions == 1


async def test_run_twice_at_once_is_refused() -> None:
    client = Scripted([stays_live()])
    task = await run_until(client, lambda: client.state() is VenueState.LIVE)
    with pytest.raises(RuntimeError, match=r"Scripted\.run\(\) is already running"):
        await client.run()
    assert client.sessions == 1 and client.state() is VenueState.LIVE
    await stop(client, task)


async def test_closed_before_it_ran_says_stopped_and_never_connects() -> None:
    client = Scripted([stays_live()])
    await client.close()
    assert client.trail() == [(VenueState.STOPPED, "closed")]
    await asyncio.wait_for(client.run(), 5)
    assert client.sessions == 0
    assert client.state() is VenueState.STOPPED


def test_a_client_refuses_a_rest_url_that_is_not_an_origin() -> None:
    with pytest.raises(ValueError, match="rest_url must be an origin such as https://api"):
        ReconnectingClient(
            ACCOUNT, venue="bitfinex", store=OrderStore(), notices=NoticeBus(),
            states=StateBus(), capabilities=CAPS, venue_label="Bitfinex",
            rest_url="https://api.bitfinex.com/v2", rest_example="https://api.bitfinex.com",
            secrets=(), cancel_timeout=1.0, backoff=fixed(1), log=logging.getLogger("x"),
        )


def test_a_client_refuses_an_account_of_another_venue() -> None:
    with pytest.raises(ValueError, match="needs a bitfinex account, got bybit:by-1"):
        ReconnectingClient(
            AccountKey("bybit", "by-1"), venue="bitfinex", store=OrderStore(),
            notices=NoticeBus(), states=StateBus(), capabilities=CAPS, venue_label="Bitfinex",
            rest_url="https://api.bitfinex.com", rest_example="https://api.bitfinex.com",
            secrets=(), cancel_timeout=1.0, backoff=fixed(1), log=logging.getLogger("x"),
        )


# -- the venue refused the key ------------------------------------------------------------
async def test_a_refused_key_shows_failed_in_the_venues_words_and_when_it_retries() -> None:
    client = Scripted([refused("10100: apikey: invalid")], backoff=fixed(0.001))
    client.auth_retry = lambda refusals: 60.0
    task = await run_until(client, lambda: client.state() is VenueState.FAILED)
    assert client.seen[-1].reason == "10100: apikey: invalid; retrying in 60 s"
    await stop(client, task)  # close() does not wait out the minute
    assert client.sessions == 1


@pytest.mark.parametrize(
    ("backoff", "end_delay", "said"),
    [
        (fixed(120), None, "retrying in 120 s"),  # the usual backoff is longer: it counts
        (fixed(0.001), 90.0, "retrying in 90 s"),  # the venue said when
        (fixed(0.001), 5.0, "retrying in 60 s"),  # never sooner than the refusal's wait
    ],
)
async def test_a_refusal_waits_at_least_the_refusal_backoff(
    backoff: Backoff, end_delay: float | None, said: str
) -> None:
    client = Scripted([ends("10003: API key is invalid.", delay=end_delay, failed=True)],
                      backoff=backoff)
    client.auth_retry = lambda refusals: 60.0
    task = await run_until(client, lambda: client.state() is VenueState.FAILED)
    assert client.seen[-1].reason == f"10003: API key is invalid.; {said}"
    await stop(client, task)


async def test_refusals_in_a_row_wait_longer_each_time_until_the_account_was_live() -> None:
    asked: list[int] = []

    def retry(refusals: int) -> float:
        asked.append(refusals)
        return 0.001 * refusals

    client = Scripted(
        [refused(), refused(), refused(), live_then_ends("1006"), refused(), ends("1006"),
         refused()],
    )
    client.auth_retry = retry
    task = await run_until(client, lambda: client.sessions == 8)
    await stop(client, task)
    # the third refusal waits the third step; after a live session it starts again, and a
    # plain disconnect in between does not forgive a refusal
    assert asked == [1, 2, 3, 1, 2]
    failed = [s for s in client.seen if s.state is VenueState.FAILED]
    assert [s.attempt for s in failed] == [1, 2, 3, 1, 2]
    assert {s.reason for s in failed} == {"10100: apikey: invalid; retrying in 0 s"}
    # a refusal is news: it reaches the notice log in the venue's words, not only the light
    assert [n.text for n in client.said if n.level is Level.ERROR][:1] == [
        "10100: apikey: invalid; retrying in 0 s"]


def test_a_refused_key_is_retried_after_2_5_15_then_every_30_seconds() -> None:
    # a venue can refuse a good key for a moment; one that keeps saying no is not hammered
    client = Scripted([])
    assert [client.auth_retry(n) for n in range(1, 8)] == [2.0, 5.0, 15.0, 30.0, 30.0, 30.0, 30.0]
    assert AUTH_RETRIES == (2.0, 5.0, 15.0, 30.0)


def test_a_reconnect_never_waits_more_than_five_seconds_by_default() -> None:
    rng = random.Random(3)
    backoff = Backoff()
    assert all(0.5 <= backoff.delay(n, rng) <= 5.0 for n in range(200))
    assert LIVE_RESET == 2.0


# -- a bug in a session ----------------------------------------------------------------------
async def test_a_bug_in_a_session_is_logged_shown_redacted_and_retried(caplog) -> None:
    caplog.set_level(logging.INFO, logger="test.base")
    client = Scripted([raises(KeyError(f"token {SECRET} not in reply")), stays_live()])
    task = await run_until(client, lambda: client.state() is VenueState.LIVE)
    await stop(client, task)
    assert client.trail()[1] == (
        VenueState.RECONNECTING, "internal error: KeyError: 'token *** not in reply'"
    )
    assert all(SECRET not in reason for _, reason in client.trail())
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1
    assert logged[0].getMessage() == "bitfinex:bfx-test: session failed"
    # with its traceback (read as formatted: the app's redacting filter, once installed on a
    # handler, turns the exception into text before any handler formats it)
    assert "Traceback (most recent call last)" in caplog.text
    assert "KeyError: 'token " in caplog.text
    assert client.sessions == 2  # the feed went on


async def test_a_cancelled_session_ends_run_as_stopped() -> None:
    client = Scripted([stays_live()])
    task = await run_until(client, lambda: client.state() is VenueState.LIVE)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert client.trail()[-1] == (VenueState.STOPPED, "stopped")
    await client.close()


# -- reporting ------------------------------------------------------------------------------
async def test_a_notice_names_the_account_and_is_stamped() -> None:
    client = Scripted([])
    client._notice(Level.ERROR, "Order not found.", status="ERROR", order_ids=["1", "2"])
    (notice,) = client.said
    assert (notice.venue, notice.account, notice.level) == ("bitfinex", "bfx-test", Level.ERROR)
    assert notice.line() == "ERROR: Order not found."
    assert notice.order_ids == ("1", "2")
    assert notice.ts_ms is not None and notice.ts_ms > 1_700_000_000_000


def test_every_secret_is_redacted_and_an_empty_one_is_ignored() -> None:
    client = Scripted([])
    text = f"GET /auth?key={SECRET}&sig={SECRET}"
    assert client._redact(text) == "GET /auth?key=***&sig=***"
    assert client._redact("nothing secret") == "nothing secret"


async def test_background_work_is_cancelled_on_close_and_refused_after() -> None:
    client = Scripted([])
    started = asyncio.Event()
    finished: list[str] = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("cancelled")

    client._spawn(forever())
    await asyncio.wait_for(started.wait(), 5)
    await client.close()
    assert finished == ["cancelled"]

    async def too_late() -> None:
        finished.append("ran")

    client._spawn(too_late())  # closed at once, never run (and no "never awaited" warning)
    await asyncio.sleep(0)
    assert finished == ["cancelled"]


# -- plans a client cannot take --------------------------------------------------------------
def order(n: int, account: AccountKey = ACCOUNT, status: OrderStatus = OrderStatus.OPEN,
          text: str = "ACTIVE") -> Order:
    return Order(
        venue=account.venue, account=account.account, order_id=str(n), symbol="tBTCUSD",
        side=Side.BUY, order_type="EXCHANGE LIMIT", amount=Decimal(1),
        remaining=Decimal(0) if status is OrderStatus.FILLED else Decimal(1), status=status,
        status_text=text, price=Decimal(30000 + n),
    )


def test_a_plan_for_its_own_open_account_is_taken() -> None:
    client = Scripted([])
    plan = CancelPlan(ACCOUNT, ScopeKind.SELECTED, (order(1), order(2)))
    assert client._refuse_plan(plan) is None


async def test_a_closed_client_rejects_every_order_of_a_plan() -> None:
    client = Scripted([], label="Bitfinex")
    await client.close()
    plan = CancelPlan(ACCOUNT, ScopeKind.SELECTED, (order(1), order(2)))
    result = client._refuse_plan(plan)
    assert result is not None and not result.ok
    assert result.error == "the Bitfinex connection is closed"
    assert result.outcomes == {
        o.key: OrderOutcome(o.key, Outcome.REJECTED, "the Bitfinex connection is closed")
        for o in plan.orders
    }


def test_a_plan_for_another_account_is_rejected_per_order() -> None:
    client = Scripted([])
    other = AccountKey("bitfinex", "bfx-other")
    plan = CancelPlan(other, ScopeKind.ACCOUNT, (order(1, other), order(2, other)))
    result = client._refuse_plan(plan)
    assert result is not None
    assert result.error == "plan for bitfinex:bfx-other sent to bitfinex:bfx-test"
    assert [o.outcome for o in result.outcomes.values()] == [Outcome.REJECTED] * 2
    assert result.count(Outcome.REJECTED) == 2


def test_a_client_serves_its_own_account_only() -> None:
    client = Scripted([])
    assert client.serves(ACCOUNT) and not client.serves(AccountKey("bitfinex", "bfx-other"))
    assert client.accounts() == (ACCOUNT,)
    assert client.connection_note == ""


# -- cancels in flight ------------------------------------------------------------------------
async def test_pending_cancels_settle_as_the_venue_closes_the_orders() -> None:
    store = OrderStore()
    store.apply(Snapshot(ACCOUNT, tuple(order(n) for n in range(1, 5))))
    pending = PendingCancels(store)
    futures = pending.begin([order(n) for n in range(1, 5)])
    keys = [order(n).key for n in range(1, 5)]
    assert list(futures) == keys
    assert all(pending.is_waiting(k) and store.is_cancel_pending(k) for k in keys)
    assert not any(f.done() for f in futures.values())

    store.apply(Closed(order(1, status=OrderStatus.CANCELLED, text="CANCELED")))
    store.apply(Upsert(order(2, status=OrderStatus.FILLED, text="EXECUTED @ 30002.0(1.0)")))
    store.apply(Snapshot(ACCOUNT, (order(4),)))  # 3 vanished from a fresh list
    assert futures[keys[0]].result() == OrderOutcome(keys[0], Outcome.CANCELLED, "CANCELED")
    assert futures[keys[1]].result() == OrderOutcome(
        keys[1], Outcome.FILLED, "EXECUTED @ 30002.0(1.0)"
    )
    assert futures[keys[2]].result() == OrderOutcome(
        keys[2], Outcome.CLOSED, "no longer open at the venue"
    )
    assert not futures[keys[3]].done() and pending.is_waiting(keys[3])
    assert [pending.is_waiting(k) for k in keys] == [False, False, False, True]


async def test_a_refusal_puts_the_row_back_and_settles_once() -> None:
    store = OrderStore()
    store.apply(Upsert(order(7)))
    pending = PendingCancels(store)
    (future,) = pending.begin([order(7)]).values()
    key = order(7).key
    assert store.is_cancel_pending(key)
    assert pending.resolve(key, Outcome.REJECTED, "ERROR: Order not found.") is True
    assert future.result() == OrderOutcome(key, Outcome.REJECTED, "ERROR: Order not found.")
    assert not store.is_cancel_pending(key) and key in store  # the row is back as it was
    assert not pending.is_waiting(key)
    assert pending.resolve(key, Outcome.CANCELLED) is False  # nothing waits any more
    assert future.result().outcome is Outcome.REJECTED


async def test_a_second_cancel_of_a_waiting_order_waits_for_the_same_answer() -> None:
    store = OrderStore()
    store.apply(Upsert(order(3)))
    pending = PendingCancels(store)
    (first,) = pending.begin([order(3)]).values()
    (second,) = pending.begin([order(3)]).values()
    assert first is not second
    store.apply(Closed(order(3, status=OrderStatus.CANCELLED, text="CANCELED")))
    assert first.result() == second.result()
    assert first.result().outcome is Outcome.CANCELLED


async def test_an_order_the_table_never_showed_still_gets_its_answer() -> None:
    store = OrderStore()
    pending = PendingCancels(store)
    (future,) = pending.begin([order(9)]).values()
    assert not store.is_cancel_pending(order(9).key)  # no row to mark
    assert pending.resolve(order(9).key, Outcome.NOT_FOUND, "Order not found") is True
    assert future.result().outcome is Outcome.NOT_FOUND


# -- backoff ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "backoff",
    [Backoff(), Backoff(base=0.05, factor=2.0, cap=0.3), Backoff(30, 2, 300), fixed(1.5)],
    ids=["default", "tests", "auth", "fixed"],
)
def test_a_backoff_delay_stays_within_its_bounds(backoff: Backoff) -> None:
    rng = random.Random(20240501)
    for attempt in range(64):
        upper = min(backoff.cap, backoff.base * backoff.factor ** attempt)
        for _ in range(50):
            delay = backoff.delay(attempt, rng)
            assert backoff.base <= delay <= upper
    assert backoff.delay(0, rng) == backoff.base  # the first retry comes quickly
    assert backoff.delay(-3, rng) == backoff.base


def test_a_backoff_keeps_its_cap_however_long_the_outage() -> None:
    # the attempt count grows until a session goes live: a night offline is thousands
    for backoff in (Backoff(), Backoff(30, 2, 300), Backoff(base=0.5, factor=10.0, cap=60.0)):
        for attempt in (1023, 1024, 10**6):
            assert backoff.base <= backoff.delay(attempt) <= backoff.cap


async def test_a_venue_unreachable_for_thousands_of_tries_is_still_retried() -> None:
    client = Scripted([ends("1006")] * 1100, backoff=Backoff(base=0.0, factor=2.0, cap=0.0))
    task = asyncio.create_task(client.run())
    await until(lambda: client.sessions > 1100, timeout=20)
    assert client.state() in (VenueState.RECONNECTING, VenueState.CONNECTING)  # still trying
    await client.close()
    await asyncio.wait_for(task, 5)
    assert client.trail()[-1] == (VenueState.STOPPED, "closed")


def test_the_jitter_spreads_the_retries() -> None:
    rng = random.Random(7)
    delays = {round(Backoff().delay(10, rng), 6) for _ in range(20)}
    assert len(delays) == 20
    assert max(delays) > 2.75 > min(delays)  # uniform over [0.5, 5]


def test_the_same_rng_gives_the_same_delays() -> None:
    first = [Backoff().delay(n, random.Random(3)) for n in range(8)]
    again = [Backoff().delay(n, random.Random(3)) for n in range(8)]
    assert first == again


async def test_reading_the_last_message_time_never_hides_frames_from_the_silence_watch() -> None:
    # the light's hover may read last_message_ms right after every frame; a busy stream must
    # still count as alive
    client = Scripted([])
    pings: list[int] = []

    async def ping() -> None:
        pings.append(1)

    async def frames() -> None:
        while True:
            client._rx += 1
            assert client.last_message_ms is not None  # read at once, as a hover might
            await asyncio.sleep(0.01)

    feeder = asyncio.create_task(frames())
    watch = asyncio.create_task(client._keep_alive(ping, every=0.05, bound=0.3))
    await asyncio.sleep(1.0)
    assert not watch.done() and pings  # alive, and pinged on its own clock
    feeder.cancel()  # the stream goes quiet
    text = await asyncio.wait_for(watch, 5)
    await asyncio.gather(feeder, return_exceptions=True)
    assert text.startswith("no data from Bitfinex for ")
    assert client.trail()[-1][0] is VenueState.STALE
