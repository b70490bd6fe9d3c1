"""The cancel actions in the window against a real BitfinexSimulator and BitfinexClient: every
scope from its key, menu or toolbar button, the confirmation at its threshold (set in
Preferences), Enter and Escape, the receipt that ends each action, and the key of an action
that cannot run saying why.

The book (see tests/ui/test_main_window.py): group 7 = three tBTCUSD buys of 0.01 (30,000,
30,100.5, 30,200), group 8 = two tETHUSD sells (0.5 @ 2,000, 0.25 @ 2,100), a loose tBTCUSD buy
of 0.02 @ 29,000 and a tXRPUSD buy of 100 @ 0.5123.
"""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QToolButton

from blotter.core.closes import describe_order
from blotter.ui.preferences import CancelPreferences
from tests.helpers import until
from tests.ui.test_main_window import Env, bitfinex_window, click_cancel_button

SOURCE = "Bitfinex · bfx-test — "


@pytest.fixture
async def env(qtbot, tmp_path):
    async with bitfinex_window(qtbot, tmp_path) as environment:
        yield environment


def ids(env: Env, symbol: str) -> set[str]:
    return {str(o[0]) for o in env.sim.open_orders() if o[3] == symbol}


async def ended_with(env: Env, line: str, timeout: float = 10) -> None:
    """The action's last status line is ``line`` (the receipt ends it)."""
    await until(lambda: env.shown and env.shown[-1] == line, timeout=timeout,
                message=f"{line!r} as the last line; shown: {env.shown[-5:]}")


