"""A filter typed while the venue floods the table, in the real window against a
BitfinexSimulator and BitfinexClient over loopback: whatever fills, closes and new orders come
through, and through a dropped connection, the rows shown are exactly the venue's open orders
that match the words typed (a change of a row that stays hidden is not even signalled, so this
is what holds that shortcut to the truth)."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QCursor

from blotter.core.notices import VenueState
from blotter.core.order import AccountKey
from blotter.sim.bitfinex import BitfinexSimulator
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_view import passes, typed_words
from tests.helpers import until
from tests.ui.windows import FAST, WindowEnv, window_over

ACCOUNT = AccountKey("bitfinex", "bfx-filter")
ORDERS = 300
AWAY = QPoint(-4000, -4000)  # the pointer away from the window: no rows held


class Env(WindowEnv[BitfinexSimulator]):
    def venue_matching(self, text: str) -> set[str]:
        """The venue's open orders whose rows hold every word of ``text``."""
        words = typed_words(text)
        store, model = self.engine.store, self.window.model
        venue_ids = {str(o[0]) for o in self.sim.open_orders()}
        return {o.order_id for o in store
                if o.order_id in venue_ids and passes(model.filter_words(o), words)}

    def as_venue(self, text: str) -> bool:
        """The table shows exactly the venue's open orders matching ``text``, and the store
        holds exactly the venue's open orders."""
        venue_ids = {str(o[0]) for o in self.sim.open_orders()}
        if {o.order_id for o in self.engine.store} != venue_ids:
            return False
        return set(self.row_ids()) == self.venue_matching(text)


@pytest.fixture(autouse=True)
def _pointer_away():
    QCursor.setPos(AWAY)
    yield
    QCursor.setPos(AWAY)


@pytest.fixture
async def env(qtbot, tmp_path):
    from blotter.venues.bitfinex.client import BitfinexClient

    sim = BitfinexSimulator(seed=5, initial_orders=ORDERS)

    def build(sim, store, notices, states):
        credentials = sim.credentials
        return BitfinexClient(
            ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url,
            api_key=credentials["api_key"], api_secret=credentials["api_secret"],
            store=store, notices=notices, states=states, nonce_dir=tmp_path / "nonces",
            cancel_timeout=5.0, backoff=FAST,
        )

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
