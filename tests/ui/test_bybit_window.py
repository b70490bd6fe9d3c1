"""The window against a real BybitSimulator and BybitClient over loopback: a Bybit row's Cancel
button, the venue's words in the status bar, and the Group action Bybit cannot offer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from PySide6.QtCore import Qt

from blotter.core.order import AccountKey
from blotter.sim.bybit import BybitSimulator
from blotter.ui.orders_model import CANCELLING, Column
from blotter.venues.bybit.client import BybitClient
from tests.helpers import until
from tests.ui.test_main_window import click_cancel_button
from tests.ui.windows import FAST, WindowEnv, window_over

ACCOUNT = AccountKey("bybit", "bybit-test")


@dataclass
class Env(WindowEnv[BybitSimulator]):
    ids: dict[str, str]  # name → orderId of the known book

    def sim_ids(self) -> set[str]:
        return {o["orderId"] for o in self.sim.open_orders()}


@pytest.fixture
async def env(qtbot, tmp_path):
    sim = BybitSimulator(seed=11)
    ids = {
        "spot": sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000"),
        "linear": sim.place_order("linear", "ETHUSDT", "Sell", "0.5", "3500.5"),
        "inverse": sim.place_order("inverse", "BTCUSD", "Buy", "100", "50000"),
        "option": sim.place_order("option", "BTC-27DEC24-80000-C", "Buy", "1", "500"),
        "stop": sim.place_order("linear", "BTCUSDT", "Sell", "0.01", "45000",
                                trigger_price="46000"),
    }

    def build(sim, store, notices, states):
        credentials = sim.credentials
        return BybitClient(
            ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=credentials["api_key"],
            api_secret=credentials["api_secret"], store=store, notices=notices, states=states,
            cancel_timeout=5.0, backoff=FAST,
        )

    def known(*args):
        return Env(*args, ids=ids)

    async with window_over(qtbot, tmp_path, sim, build,
                           lambda w: w.proxy.rowCount() == 5, known) as environment:
        yield environment


async def test_the_table_shows_every_category_and_untriggered_orders(env):
    assert set(env.row_ids()) == env.sim_ids()
    assert env.status(env.ids["stop"]) == "Untriggered · trigger 46,000"
    row = env.proxy_row(env.ids["linear"])
    assert env.window.proxy.index(row, Column.PRICE).data() == "3,500.5"
    assert env.window.proxy.index(row, Column.VENUE).data() == "Bybit"


async def test_a_bybit_row_cancel_is_pending_until_the_stream_says_cancelled(env, qtbot):
    env.sim.ack_to_close_delay = 0.4  # the ack comes first; the row must wait for the push
    target = env.ids["linear"]
    click_cancel_button(qtbot, env.window, env.proxy_row(target))

    await until(lambda: target in env.row_ids() and env.status(target) == CANCELLING)
    await until(lambda: target not in env.row_ids())
    assert env.sim.order(target)["orderStatus"] == "Cancelled"  # type: ignore[index]
    assert set(env.row_ids()) == env.sim_ids() == set(env.ids.values()) - {target}
    expected = ("Bybit · bybit-test — Cancelled · CancelByUser · EC_PerCancelRequest: "
                "ETHUSDT sell 0.50 @ 3500.50 (linear)")  # the venue's own digits
    await until(lambda: expected in env.shown)


async def test_a_cancel_too_late_shows_bybits_words(env, qtbot):
    target = env.ids["inverse"]
    env.sim._orders.pop(target)  # gone at the venue, and its push lost
    click_cancel_button(qtbot, env.window, env.proxy_row(target))

    expected = "110001: order not exists or too late to cancel"
    await until(lambda: any(expected in line for line in env.shown))
    await until(lambda: target not in env.row_ids())  # the re-query settles the row
    assert set(env.row_ids()) == env.sim_ids()


async def test_group_is_disabled_for_bybit_rows_and_says_why(env, qtbot):
    actions = env.window.actions_
    env.select(env.ids["spot"])
    assert actions.order.isEnabled() and actions.symbol.isEnabled()
    assert not actions.group.isEnabled()
    assert actions.group.toolTip() == "Bybit has no order groups"
    qtbot.keyClick(env.window.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    await asyncio.sleep(0.2)
    assert set(env.row_ids()) == env.sim_ids() == set(env.ids.values())  # nothing cancelled


async def test_cancel_symbol_on_bybit_cancels_that_instrument_only(env, qtbot):
    env.select(env.ids["spot"])  # BTCUSDT Spot; the linear stop is BTCUSDT too, in another market
    assert env.window.actions_.symbol.text() == "Cancel BTCUSDT Spot on bybit-test"
    env.window.actions_.symbol.trigger()
    await until(lambda: env.ids["spot"] not in env.row_ids())
    await until(lambda: "Bybit · bybit-test — Cancelled 1 of 1 on bybit-test "
                        "(BTCUSDT buy 0.01 @ 40,000)" in env.shown)
    assert env.sim_ids() == set(env.ids.values()) - {env.ids["spot"]} == set(env.row_ids())


async def test_the_market_kind_tells_a_spot_row_from_a_linear_row(env):
    proxy = env.window.proxy
    spot = proxy.index(env.proxy_row(env.ids["spot"]), Column.TYPE).data()
    stop = proxy.index(env.proxy_row(env.ids["stop"]), Column.TYPE).data()
    assert (spot, stop) == ("Spot Limit", "Linear Stop Limit")
    env.window.filter_edit.setText("linear")
    await until(lambda: set(env.row_ids()) == {env.ids["linear"], env.ids["stop"]})
