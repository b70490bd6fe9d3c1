"""The window against a real BitfinexSimulator and BitfinexClient over loopback.

Everything async runs on the qasync loop (see conftest.py): waits are ``await until(...)``, never
``qtbot.wait*``; clicks and keys go through qtbot, which sends them synchronously.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from blotter.core.notices import VenueState
from blotter.core.order import AccountKey
from blotter.sim.bitfinex import BitfinexSimulator
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import CANCELLING, Column
from tests.helpers import until
from tests.ui.windows import WindowEnv, bitfinex_build, window_over

ACCOUNT = AccountKey("bitfinex", "bfx-test")


class Env(WindowEnv[BitfinexSimulator]):
    def sim_ids(self) -> set[str]:
        return {str(o[0]) for o in self.sim.open_orders()}


@asynccontextmanager
async def bitfinex_window(qtbot, tmp_path) -> AsyncIterator[Env]:
    """The window over a BitfinexSimulator holding the known book below."""

    sim = BitfinexSimulator(seed=7)
    # a known book: group 7 (3 × tBTCUSD), group 8 (2 × tETHUSD), two loose orders
    for price in ("30000", "30100.5", "30200"):
        sim.place_order("tBTCUSD", "0.01", price, gid=7)
    sim.place_order("tETHUSD", "-0.5", "2000", gid=8)
    sim.place_order("tETHUSD", "-0.25", "2100", gid=8)
    sim.place_order("tBTCUSD", "0.02", "29000")
    sim.place_order("tXRPUSD", "100", "0.5123")

    build = bitfinex_build(ACCOUNT, tmp_path)

    def ready(window: MainWindow) -> bool:
        return len(window.model.orders()) == 7 and window.proxy.rowCount() == 7

    async with window_over(qtbot, tmp_path, sim, build, ready, Env) as environment:
        yield environment


@pytest.fixture
async def env(qtbot, tmp_path):
    async with bitfinex_window(qtbot, tmp_path) as environment:
        yield environment


def click_cancel_button(qtbot, window: MainWindow, proxy_row: int) -> None:
    view = window.view
    index = window.proxy.index(proxy_row, Column.CANCEL)
    view.scrollTo(index)
    rect = view.cancel_button_rect(index)
    assert not rect.isEmpty()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def second_press_as_double_click(window: MainWindow, proxy_row: int) -> None:
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    view = window.view
    rect = view.cancel_button_rect(window.proxy.index(proxy_row, Column.CANCEL))
    assert not rect.isEmpty()
    local = QPointF(rect.center())
    viewport = view.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, buttons in ((QEvent.Type.MouseButtonDblClick, left),
                          (QEvent.Type.MouseButtonRelease, none)):
        event = QMouseEvent(kind, local, viewport.mapToGlobal(local), left, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, event)


async def test_table_shows_the_venues_orders(env):
    assert set(env.row_ids()) == env.sim_ids()
    assert "blotter — 7 open orders" in env.window.windowTitle()
    indicator = env.window.status_bar.indicator(ACCOUNT)
    assert indicator is not None and indicator.state.state is VenueState.LIVE
    xrp = next(o for o in env.sim.open_orders() if o[3] == "tXRPUSD")
    row = env.proxy_row(xrp[0])
    assert env.window.proxy.index(row, Column.PRICE).data() == "0.5123"
    assert env.window.proxy.index(row, Column.SIDE).data() == "Buy"


async def test_cancel_button_cancels_that_order(env, qtbot):
    env.sim.ack_to_close_delay = 0.4  # long enough to see the row pending
    target = env.sim.open_orders()[1][0]
    others = env.sim_ids() - {str(target)}
    click_cancel_button(qtbot, env.window, env.proxy_row(target))

    await until(lambda: str(target) in env.row_ids() and env.status(target) == CANCELLING)
    assert env.window.model.is_pending(
        next(o.key for o in env.window.model.orders() if o.order_id == str(target))
    )
    await until(lambda: str(target) not in env.row_ids())
    assert env.sim.order(target) is None
    assert set(env.row_ids()) == others == env.sim_ids()
    text = f"Submitted for cancellation; waiting for confirmation (ID: {target})."
    await until(lambda: any(text in line for line in env.shown))
    line = next(line for line in env.shown if text in line)
    assert line.startswith("Bitfinex · bfx-test — SUCCESS: ")


async def test_a_quick_second_click_cancels_the_order_that_moved_up(env, qtbot):
    """Rows move up as orders leave: two quick clicks on one spot are two orders, not a
    double click to ignore."""
    first = env.row_ids()[0]
    click_cancel_button(qtbot, env.window, 0)
    await until(lambda: first not in env.row_ids())
    second = env.row_ids()[0]
    # Same spot, within the double-click interval: Qt delivers the second press as a double
    # click (QTest's own clicks never do, so the events are sent as the platform would).
    second_press_as_double_click(env.window, 0)
    await until(lambda: second not in env.row_ids())
    assert not {first, second} & env.sim_ids()
    assert set(env.row_ids()) == env.sim_ids()


async def test_a_double_click_on_a_pending_row_sends_one_cancel(env, qtbot):
    env.sim.ack_to_close_delay = 0.4
    target = env.row_ids()[0]
    click_cancel_button(qtbot, env.window, 0)
    await until(lambda: env.status(target) == CANCELLING)
    second_press_as_double_click(env.window, 0)
    await until(lambda: target not in env.row_ids())
    cancels = [i for i in env.sim.inputs_received
               if i[1] in ("oc", "oc_multi") and str(i[3]).count(target)]
    assert len(cancels) == 1


async def test_cancel_group_removes_exactly_that_group(env, qtbot):
    group7 = {str(o[0]) for o in env.sim.open_orders() if o[1] == 7}
    assert len(group7) == 3
    env.select(next(iter(group7)))
    assert env.window.actions_.group.isEnabled()
    qtbot.keyClick(env.window.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    # three orders: it asks first (more than one, by default); Enter confirms
    dialog = env.window.confirm_dialog
    assert dialog is not None and dialog.question == "Cancel 3 open orders?"
    qtbot.keyClick(dialog, Qt.Key.Key_Return)

    await until(lambda: not group7 & set(env.row_ids()))
    assert not group7 & env.sim_ids()
    assert len(env.row_ids()) == 4
    assert set(env.row_ids()) == env.sim_ids()


async def test_cancel_all_asks_first(env):
    window = env.window
    window.actions_.all.trigger()
    dialog = window.confirm_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.question == "Cancel 7 open orders?"
    assert dialog.lines == ["bfx-test (Bitfinex): 7"]

    dialog.reject()
    assert window.confirm_dialog is None
    await asyncio.sleep(0.3)
    assert len(env.sim.open_orders()) == 7
    assert len(env.row_ids()) == 7

    window.actions_.all.trigger()
    dialog = window.confirm_dialog
    assert dialog is not None
    dialog.confirm_button.click()
    await until(lambda: env.sim.open_orders() == [] and window.model.rowCount() == 0)
    await until(lambda: window.stack.currentWidget() is window.empty)
    assert window.empty.title.text() == "No open orders"
    assert "bfx-test" in window.empty.states.text()


async def test_failed_cancel_shows_the_venues_text(env, qtbot):
    target = env.sim.open_orders()[0][0]
    row = env.proxy_row(target)
    # the venue closes it before our request arrives; its "oc" is still on the way to us
    env.sim.cancel_external(target)
    click_cancel_button(qtbot, env.window, row)

    await until(lambda: any("ERROR: Order not found." in line for line in env.shown))
    await until(lambda: str(target) not in env.row_ids())
    assert set(env.row_ids()) == env.sim_ids()


async def test_a_refused_cancel_restores_the_row_and_says_why(env, qtbot):
    """During venue maintenance cancels go over REST; a rate-limited REST answer is a refusal:
    the row leaves its pending state, stays in the table, and the status bar has the venue's
    words."""
    env.sim.rest_rate_limit = 0  # every REST call is answered 429
    await env.sim.send_info(20060)
    await until(lambda: env.window.status_bar.indicator(ACCOUNT).state.state is VenueState.STALE)
    target = env.row_ids()[0]
    before = env.status(target)
    click_cancel_button(qtbot, env.window, 0)

    await until(lambda: any("ratelimit: error" in line for line in env.shown))
    # as before, marked as refused (the venue's words are in the row's tooltip)
    mark, _, status = before.rpartition(" · ")
    await until(lambda: env.status(target) == f"{mark} · ⚠ rejected · {status}".lstrip(" ·"))
    assert target in env.row_ids() and target in env.sim_ids()
    assert not env.window.model.is_pending(
        next(o.key for o in env.window.model.orders() if o.order_id == target))


async def test_reconnect_shows_in_the_indicator_and_resyncs(env):
    indicator = env.window.status_bar.indicator(ACCOUNT)
    assert indicator is not None and indicator.state.state is VenueState.LIVE
    before = len(env.states)
    await env.sim.drop_connections()
    # while we are away, the book changes; no frames reach us
    gone = env.sim.open_orders()[0][0]
    env.sim.cancel_external(gone)
    new = env.sim.place_order("tSOLUSD", "3", "150")
    await until(lambda: indicator.state.state is not VenueState.LIVE)
    await until(lambda: indicator.state.state is VenueState.LIVE)
    assert VenueState.RECONNECTING in {s.state for s in env.states[before:]}
    await until(lambda: set(env.row_ids()) == env.sim_ids())
    assert str(new) in env.row_ids() and str(gone) not in env.row_ids()


async def test_delete_key_cancels_the_selected_row(env, qtbot):
    target = env.sim.open_orders()[-1][0]
    env.select(target)
    assert env.window.view.current_order().order_id == str(target)
    qtbot.keyClick(env.window.view, Qt.Key.Key_Delete)
    await until(lambda: str(target) not in env.row_ids())
    assert env.sim.order(target) is None
    assert len(env.sim_ids()) == 6


async def test_cancel_selected_and_symbol(env, qtbot):
    ids = env.row_ids()
    view = env.window.view
    env.select(ids[0])
    env.select(ids[2], add=True)
    chosen = {ids[0], ids[2]}
    assert {o.order_id for o in view.selected_orders()} == chosen
    assert env.window.actions_.selected.text() == "Cancel Selected (2)"
    qtbot.keyClick(view, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    env.window.confirm_dialog.accept()  # two orders: asked first
    await until(lambda: not chosen & set(env.row_ids()))
    assert not chosen & env.sim_ids()

    eth = [str(o[0]) for o in env.sim.open_orders() if o[3] == "tETHUSD"]
    if eth:
        env.select(eth[0])
        env.window.actions_.symbol.trigger()
        if len(eth) > 1:
            env.window.confirm_dialog.accept()
        await until(lambda: not set(eth) & set(env.row_ids()))
    assert all(o[3] != "tETHUSD" for o in env.sim.open_orders())
    assert set(env.row_ids()) == env.sim_ids()
