"""Rows hold still while the trader aims, in the real window against a BitfinexSimulator and
BitfinexClient over loopback: the pointer moves with real mouse events (QTest), the venue keeps
placing and closing orders, and the row under the pointer keeps its order until the pointer
leaves; its Cancel cancels exactly that order; what waited shows on leaving, F5, the marker or
a rest; the Recently Closed tab holds too.

The offscreen platform delivers a Leave to the table only when the pointer leaves the window,
so "moving away" here is moving out of the window.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QCursor

from blotter.core.order import AccountKey
from blotter.sim.bitfinex import BitfinexSimulator
from blotter.ui.closed_view import REASON, section_of
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import CLOSED_ROLE, Column
from blotter.ui.tabs import CLOSED
from tests.helpers import until
from tests.ui.windows import WindowEnv, bitfinex_build, window_over

ACCOUNT = AccountKey("bitfinex", "bfx-hold")
SYMBOLS = ("tBTCUSD", "tETHUSD", "tXRPUSD", "tLTCUSD")


class Env(WindowEnv[BitfinexSimulator]):
    def sim_ids(self) -> set[str]:
        return {str(o[0]) for o in self.sim.open_orders()}

    @property
    def view(self):
        return self.window.view

    def row_at(self, pos: QPoint) -> str | None:
        """The order id of the row under ``pos`` (viewport coordinates)."""
        index = self.view.indexAt(pos)
        return index.siblingAtColumn(Column.ORDER_ID).data() if index.isValid() else None

    def store_ids_newest_first(self) -> list[str]:
        orders = sorted(self.engine.store, key=lambda o: (o.created_ms or 0, int(o.order_id)),
                        reverse=True)
        return [o.order_id for o in orders]

    def marker(self) -> str:
        marker = self.view.hold.marker
        return marker.text() if marker.isVisible() else ""

    def place(self, n: int) -> int:
        return self.sim.place_order(SYMBOLS[n % 4], f"0.0{n % 9 + 1}", str(1000 + n))

    def cancels_sent(self, order_id: str) -> int:
        return sum(1 for i in self.sim.inputs_received
                   if i[1] in ("oc", "oc_multi") and order_id in str(i[3]))


@pytest.fixture(autouse=True)
def _pointer_away():
    """Each test starts and ends with the pointer away from every window (a window shown under
    it would hold its rows from the start)."""
    QCursor.setPos(AWAY)
    yield
    QCursor.setPos(AWAY)


AWAY = QPoint(-4000, -4000)


@pytest.fixture
async def env(qtbot, tmp_path):

    sim = BitfinexSimulator(seed=3)
    for n in range(8):
        sim.place_order(SYMBOLS[n % 4], f"0.0{n + 1}", str(100 + n))

    build = bitfinex_build(ACCOUNT, tmp_path)

    def ready(window: MainWindow) -> bool:
        return window.proxy.rowCount() == 8

    async with window_over(qtbot, tmp_path, sim, build, ready, Env) as environment:
        yield environment


def point_at(env: Env, proxy_row: int, column: Column = Column.SYMBOL) -> QPoint:
    return env.view.visualRect(env.window.proxy.index(proxy_row, column)).center()


def move_away(qtbot, window: MainWindow) -> None:
    qtbot.mouseMove(window, QPoint(window.width() + 60, window.height() + 60))


async def hover(qtbot, env: Env, pos: QPoint) -> None:
    qtbot.mouseMove(env.view.viewport(), pos)
    await until(lambda: env.view.hold.held)


async def test_the_row_under_the_pointer_keeps_its_order_and_its_cancel_takes_that_order(
        env, qtbot):
    window, view = env.window, env.view
    assert env.row_ids() == env.store_ids_newest_first()  # newest first
    pos = point_at(env, 3)
    target = env.row_at(pos)
    await hover(qtbot, env, pos)

    # the venue keeps going: new orders (they would land on top, pushing the rows down) and
    # closes of orders above and below the one aimed at
    others = [i for i in env.row_ids() if i != target]
    placed: list[str] = []
    for n in range(6):
        placed.append(str(env.place(n)))
        if n % 2:
            env.sim.fill(int(others.pop(0)))
        else:
            env.sim.cancel_external(int(others.pop()))
        # the table has had the news (it waits there, not shown)
        await until(lambda: placed[-1] in {o.order_id for o in window.model.waiting().new.values()})
        assert env.row_at(pos) == target
    await until(lambda: env.marker().startswith("6 new · 6 closed — move away or press F5"))
    assert not set(placed) & set(env.row_ids())  # they wait
    assert env.row_at(pos) == target

    # the click on that row's Cancel button cancels exactly that order
    rect = view.cancel_button_rect(view.indexAt(pos))
    assert rect.contains(QPoint(rect.center().x(), pos.y()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    await until(lambda: env.sim.order(int(target)) is None)
    assert env.cancels_sent(target) == 1
    assert target not in env.sim_ids() and set(placed) <= env.sim_ids()
    # the venue's close comes back: the row stays under the pointer, struck through, its
    # Cancel disabled and saying how it closed
    index = view.indexAt(pos)
    await until(lambda: index.siblingAtColumn(Column.CANCEL).data(CLOSED_ROLE) is not None)
    assert env.row_at(pos) == target
    status = env.status(target)
    assert status.startswith("closed: cancelled by you")
    assert index.siblingAtColumn(Column.SYMBOL).data(Qt.ItemDataRole.FontRole).strikeOut()
    assert index.siblingAtColumn(Column.CANCEL).data(Qt.ItemDataRole.ToolTipRole) == status
    # a second click on it sends nothing
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert env.cancels_sent(target) == 1

    move_away(qtbot, window)
    await until(lambda: not view.hold.held)
    await until(lambda: env.row_ids() == env.store_ids_newest_first())
    assert set(env.row_ids()) == env.sim_ids()
    assert target not in env.row_ids() and set(placed) <= set(env.row_ids())
    assert env.marker() == ""


async def test_f5_shows_what_waits_and_ctrl_f5_checks_the_venue(env, qtbot):
    pos = point_at(env, 2)
    await hover(qtbot, env, pos)
    new = str(env.place(1))
    gone = env.row_ids()[0]
    env.sim.cancel_external(int(gone))
    await until(lambda: env.marker().startswith("1 new · 1 closed"))
    assert new not in env.row_ids() and gone in env.row_ids()
    assert env.status(gone) == "closed: cancelled at the venue (CANCELED)"

    qtbot.keyClick(env.window, Qt.Key.Key_F5)
    assert env.view.hold.held  # the pointer is still over the rows
    assert env.row_ids() == env.store_ids_newest_first()
    assert new in env.row_ids() and gone not in env.row_ids()
    assert env.window.model.marks.is_highlighted(
        next(o.key for o in env.window.model.orders() if o.order_id == new))
    assert env.marker() == ""
    # F5 only shows; re-reading the venues is Ctrl+F5
    assert not any(e.notice.text.startswith("Checked bfx-hold: ")
                   for e in env.window.status_bar.log)
    qtbot.keyClick(env.window, Qt.Key.Key_F5, Qt.KeyboardModifier.ControlModifier)
    await until(lambda: any(e.notice.text.startswith("Checked bfx-hold: ")
                            for e in env.window.status_bar.log))


async def test_a_click_on_the_marker_shows_what_waits(env, qtbot):
    await hover(qtbot, env, point_at(env, 1))
    new = str(env.place(2))
    await until(lambda: env.marker().startswith("1 new"))
    marker = env.view.hold.marker
    qtbot.mouseClick(marker, Qt.MouseButton.LeftButton, pos=marker.rect().center())
    assert env.row_ids() == env.store_ids_newest_first() and new in env.row_ids()
    assert not marker.isVisible()


async def test_a_pointer_at_rest_shows_what_waits_and_lights_it(env, qtbot):
    env.view.hold.rest_ms = 300  # the trader's few seconds, shortened for the test
    pos = point_at(env, 1)
    await hover(qtbot, env, pos)
    new = str(env.place(3))
    await until(lambda: new in {o.order_id for o in env.engine.store})
    await until(lambda: new in env.row_ids())  # no move, no click: it comes in
    assert env.view.hold.held
    assert env.row_ids() == env.store_ids_newest_first()
    key = next(o.key for o in env.window.model.orders() if o.order_id == new)
    assert env.window.model.marks.is_highlighted(key)


async def test_keys_that_move_the_selection_hold_the_rows_a_moment(env, qtbot):
    view = env.view
    view.hold.key_ms = 400
    env.select(env.row_ids()[2])
    qtbot.keyClick(view, Qt.Key.Key_Down)
    current = view.current_order()
    assert view.hold.held and current is not None
    new = str(env.place(4))
    await until(lambda: new in {o.order_id for o in env.engine.store})
    assert new not in env.row_ids()
    assert view.current_order() == current
    await until(lambda: new in env.row_ids())  # the moment passed
    assert not view.hold.held


async def test_the_recently_closed_tab_holds_still_too(env, qtbot):
    window = env.window
    closed = window.closed_view
    window.tabs.setCurrentIndex(CLOSED)
    gone = env.row_ids()[:2]
    env.sim.cancel_external(int(gone[0]))
    await until(lambda: closed.closed_model.rowCount() == 1)
    qtbot.mouseMove(closed.viewport(), closed.visualRect(closed.proxy.index(0, REASON)).center())
    await until(lambda: closed.hold.held)
    env.sim.fill(int(gone[1]))
    await until(lambda: closed.closed_model.waiting == 1)
    marker = closed.hold.marker
    await until(lambda: marker.isVisible())
    assert marker.text().startswith("1 new close — move away or press F5")
    assert closed.closed_model.rowCount() == 1
    ids = section_of(Column.ORDER_ID)
    assert closed.proxy.index(0, ids).data() == gone[0]

    move_away(qtbot, window)
    await until(lambda: closed.closed_model.rowCount() == 2)
    assert closed.proxy.index(0, ids).data() == gone[1]
    assert not marker.isVisible()


async def test_cancel_visible_leaves_out_a_struck_row_and_counts_only_open_ones(env, qtbot):
    await hover(qtbot, env, point_at(env, 1))
    gone = env.row_ids()[0]
    env.sim.cancel_external(int(gone))
    new = str(env.place(3))
    await until(lambda: env.marker().startswith("1 new · 1 closed"))
    assert gone in env.row_ids() and new not in env.row_ids()  # struck, and waiting
    actions = env.window.actions_
    env.window.refresh()
    # 8 rows shown, one of them struck: 7 open on screen, of the 8 open at the venue
    assert actions.visible.text() == "Cancel 7 visible of 8"
    assert env.window.windowTitle().startswith("blotter — 8 open orders (7 shown)")
    actions.visible.trigger()
    dialog = env.window.confirm_dialog
    assert dialog is not None
    planned = {o.order_id for p in dialog.plans for o in p.orders}
    assert gone not in planned and new not in planned and len(planned) == 7
    dialog.reject()
