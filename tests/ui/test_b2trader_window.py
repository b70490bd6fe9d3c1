"""The window against a real B2traderSimulator and B2traderClient over loopback: a broker's
rows under its own name, a row's Cancel button, the progress of many single cancels, the
Group action B2TRADER cannot offer, and Cancel All across the three demo venues."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QSettings

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.sim.b2trader import B2traderSimulator
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import CANCELLING, Column
from blotter.venues.b2trader.client import B2traderClient
from tests.helpers import until
from tests.ui.conftest import close_window, select_row
from tests.ui.test_main_window import click_cancel_button
from tests.ui.windows import FAST, WindowEnv, window_over

LOGIN = AccountKey("b2trader", "acme")


@dataclass
class Env(WindowEnv[B2traderSimulator]):
    main: list[str]  # order ids in "Acme Main"
    margin: list[str]  # order ids in "Acme Margin"

    def sim_ids(self) -> set[str]:
        return {o["orderId"] for o in self.sim.open_orders()}


@pytest.fixture
async def env(qtbot, tmp_path):
    sim = B2traderSimulator(seed=21)
    main_id, margin_id = sim.account_ids
    main = [sim.add_order(main_id, "spot.btc_usdt", "Buy", "0.01", str(60_000 + n))
            for n in range(6)]
    margin = [sim.add_order(margin_id, "cfd.eur_chf", "Sell", "10000", "0.95"),
              sim.add_order(margin_id, "spot.eth_usdt", "Buy", "1.5", "3000")]

    def build(sim, store, notices, states):
        return B2traderClient(
            LOGIN, rest_url=sim.rest_url, ws_url=sim.ws_url,
            api_token=sim.credentials["api_token"], store=store, notices=notices,
            states=states, broker="Acme", cancel_timeout=5.0, backoff=FAST,
        )

    def known(*args):
        return Env(*args, main=main, margin=margin)

    async with window_over(qtbot, tmp_path, sim, build,
                           lambda w: w.proxy.rowCount() == 8, known) as environment:
        yield environment


async def test_the_brokers_rows_show_its_name_and_each_trading_account(env):
    assert set(env.row_ids()) == env.sim_ids()
    assert env.cell(env.main[0], Column.VENUE) == "Acme"
    assert env.cell(env.main[0], Column.ACCOUNT) == "acme/Acme Main"
    assert env.cell(env.margin[0], Column.ACCOUNT) == "acme/Acme Margin"
    assert env.cell(env.margin[0], Column.TYPE) == "CFD Limit"
    assert env.cell(env.margin[0], Column.AMOUNT) == "10,000"
    # one login, two trading accounts in the table: the title counts what the table shows
    env.window.refresh()
    assert env.window.windowTitle().startswith(
        f"blotter — {len(env.main) + len(env.margin)} open orders on 2 accounts")


async def test_a_row_cancel_removes_exactly_that_order_at_the_broker(env, qtbot):
    env.sim.reply_delay = 0.3  # long enough to see the row pending
    target = env.margin[1]
    click_cancel_button(qtbot, env.window, env.proxy_row(target))
    await until(lambda: target in env.row_ids() and env.cell(target, Column.STATUS) == CANCELLING)
    await until(lambda: target not in env.row_ids())
    assert env.sim.order(target)["status"] == "Cancelled"  # type: ignore[index]
    assert set(env.row_ids()) == env.sim_ids() == set(env.main + env.margin) - {target}
    expected = (f"Acme · acme/Acme Margin — HTTP 200: Cancelled: ETH/USDT buy 1.5 @ 3000 "
                f"({target})")
    await until(lambda: expected in env.shown)


async def test_many_cancels_show_their_progress_then_how_they_ended(env, qtbot):
    env.sim.reply_delay = 0.15
    seen: list[str] = []  # the status bar's text, sampled: progress lines are not logged

    async def watch() -> None:
        while True:
            seen.append(env.window.status_bar.text)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        for n, order_id in enumerate(env.main):
            select_row(env.window.view, env.proxy_row(order_id), add=n > 0)
        assert env.window.actions_.selected.text() == "Cancel Selected (6)"
        env.window.actions_.selected.trigger()
        dialog = env.window.confirm_dialog  # six orders: asked first
        assert dialog is not None and dialog.question == "Cancel 6 open orders?"
        dialog.accept()
        done = "Acme · acme/Acme Main — Cancelled 6 of 6 on Acme Main"
        await until(lambda: done in env.shown, timeout=10)
        # and the action's own receipt ends it
        receipt = "Acme · acme/Acme Main — Cancelled 6 of 6 on acme/Acme Main"
        await until(lambda: env.shown[-1] == receipt, timeout=10)
    finally:
        watcher.cancel()
    progress = [t for t in seen if re.fullmatch(
        r"Acme · acme/Acme Main — Cancelling [0-5]/6 on Acme Main…", t)]
    assert progress, sorted(set(seen))
    await until(lambda: not set(env.main) & set(env.row_ids()))  # the next repaint
    assert env.sim_ids() == set(env.margin) == set(env.row_ids())


async def test_group_is_disabled_for_broker_rows_and_says_why(env):
    select_row(env.window.view, env.proxy_row(env.main[0]))
    group = env.window.actions_.group
    assert not group.isEnabled()
    assert group.toolTip() == (
        "B2TRADER has no order groups: select the orders and use Cancel Selected"
    )
    account = env.window.actions_.account
    assert account.isEnabled() and account.text() == "Cancel Account acme/Acme Main…"


async def test_cancel_all_across_three_venues_asks_once_and_sums_up_per_venue(qtbot, tmp_path):
    from blotter.demo import Demo

    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    window = MainWindow(engine, settings=QSettings(str(tmp_path / "s.ini"),
                                                   QSettings.Format.IniFormat))
    shown: list[str] = []
    window.status_bar.notice_logged.connect(lambda entry: shown.append(window.status_bar.text))
    window.show()
    demo = Demo(engine)
    try:
        await demo.start()
        for sim in demo.sims.values():
            sim.stop_flow()
        bfx, bybit, acme = demo.sims["bitfinex"], demo.sims["bybit"], demo.sims["b2trader"]
        counts = {"Bitfinex": len(bfx.open_orders()), "Bybit": len(bybit.open_orders()),
                  "Acme": len(acme.open_orders())}
        total = sum(counts.values())
        await until(lambda: window.model.rowCount() == total > 0, timeout=10)

        window.actions_.all.trigger()
        dialog = window.confirm_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.question == f"Cancel {total} open orders?"
        acme_lines = [f"acme/{a['accountName']} (Acme): "
                      f"{len(acme.open_orders(a['accountId']))}" for a in acme.accounts]
        assert dialog.lines == [*acme_lines, f"bfx-demo (Bitfinex): {counts['Bitfinex']}",
                                f"bybit-demo (Bybit): {counts['Bybit']}"]
        dialog.confirm_button.click()

        await until(lambda: not bfx.open_orders() and not bybit.open_orders()
                    and not acme.open_orders(), timeout=15)
        await until(lambda: window.model.rowCount() == 0, timeout=10)
        # after a fresh read of every account: nothing is left
        summary = (f"blotter — Cancelled {total} of {total}: Bitfinex {counts['Bitfinex']}, "
                   f"Bybit {counts['Bybit']}, Acme {counts['Acme']}; 0 left")
        await until(lambda: summary in shown, timeout=15)
    finally:
        close_window(window)
        await engine.stop()
        await demo.stop()
