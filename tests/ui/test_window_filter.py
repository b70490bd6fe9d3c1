"""A filter typed while the venue floods the table, in the real window against each venue's
simulator and real client over loopback: whatever fills, closes and new orders come through,
and through a dropped connection, the rows shown are exactly the venue's open orders that match
the words typed (a change of a row that stays hidden is not even signalled, so this is what
holds that shortcut to the truth)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QCursor

from blotter.core.notices import VenueState
from blotter.core.order import AccountKey
from blotter.sim.bitfinex import BitfinexSimulator
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_view import passes, typed_words
from tests.helpers import until
from tests.ui.windows import (
    WindowEnv,
    bitfinex_build,
    busy_venue,
    venue_open_ids,
    window_over,
)

ACCOUNT = AccountKey("bitfinex", "bfx-filter")
ORDERS = 300
AWAY = QPoint(-4000, -4000)  # the pointer away from the window: no rows held


class Env(WindowEnv[Any]):
    def venue_ids(self) -> set[str]:
        """The venue's open orders (every account of the login)."""
        return venue_open_ids(self.sim)

    def venue_matching(self, text: str) -> set[str]:
        """The venue's open orders whose rows hold every word of ``text``."""
        words = typed_words(text)
        store, model = self.engine.store, self.window.model
        venue_ids = self.venue_ids()
        return {o.order_id for o in store
                if o.order_id in venue_ids and passes(model.filter_words(o), words)}

    def as_venue(self, text: str) -> bool:
        """The table shows exactly the venue's open orders matching ``text``, and the store
        holds exactly the venue's open orders."""
        if {o.order_id for o in self.engine.store} != self.venue_ids():
            return False
        return set(self.row_ids()) == self.venue_matching(text)


@pytest.fixture(autouse=True)
def _pointer_away():
    QCursor.setPos(AWAY)
    yield
    QCursor.setPos(AWAY)


@pytest.fixture
async def env(qtbot, tmp_path):

    sim = BitfinexSimulator(seed=5, initial_orders=ORDERS)

    build = bitfinex_build(ACCOUNT, tmp_path)

    def ready(window: MainWindow) -> bool:
        return window.proxy.rowCount() == ORDERS and window.engine.trust.verified(ACCOUNT)

    async with window_over(qtbot, tmp_path, sim, build, ready, Env) as environment:
        yield environment


@pytest.mark.parametrize("typed", ["btc", "partially", "BTC sell"])
async def test_rows_shown_under_a_flood_are_the_venues_matching_orders(env, typed):
    env.window.filter_edit.setText(typed)
    assert 0 < env.window.proxy.rowCount() < ORDERS or typed == "partially"
    sent = await env.sim.flood(rate=1500, seconds=1.5)
    assert sent["ou"] > 500 and sent["on"] and sent["oc"]
    await until(lambda: env.as_venue(typed), timeout=10,
                message="the rows shown are not the venue's open orders that match")
    assert env.row_ids()  # something matched, so the test saw rows come and go
    env.window.filter_edit.setText("")
    await until(lambda: env.window.proxy.rowCount() == len(env.sim.open_orders()))


async def test_a_drop_in_the_middle_of_the_flood_ends_with_the_venues_matching_orders(env):
    env.window.filter_edit.setText("eth")
    flood = asyncio.ensure_future(env.sim.flood(rate=1500, seconds=2.0))
    await asyncio.sleep(0.5)
    await env.sim.drop_connections()  # the venue keeps trading while the client is away
    await flood
    await until(lambda: env.engine.states.current[ACCOUNT].state is VenueState.LIVE, timeout=10)
    await until(lambda: env.as_venue("eth"), timeout=10,
                message="after the resync the rows shown are not the venue's matching orders")
    assert env.row_ids()


@pytest.fixture(params=["bybit", "b2trader"])
async def busy_env(request, qtbot, tmp_path):
    """The window over a Bybit or B2TRADER venue holding about 120 open orders."""
    sim, build = busy_venue(request.param, tmp_path, 120)

    def ready(window: MainWindow) -> bool:
        return window.proxy.rowCount() == len(sim.open_orders())

    async with window_over(qtbot, tmp_path, sim, build, ready, Env) as environment:
        yield environment


async def test_every_venue_trading_through_a_drop_ends_with_its_matching_orders_shown(busy_env):
    env = busy_env
    env.window.filter_edit.setText("btc")
    stop = asyncio.Event()

    async def trade() -> None:
        while not stop.is_set():
            env.sim.flow_step()
            await asyncio.sleep(0.002)

    trading = asyncio.create_task(trade())
    try:
        await asyncio.sleep(0.6)
        await env.sim.drop_connections()
        await asyncio.sleep(0.8)
    finally:
        stop.set()
        await trading
    await until(lambda: env.as_venue("btc"), timeout=10,
                message="the rows shown are not the venue's open orders that match")
    assert env.row_ids()