def key(qtbot, env: Env, k: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(env.window.view, k, modifiers)


CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


async def test_one_order_goes_at_once_and_ends_with_its_receipt(env, qtbot):
    xrp = next(iter(ids(env, "tXRPUSD")))
    click_cancel_button(qtbot, env.window, env.proxy_row(xrp))
    assert env.window.confirm_dialog is None  # one order: no question
    await ended_with(env, SOURCE + "Cancelled 1 of 1 on bfx-test (tXRPUSD buy 100 @ 0.5123)")
    # the venue's own words came on the way; the receipt says it was done
    submitted = f"{SOURCE}SUCCESS: Submitted for cancellation; waiting for confirmation (ID: {xrp})."
    assert submitted in env.shown[:-1]
    assert xrp not in env.sim_ids()


async def test_delete_on_several_rows_asks_and_escape_keeps_them(env, qtbot):
    chosen = ids(env, "tXRPUSD") | {str(o[0]) for o in env.sim.open_orders() if o[1] is None}
    assert len(chosen) == 2
    for n, oid in enumerate(sorted(chosen)):
        env.select(oid, add=n > 0)
    assert env.window.actions_.order.text() == "Cancel 2 Selected"
    key(qtbot, env, Qt.Key.Key_Delete)
    dialog = env.window.confirm_dialog
    assert dialog is not None and dialog.question == "Cancel 2 open orders?"
    assert dialog.lines == ["bfx-test (Bitfinex): 2"]
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # keeps the orders
    assert env.window.confirm_dialog is None
    await asyncio.sleep(0.3)
    assert chosen <= env.sim_ids() and chosen <= set(env.row_ids())

    env.window.activateWindow()  # (a window manager gives it back; offscreen Qt does not)
    await until(lambda: QApplication.activeWindow() is env.window)
    key(qtbot, env, Qt.Key.Key_Delete)
    dialog = env.window.confirm_dialog
    assert dialog is not None
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # confirms
    await until(lambda: not chosen & env.sim_ids())
    await ended_with(env, SOURCE + "Cancelled 2 of 2 on bfx-test")
    assert len(env.sim_ids()) == 5


async def test_sells_of_the_rows_instrument_by_key(env, qtbot):
    eth = ids(env, "tETHUSD")
    env.select(next(iter(eth)))
    assert env.window.actions_.sells.text() == "Cancel tETHUSD Sells on bfx-test"
    key(qtbot, env, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    dialog = env.window.confirm_dialog
    assert dialog is not None and dialog.question == "Cancel 2 open orders?"
    assert dialog.aimed.text() == "Sells of tETHUSD on bfx-test"
    dialog.accept()
    await until(lambda: not eth & env.sim_ids())
    await ended_with(env, SOURCE + "Cancelled 2 of 2 on bfx-test")
    assert len(env.sim_ids()) == 5


async def test_a_side_with_nothing_open_says_so_and_lists_what_is(env, qtbot):
    env.select(next(iter(ids(env, "tETHUSD"))))
    key(qtbot, env, Qt.Key.Key_B, Qt.KeyboardModifier.AltModifier)  # buys of tETHUSD: none
    assert env.window.confirm_dialog is None
    await ended_with(env, "blotter — Nothing to cancel: no open buys of tETHUSD on bfx-test. "
                          "Open there: tBTCUSD (4 buys), tETHUSD (2 sells), tXRPUSD (1 buy).")
    assert len(env.sim_ids()) == 7


async def test_buys_of_the_instrument_leave_the_other_instruments(env, qtbot):
    btc = ids(env, "tBTCUSD")
    env.select(next(iter(btc)))
    key(qtbot, env, Qt.Key.Key_B, Qt.KeyboardModifier.AltModifier)
    dialog = env.window.confirm_dialog
    assert dialog is not None and dialog.lines == ["bfx-test (Bitfinex): 4"]
    dialog.accept()
    await until(lambda: not btc & env.sim_ids())
    await ended_with(env, SOURCE + "Cancelled 4 of 4 on bfx-test")
    assert env.sim_ids() == ids(env, "tETHUSD") | ids(env, "tXRPUSD")
    await until(lambda: set(env.row_ids()) == env.sim_ids())


async def test_the_instrument_everywhere_by_key(env, qtbot):
    xrp = ids(env, "tXRPUSD")
    env.select(next(iter(xrp)))
    assert env.window.actions_.everywhere.text() == "Cancel tXRPUSD on Every Bitfinex Account"
    key(qtbot, env, Qt.Key.Key_E, CTRL_SHIFT)
    await until(lambda: not xrp & env.sim_ids())
    await ended_with(env, SOURCE + "Cancelled 1 of 1 on bfx-test (tXRPUSD buy 100 @ 0.5123)")


async def test_cancel_visible_takes_what_the_filter_shows(env, qtbot):
    env.window.filter_edit.setText("teth")
    await until(lambda: len(env.row_ids()) == 2)
    visible = env.window.actions_.visible
    await until(lambda: visible.text() == "Cancel 2 visible of 7")
    button = env.window.toolbar.widgetForAction(visible)
    assert isinstance(button, QToolButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # from the toolbar
    dialog = env.window.confirm_dialog
    assert dialog is not None and dialog.aimed.text() == "2 visible orders"
    dialog.accept()
    await until(lambda: not ids(env, "tETHUSD"))
    await ended_with(env, SOURCE + "Cancelled 2 of 2 on bfx-test")
    assert len(env.sim_ids()) == 5


async def test_one_side_of_the_account_from_the_orders_menu_proves_itself(env):
    env.select(next(iter(ids(env, "tXRPUSD"))))
    entry = next(a for a in env.window.orders_menu.actions()
                 if a.objectName() == "cancel-account-sells")
    assert entry.text() == "Cancel Sells on bfx-test…"
    entry.trigger()
    dialog = env.window.confirm_dialog  # an account's scope always asks, whatever its size
    assert dialog is not None and dialog.windowTitle() == "Cancel Account Sells"
    dialog.accept()
    await until(lambda: not ids(env, "tETHUSD"))
    await ended_with(env, SOURCE + "Cancelled 2 of 2 on bfx-test; 0 left")
    assert len(env.sim_ids()) == 5


async def test_all_buys_from_the_orders_menu(env, qtbot):
    entry = next(a for a in env.window.orders_menu.actions() if a.objectName() == "cancel-all-buys")
    entry.trigger()
    dialog = env.window.confirm_dialog
    assert dialog is not None and dialog.windowTitle() == "Cancel All Buys"
    assert dialog.question == "Cancel 5 open orders?"
    qtbot.keyClick(dialog, Qt.Key.Key_Enter)  # the keypad's Enter confirms too
    await until(lambda: env.sim_ids() == ids(env, "tETHUSD"))
    await ended_with(env, SOURCE + "Cancelled 5 of 5 on bfx-test; 0 left")


async def test_preferences_set_when_a_cancel_asks(env, qtbot, tmp_path):
    window = env.window
    window.preferences_action.trigger()
    prefs = window.cancels.preferences_dialog
    assert prefs is not None and prefs.confirm_above.value() == 1
    assert prefs.always_ask.isChecked()
    prefs.confirm_above.setValue(5)
    prefs.accept()
    assert window.cancels.preferences == CancelPreferences(5, True)
    settings = window._settings_store()
    assert CancelPreferences.load(settings) == CancelPreferences(5, True)  # kept for next run

    group7 = {str(o[0]) for o in env.sim.open_orders() if o[1] == 7}
    for n, oid in enumerate(sorted(group7)):
        env.select(oid, add=n > 0)
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)  # three orders, five allowed: no question
    assert window.confirm_dialog is None
    await until(lambda: not group7 & env.sim_ids())
    await ended_with(env, SOURCE + "Cancelled 3 of 3 on bfx-test")

    window.actions_.all.trigger()  # Cancel All still asks, whatever its size
    assert window.confirm_dialog is not None
    window.confirm_dialog.reject()

    window.cancels.set_preferences(CancelPreferences(5, always_ask_broad=False))
    window.actions_.all.trigger()  # four orders, five allowed, and not always asked: goes
    assert window.confirm_dialog is None
    await until(lambda: not env.sim_ids())
    await ended_with(env, SOURCE + "Cancelled 4 of 4 on bfx-test; 0 left")
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert CancelPreferences.load(again) == CancelPreferences(5, False)


async def test_a_key_whose_action_cannot_run_says_why(env, qtbot):
    window = env.window
    window.view.clearSelection()
    key(qtbot, env, Qt.Key.Key_Delete)
    await ended_with(env, "blotter — Cancel Order: Select an order to cancel it")
    env.select(next(iter(ids(env, "tXRPUSD"))))
    key(qtbot, env, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    await ended_with(env, "blotter — Cancel Group: This order is not in a group")
    assert len(env.sim_ids()) == 7


async def test_the_receipts_line_opens_its_every_order_in_the_log(env, qtbot):
    group8 = {str(o[0]) for o in env.sim.open_orders() if o[1] == 8}
    described = {o.order_id: describe_order(o) for o in env.window.model.orders()
                 if o.order_id in group8}
    for n, oid in enumerate(sorted(group8)):
        env.select(oid, add=n > 0)
    env.window.actions_.selected.trigger()
    env.window.confirm_dialog.accept()
    await ended_with(env, SOURCE + "Cancelled 2 of 2 on bfx-test")
    qtbot.mouseClick(env.window.status_bar.notice_label, Qt.MouseButton.LeftButton)
    log = env.window.notice_log
    assert log is not None and log.isVisible()
    row = log.current()  # the line clicked, unfolded
    assert row is not None and log.table.isExpanded(log.table.currentIndex())
    assert row.message == "Cancelled 2 of 2 on bfx-test"
    lines = sorted(line for line in log.details(0) if " · order " in line)
    assert len(lines) == 2
    for line, (oid, what) in zip(lines, sorted(described.items()), strict=True):
        assert line.startswith(f"bfx-test · order {oid} ({what}): cancelled"), line
