"""One harness for every venue client against its simulator, over real loopback sockets.

``connected(sim, build)`` starts the simulator, builds the client on a fresh store and buses,
runs it, and hands the test an ``Env``; on the way out the client is closed (its ``run()`` must
end with STOPPED) and the simulator stopped. Every wait is bounded.

A venue's test module keeps only what is its own: the simulator's options, how its client is
built, and (by subclassing ``Env``) how the venue's own open orders read as rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from blotter.core.cancel import CancelPlan, CancelScope, plan_cancels
from blotter.core.notices import AccountState, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Order, OrderKey
from blotter.core.store import OrderStore
from blotter.core.trust import TrustBoard, TrustReporter
from blotter.venues.base import Backoff, ReconnectingClient
from blotter.venues.net import now_ms
from tests.helpers import until

FAST = Backoff(base=0.05, factor=2.0, cap=0.3)  # reconnects in tests: quick, still jittered

SimT = TypeVar("SimT")
ClientT = TypeVar("ClientT", bound=ReconnectingClient)


@dataclass
class Env(Generic[SimT, ClientT]):
    """A running client, its simulator, its store, and everything it said."""

    sim: SimT
    client: ClientT
    store: OrderStore
    notices: list[Notice] = field(default_factory=list)
    states: list[AccountState] = field(default_factory=list)
    # which rows a live stream vouches for, fed as the engine feeds it (set by ``connected``)
    trust: TrustBoard = field(default_factory=lambda: TrustBoard(now_ms))

    def verified(self) -> bool:
        """Whether the client's rows are drawn as verified (its account is live and checked)."""
        return self.trust.verified(self.client.account)

    def resync_notices(self) -> list[str]:
        """The "While ... was disconnected", "Audit of ..." and "Since blotter last ran"
        notices, in order."""
        return [n.text for n in self.resyncs()]

    def resyncs(self) -> list[Notice]:
        """``resync_notices`` as the notices themselves (with the order ids they name)."""
        heads = ("While ", "Audit of ", "Since blotter last ran")
        return [n for n in self.notices if n.text.startswith(heads)]

    def rows(self, account: AccountKey | None = None) -> dict[str, Order]:
        """The table's rows of ``account`` (default: every account the client serves)."""
        accounts = (account,) if account is not None else (
            self.client.accounts() or (self.client.account,)
        )
        return {o.order_id: o for a in accounts for o in self.store.orders(a)}

    def state(self) -> VenueState | None:
        return self.states[-1].state if self.states else None

    def key(self, order_id: int | str) -> OrderKey:
        """The row key of ``order_id`` (of the client's own account if it has no row)."""
        row = self.rows().get(str(order_id))
        if row is not None:
            return row.key
        account = self.client.account
        return OrderKey(account.venue, account.account, str(order_id))

    def plan(self, scope: CancelScope) -> CancelPlan:
        """The one plan ``scope`` makes over the table (the test asks for one account)."""
        plans = plan_cancels(scope, self.store)
        assert len(plans) == 1, plans
        return plans[0]

    def texts(self) -> list[str]:
        return [n.line() for n in self.notices]


EnvT = TypeVar("EnvT", bound=Env[Any, Any])


@asynccontextmanager
async def connected(
    sim: SimT,
    build: Callable[[SimT, OrderStore, NoticeBus, StateBus], ClientT],
    env_type: Callable[..., EnvT] = Env,  # type: ignore[assignment]
) -> AsyncIterator[EnvT]:
    """``sim`` started, the client ``build`` makes running against it, both stopped after."""
    await asyncio.wait_for(sim.start(), 10)  # type: ignore[attr-defined]
    try:
        store, notices, states = OrderStore(clock=now_ms), NoticeBus(), StateBus()
        client = build(sim, store, notices, states)
        env = env_type(sim, client, store)
        # the trust board and reporter, wired as the engine wires them
        reporter = TrustReporter(env.trust, notices, now_ms)
        states.subscribe(env.trust.on_state)
        store.add_resync_listener(reporter.on_resync)
        store.add_resync_listener(env.trust.on_resync)
        store.add_close_listener(reporter.on_close)
        notices.subscribe(env.notices.append)
        states.subscribe(env.states.append)
        task = asyncio.create_task(client.run())
        try:
            yield env
        finally:
            await asyncio.wait_for(client.close(), 10)
            await asyncio.wait_for(task, 10)
            assert env.state() is VenueState.STOPPED
    finally:
        await asyncio.wait_for(sim.stop(), 10)  # type: ignore[attr-defined]


async def live(env: Env[Any, Any], timeout: float = 5.0) -> None:
    await until(lambda: env.state() is VenueState.LIVE, timeout=timeout, message="state LIVE")


async def trading_through_drops(
    env: Env[Any, Any], drops: int = 2, rate: float = 400.0, slow: float = 0.3
) -> None:
    """The venue keeps trading (its ``flow_step``, ``rate`` times a second: new orders, fills,
    closes) while its connections drop ``drops`` times, the answers to what the client reads
    after every drop but the first coming ``slow`` s late; the client is live again after each.
    Then the trading stops: the test checks that the client's rows equal the venue's."""
    sim: Any = env.sim
    stop = asyncio.Event()

    async def trade() -> None:
        while not stop.is_set():
            sim.flow_step()
            await asyncio.sleep(1 / rate)

    trading = asyncio.create_task(trade())
    try:
        for n in range(drops):
            await asyncio.sleep(0.3)
            sim.reply_delay = slow if n else 0.0
            await sim.drop_connections()
            await until(lambda: env.state() is not VenueState.LIVE, timeout=5)
            await live(env, timeout=10)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.wait_for(trading, 5)
        sim.reply_delay = 0.0
