"""Receipts in the window against real simulators and clients: a refusal in the venue's words
(a B2TRADER broker's 5xx, a Bybit key the venue refuses), a fill that beat the cancel named with
its price, and Cancel All proving itself: "0 left", or the order the venue would not cancel,
listed, with "Cancel the Rest" cancelling exactly it."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt

from blotter.core.closes import describe_order
from blotter.core.notices import Level, VenueState
from blotter.core.order import AccountKey
from blotter.sim.b2trader import B2traderSimulator
from blotter.sim.bybit import BybitSimulator
from blotter.venues.b2trader.client import B2traderClient
from blotter.venues.bybit.client import BybitClient
from tests.helpers import until
from tests.ui.test_main_window import click_cancel_button
from tests.ui.windows import FAST, WindowEnv, window_over

LOGIN = AccountKey("b2trader", "acme")
BYBIT = AccountKey("bybit", "bybit-test")


async def ended_with(env: WindowEnv, line: str, timeout: float = 10) -> None:
    await until(lambda: env.shown and env.shown[-1] == line, timeout=timeout,
                message=f"{line!r} as the last line; shown: {env.shown[-5:]}")


def described(env: WindowEnv, order_id: str) -> str:
    return describe_order(next(o for o in env.window.model.orders() if o.order_id == order_id))


# -- a B2TRADER broker ----------------------------------------------------------------------------
@pytest.fixture
async def acme(qtbot, tmp_path):
    sim = B2traderSimulator(seed=21)
    main_id, margin_id = sim.account_ids
    for n in range(3):
        sim.add_order(main_id, "spot.btc_usdt", "Buy", "0.01", str(60_000 + n))
    sim.add_order(margin_id, "cfd.eur_chf", "Sell", "10000", "0.95")

    def build(sim, store, notices, states):
        # one DELETE at a time: the broker's forced answers meet one order, in turn
        return B2traderClient(
            LOGIN, rest_url=sim.rest_url, ws_url=sim.ws_url,
            api_token=sim.credentials["api_token"], store=store, notices=notices,
            states=states, broker="Acme", cancel_timeout=5.0, backoff=FAST, cancel_concurrency=1,
        )

    async with window_over(qtbot, tmp_path, sim, build,
                           lambda w: w.proxy.rowCount() == 4) as environment:
        yield environment


def acme_ids(env: WindowEnv) -> set[str]:
    return {o["orderId"] for o in env.sim.open_orders()}


async def test_a_refused_cancel_ends_with_the_brokers_words(acme, qtbot):
    env = acme
    target = next(o["orderId"] for o in env.sim.open_orders() if o["marketId"] == "cfd.eur_chf")
    env.sim.force_status(500, count=3)  # the first try and both retries
    click_cancel_button(qtbot, env.window, env.proxy_row(target))
    await until(lambda: env.shown and env.shown[-1].startswith(
        "Acme · acme/Acme Margin — Cancelled 0 of 1 on acme/Acme Margin: "), timeout=10)
    line = env.shown[-1]
    assert "Simulated 500 Internal Server Error." in line  # the broker's own words
    assert target in line or target[:8] in line  # and which order
    assert env.window.status_bar.latest.level is Level.ERROR
    assert target in acme_ids(env) and target in env.row_ids()  # still open, still shown


async def test_cancel_all_proves_itself(acme):
    env = acme
    env.window.actions_.all.trigger()
    env.window.confirm_dialog.accept()
    await until(lambda: not acme_ids(env))
    await ended_with(env, "blotter — Cancelled 4 of 4: Acme 4; 0 left")
    assert not env.window.status_bar.rest_button.isVisible()


async def test_cancel_all_lists_what_the_venue_would_not_cancel_and_cancels_the_rest(acme, qtbot):
    env = acme
    env.sim.force_status(500, count=3)  # the first order to go is refused three times
    before = {o.order_id: describe_order(o) for o in env.window.model.orders()}
    env.window.actions_.all.trigger()
    env.window.confirm_dialog.accept()
    await until(lambda: env.shown and env.shown[-1].startswith("blotter — Cancelled 3 of 4: "),
                timeout=15)
    (left,) = acme_ids(env)
    line = env.shown[-1]
    short = left if len(left) <= 12 else left[:8] + "…"
    assert line.startswith("blotter — Cancelled 3 of 4: Acme 3; 1 rejected: ")
    assert line.endswith(f"; 1 left: {before[left]} (order {short})")
    bar = env.window.status_bar
    assert bar.rest == (next(o.key for o in env.window.model.orders() if o.order_id == left),)
    assert bar.rest_button.isVisible() and bar.rest_button.text() == "Cancel the Rest (1)"

    qtbot.mouseClick(bar.rest_button, Qt.MouseButton.LeftButton)
    assert env.window.confirm_dialog is None  # one order: it goes at once
    await until(lambda: not acme_ids(env))
    account = next(o["accountId"] for o in env.sim.cancel_requests if o["orderId"] == left)
    trading = next(a["accountName"] for a in env.sim.accounts if a["accountId"] == account)
    await ended_with(env, f"Acme · acme/{trading} — Cancelled 1 of 1 on acme/{trading} "
                          f"({before[left]})")
    assert not bar.rest_button.isVisible()
    # exactly it: one more DELETE, for that order
    assert [r["orderId"] for r in env.sim.cancel_requests[-1:]] == [left]


# -- Bybit --------------------------------------------------------------------------------------
@pytest.fixture
async def bybit(qtbot, tmp_path):
    sim = BybitSimulator(seed=11)
    ids = [
        sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000"),
        sim.place_order("linear", "ETHUSDT", "Sell", "0.5", "3500.5"),
        sim.place_order("inverse", "BTCUSD", "Buy", "100", "50000"),
    ]

    def build(sim, store, notices, states):
        credentials = sim.credentials
        return BybitClient(
            BYBIT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=credentials["api_key"],
            api_secret=credentials["api_secret"], store=store, notices=notices, states=states,
            cancel_timeout=5.0, backoff=FAST,
        )

    async with window_over(qtbot, tmp_path, sim, build,
                           lambda w: w.proxy.rowCount() == 3) as environment:
        environment.ids = ids  # type: ignore[attr-defined]
        yield environment


async def test_a_fill_that_beat_the_cancel_is_named_with_its_price(bybit):
    env = bybit
    what = {oid: described(env, oid) for oid in env.ids}
    for n, oid in enumerate(env.ids):
        env.select(oid, add=n > 0)
    env.sim.fill_on_cancel = True  # the first order the venue cancels fills instead
    env.window.actions_.selected.trigger()
    env.window.confirm_dialog.accept()
    await until(lambda: env.shown and env.shown[-1].startswith(
        "Bybit · bybit-test — Cancelled 2 of 3 on bybit-test; 1 filled first ("), timeout=10)
    named = re.fullmatch(r".*; 1 filled first \((.+)\)", env.shown[-1])
    assert named is not None
    filled = [oid for oid in env.ids if env.sim.order(oid)["orderStatus"] == "Filled"]
    assert [what[oid] for oid in filled] == [named.group(1)]
    assert env.window.status_bar.latest.level is Level.WARNING


async def test_a_failed_account_says_the_venues_refusal(bybit, qtbot):
    env = bybit
    env.sim.refuse_key = True
    await env.sim.drop_connections()
    await until(lambda: env.window.status_bar.indicator(BYBIT).state.state is VenueState.FAILED)
    target = env.ids[1]
    click_cancel_button(qtbot, env.window, env.proxy_row(target))
    prefix = "Bybit · bybit-test — Cancelled 0 of 1 on bybit-test: "
    await until(lambda: env.shown and env.shown[-1].startswith(prefix), timeout=10)
    assert "10003" in env.shown[-1]  # the venue's code for a refused key, in its words
    assert env.window.status_bar.latest.level is Level.ERROR
    assert env.sim.order(target)["orderStatus"] == "New"
