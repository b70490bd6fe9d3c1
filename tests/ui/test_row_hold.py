"""Rows that hold still while the trader aims: the model keeps a row's place while held (changes
in place; new rows, closed rows leaving and re-sorting wait), the filter waits too, and when the
hold ends the rows equal the store's, in sort order. ``RowHold`` on a real view: the pointer
over the rows holds them, leaving shows what waited, the marker says what waits without moving a
row, the context menu holds, and a row whose order closed is struck through with a Cancel that
does nothing. (The whole window, with a venue simulator: test_window_hold.py.)"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QAction, QContextMenuEvent, QCursor
from PySide6.QtWidgets import QApplication

from blotter.core.order import Closed, Order, OrderStatus, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.ui.orders_model import CLOSED_ROLE, ORDER_ROLE, Column, OrdersModel
from blotter.ui.orders_view import OrdersProxyModel, OrdersView
from blotter.ui.row_hold import waiting_words
from tests.helpers import until
from tests.ui.book import make_order
from tests.ui.conftest import select_row
from tests.ui.test_orders_model import SignalLog


@pytest.fixture(autouse=True)
def _pointer_away():
    """Each test starts and ends with the pointer away from every window (a window shown under
    it would hold its rows from the start)."""
    QCursor.setPos(AWAY)
    yield
    QCursor.setPos(AWAY)


AWAY = QPoint(-4000, -4000)


def ids(model: OrdersModel) -> list[str]:
    return [o.order_id for o in model.orders()]


def filled(order: Order) -> Order:
    from dataclasses import replace

    return replace(order, status=OrderStatus.FILLED, status_text="EXECUTED @ 100(1)",
                   remaining=Decimal(0), avg_price=order.price)


def canonical(store: OrderStore, column: int, order: Qt.SortOrder) -> list[str]:
    """The store's open orders as a fresh model sorts them: what a released table must equal."""
    copy = OrderStore()
    for row in store:
        copy.put(row)
    copy.flush()
    fresh = OrdersModel(copy)
    fresh.sort(column, order)
    ids_ = ids(fresh)
    fresh.deleteLater()
    return ids_


@pytest.fixture
def priced(store, model):
    """Five rows sorted by price, highest first: 0→104 … 4→100 (ids by price)."""
    for n in range(5):
        store.apply(Upsert(make_order(n, price=str(100 + n))))
    store.flush()
    model.sort(Column.PRICE, Qt.SortOrder.DescendingOrder)
    assert ids(model) == ["4", "3", "2", "1", "0"]
    return store, model


# -- the model ---------------------------------------------------------------------------------
def test_while_held_rows_change_in_place_and_new_closed_and_moved_rows_wait(priced):
    store, model = priced
    model.hold_rows(True)
    log = SignalLog(model)
    store.apply(Upsert(make_order(7, price="103.5")))  # new: would land second
    store.apply(Closed(filled(make_order(3, price="103"))))  # closes
    store.apply(Upsert(make_order(1, price="110", remaining="0.5")))  # would move to the top
    store.apply(Upsert(make_order(2, price="102", remaining="0.25")))  # changes in place
    store.flush()

    assert set(log.names()) == {"dataChanged"}  # nothing inserted, removed or moved
    assert ids(model) == ["4", "3", "2", "1", "0"]
    row = model.row_of(make_order(1).key)
    assert model.index(row, Column.PRICE).data() == "110"  # the new price, in its old place
    assert model.index(row, Column.FILLED).data() == "0.5 (50%)"
    assert model.index(model.row_of(make_order(2).key), Column.FILLED).data() == "0.75 (75%)"
    assert model.waiting().summary() == "1 new · 1 closed · 1 to re-sort"

    # the closed row stays, struck through, saying how it closed
    closed = model.row_of(make_order(3).key)
    assert model.index(closed, Column.STATUS).data() == "closed: filled at 103"
    assert model.index(closed, Column.CANCEL).data(CLOSED_ROLE) == "closed: filled at 103"
    assert model.index(closed, Column.CANCEL).data(Qt.ItemDataRole.ToolTipRole) == (
        "closed: filled at 103")
    assert model.index(closed, Column.SYMBOL).data(Qt.ItemDataRole.FontRole).strikeOut()
    assert model.index(closed, Column.PRICE).data(Qt.ItemDataRole.FontRole).strikeOut()
    assert model.index(row, Column.SYMBOL).data(CLOSED_ROLE) is None
    assert model.index(row, Column.SYMBOL).data(Qt.ItemDataRole.FontRole) is None

    log.clear()
    model.hold_rows(False)
    assert ids(model) == ["1", "4", "7", "2", "0"] == canonical(
        store, Column.PRICE, Qt.SortOrder.DescendingOrder)
    assert {"rowsRemoved", "rowsInserted"} <= set(log.names())
    assert not model.waiting()
    assert all(model.index(r, Column.CANCEL).data(CLOSED_ROLE) is None for r in range(5))
    for r in range(model.rowCount()):  # every row found where it is
        assert model.row_of(model.index(r, 0).data(ORDER_ROLE).key) == r


def test_an_order_that_comes_and_goes_while_held_is_never_shown(priced):
    store, model = priced
    model.hold_rows(True)
    store.apply(Upsert(make_order(8)))
    store.flush()
    assert model.waiting().summary() == "1 new"
    store.apply(Closed(filled(make_order(8))))
    store.flush()
    assert model.waiting().summary() == ""
    log = SignalLog(model)
    model.hold_rows(False)
    assert log.events == [] and "8" not in ids(model)


def test_a_closed_row_whose_order_comes_back_is_open_again_in_place(priced):
    store, model = priced
    model.hold_rows(True)
    store.apply(Closed(make_order(2)))
    store.flush()
    row = model.row_of(make_order(2).key)
    assert model.index(row, Column.STATUS).data().startswith("closed: cancelled at the venue")
    store.apply(Upsert(make_order(2, price="102", remaining="0.5")))
    store.flush()
    assert model.row_of(make_order(2).key) == row
    assert model.index(row, Column.STATUS).data() == "Partially filled 50%"
    assert model.index(row, Column.CANCEL).data(CLOSED_ROLE) is None
    assert model.waiting().summary() == ""


def test_a_row_whose_account_is_removed_while_held_says_so_then_leaves(priced):
    store, model = priced
    model.hold_rows(True)
    store.drop_account(make_order(0).account_key)
    store.flush()
    assert model.rowCount() == 5
    assert model.index(0, Column.STATUS).data() == "no longer in the table"
    assert model.waiting().summary() == "5 closed"
    model.hold_rows(False)
    assert model.rowCount() == 0


def test_a_fresh_list_while_held_keeps_the_rows_it_closed_until_release(priced):
    store, model = priced
    model.hold_rows(True)
    account = make_order(0).account_key
    store.apply(Snapshot(account, (make_order(0, price="100"), make_order(4, price="104"),
                                   make_order(9, price="99"))))
    store.flush()
    assert ids(model) == ["4", "3", "2", "1", "0"]
    assert model.index(1, Column.STATUS).data() == "closed: closed while unseen (how unknown)"
    assert model.waiting().summary() == "1 new · 3 closed"
    model.hold_rows(False)
    assert ids(model) == ["4", "0", "9"]


def test_showing_what_waited_while_held_lights_what_came_in_or_moved(priced):
    store, model = priced
    model.hold_rows(True)
    store.apply(Upsert(make_order(7, price="101.5")))
    store.apply(Upsert(make_order(0, price="120")))
    store.apply(Upsert(make_order(3, price="103", remaining="0.5")))  # in place: not lit
    store.flush()
    model.apply_waiting(highlight=True)
    assert model.holding  # still held: only what waited was shown
    assert ids(model) == ["0", "4", "3", "2", "7", "1"]
    lit = {o.order_id for o in model.orders() if model.marks.is_highlighted(o.key)}
    assert lit == {"7", "0"}
    store.apply(Upsert(make_order(8, price="500")))
    store.flush()
    assert "8" not in ids(model)  # and the next change waits again


def test_a_sort_the_trader_asks_for_shows_what_waited_first(priced):
    store, model = priced
    model.hold_rows(True)
    store.apply(Upsert(make_order(7, price="1")))
    store.apply(Closed(make_order(4)))
    store.flush()
    model.sort(Column.PRICE, Qt.SortOrder.AscendingOrder)
    assert ids(model) == ["7", "0", "1", "2", "3"]


def hold_or_release(model: OrdersModel, rng: random.Random, roll: float) -> None:
    """The trader's part of a random traffic test: below 0.9 what waited is shown (lit up
    half the time), else the rows start or stop holding."""
    if roll < 0.9:
        model.apply_waiting(highlight=rng.random() < 0.5)
    else:
        model.hold_rows(not model.holding)


def flush_sometimes(model: OrdersModel, store: OrderStore, rng: random.Random, step: int,
                    released: Callable[[int], None]) -> None:
    """Half the time, flush the store: while held every row is the store's order (or kept
    after its order closed); else ``released`` checks the rows."""
    if rng.random() < 0.5:
        store.flush()
        if model.holding:  # a held row is the store's, or kept after its order closed
            assert all(store.get(o.key) in (o, None) for o in model.orders()), step
        else:
            released(step)


@pytest.mark.parametrize("column", [Column.CREATED, Column.PRICE, Column.STATUS, -1])
def test_after_any_mix_of_changes_the_released_rows_equal_the_store(store, qtmodeltester,
                                                                   column):
    """Random venue traffic, holds and releases; Qt's model tester checks every signal, and
    each release leaves the rows equal to the store's, in the same order a fresh sort gives."""
    rng = random.Random(column)
    model = OrdersModel(store)
    qtmodeltester.check(model)
    order = Qt.SortOrder.DescendingOrder
    model.sort(column, order)
    alive: set[int] = set()
    serial = 0
    statuses = ("ACTIVE", "PARTIALLY FILLED", "NEW")
    for step in range(250):
        roll = rng.random()
        if roll < 0.3 or not alive:
            serial += 1
            alive.add(serial)
            store.apply(Upsert(make_order(serial, price=str(rng.randint(1, 50)))))
        elif roll < 0.6:
            n = rng.choice(sorted(alive))
            store.apply(Upsert(make_order(n, price=str(rng.randint(1, 50)),
                                          status_text=rng.choice(statuses))))
        elif roll < 0.8:
            n = rng.choice(sorted(alive))
            alive.discard(n)
            store.apply(Closed(make_order(n)))
        elif roll < 0.85 and serial:
            n = rng.randint(1, serial)  # back from the dead, or a plain update
            alive.add(n)
            store.apply(Upsert(make_order(n, price=str(rng.randint(1, 50)))))
        else:
            hold_or_release(model, rng, roll)

        def released(at: int) -> None:
            assert ids(model) == canonical(store, column, order), at

        flush_sometimes(model, store, rng, step, released)
    store.flush()
    model.hold_rows(False)
    assert ids(model) == canonical(store, column, order)
    assert [store.get(o.key) for o in model.orders()] == model.orders()
    for r in range(model.rowCount()):
        assert model.row_of(model.index(r, 0).data(ORDER_ROLE).key) == r


def test_the_filter_neither_drops_nor_lets_in_a_row_while_held(store, model):
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    for n in range(3):
        store.apply(Upsert(make_order(n, status_text="ACTIVE")))
    store.flush()
    proxy.set_filter_text("active")
    assert proxy.rowCount() == 3
    proxy.hold_rows(True)
    model.hold_rows(True)
    store.apply(Upsert(make_order(1, status_text="PARTIALLY FILLED", remaining="0.5")))
    store.apply(Upsert(make_order(5, status_text="ACTIVE")))
    store.apply(Upsert(make_order(6, status_text="NEW")))
    store.flush()
    assert proxy.rowCount() == 3  # order 1 no longer matches, and stays until the hold ends
    assert proxy.accepts(make_order(5)) and not proxy.accepts(make_order(6, status_text="NEW"))
    model.hold_rows(False)
    proxy.hold_rows(False)
    assert sorted(proxy.index(r, Column.ORDER_ID).data() for r in range(proxy.rowCount())) == [
        "0", "2", "5"]
    # the filter is live again
    store.apply(Upsert(make_order(0, status_text="NEW")))
    store.flush()
    assert proxy.rowCount() == 2
    # a filter typed while held filters at once, and then holds its rows too
    proxy.set_filter_text("")
    proxy.hold_rows(True)
    model.hold_rows(True)
    proxy.set_filter_text("active")
    assert proxy.rowCount() == 2
    store.apply(Upsert(make_order(2, status_text="NEW")))
    store.flush()
    assert proxy.rowCount() == 2


def test_what_waits_in_words():
    assert waiting_words(3, 2) == "3 new · 2 closed"
    assert waiting_words(0, 1, 4) == "1 closed · 4 to re-sort"
    assert waiting_words(0, 0) == ""
    assert waiting_words(1, 0, closes=True) == "1 new close"
    assert waiting_words(5, 0, closes=True) == "5 new closes"


# -- on a view ---------------------------------------------------------------------------------
@pytest.fixture
def table(qtbot, store, qtmodeltester):
    for n in range(30):
        store.apply(Upsert(make_order(n, price=str(100 + n))))
    store.flush()
    model = OrdersModel(store)
    qtmodeltester.check(model)
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    view = OrdersView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.sortByColumn(Column.CREATED, Qt.SortOrder.DescendingOrder)
    view.resize(1500, 400)
    view.show()
    view.apply_default_widths()
    qtbot.waitExposed(view)
    clicked: list[Order] = []
    view.cancel_clicked.connect(clicked.append)
    yield store, model, view, clicked


def at(view: OrdersView, row: int, column: Column = Column.SYMBOL) -> QPoint:
    return view.visualRect(view.model().index(row, column)).center()


def row_id(view: OrdersView, pos: QPoint) -> str:
    return view.indexAt(pos).siblingAtColumn(Column.ORDER_ID).data()


def leave(qtbot, view: OrdersView) -> None:
    """Out of the window (the offscreen platform tells the table only then)."""
    window = view.window()
    qtbot.mouseMove(window, QPoint(window.width() + 50, window.height() + 50))


def test_the_pointer_over_the_rows_holds_them_until_it_leaves(table, qtbot):
    store, model, view, _ = table
    pos = at(view, 2)
    aimed = row_id(view, pos)
    qtbot.mouseMove(view.viewport(), pos)
    qtbot.waitUntil(lambda: view.hold.held)
    for n in range(100, 104):
        store.apply(Upsert(make_order(n)))  # the newest: they would come in on top
    store.apply(Closed(make_order(29)))
    store.apply(Closed(make_order(28)))
    model.flush_now()
    assert row_id(view, pos) == aimed
    marker = view.hold.marker
    assert marker.isVisible()
    assert marker.text() == "4 new · 2 closed — move away or press F5 to show"
    assert marker.parentWidget() is view.viewport()  # over the rows, not a bar shifting them
    rect = marker.geometry()
    assert view.viewport().rect().contains(rect)
    assert rect.bottom() > view.viewport().height() * 3 // 4  # at the lower edge
    view.verticalScrollBar().setValue(3)  # the viewport scrolls its children; not this one
    assert marker.geometry() == rect

    leave(qtbot, view)
    qtbot.waitUntil(lambda: not view.hold.held)
    assert row_id(view, pos) != aimed
    assert ids(model) == canonical(store, Column.CREATED, Qt.SortOrder.DescendingOrder)
    assert not marker.isVisible()


def test_a_row_closed_while_held_is_struck_and_its_cancel_does_nothing(table, qtbot):
    store, model, view, clicked = table
    pos = at(view, 1, Column.CANCEL)
    qtbot.mouseMove(view.viewport(), at(view, 1))
    qtbot.waitUntil(lambda: view.hold.held)
    select_row(view, 1)
    gone = view.current_order()
    assert gone is not None
    store.apply(Closed(filled(gone)))
    model.flush_now()
    index = view.indexAt(pos)
    assert index.data(ORDER_ROLE).order_id == gone.order_id
    assert index.data(CLOSED_ROLE) == "closed: filled at 128"
    button = view.cancel_button_rect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=button)
    assert clicked == []
    # nothing for the keys to cancel either, and the hand is not offered
    assert view.current_order() is None
    assert view.selected_orders() == []
    QApplication.sendEvent(view.viewport(), _move(view, button))
    assert view.viewport().cursor().shape() == Qt.CursorShape.ArrowCursor
    assert not view.grab().isNull()  # the struck row and its disabled button paint
    # the next row's button still cancels its order
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.cancel_button_rect(view.indexAt(at(view, 2))).center())
    assert [o.order_id for o in clicked] == [row_id(view, at(view, 2))]


def _move(view: OrdersView, pos: QPoint):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QMouseEvent

    local = QPointF(pos)
    return QMouseEvent(QEvent.Type.MouseMove, local, view.viewport().mapToGlobal(local),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)


def test_the_context_menu_holds_the_rows_while_it_is_open(table, qtbot):
    store, model, view, _ = table
    pos = at(view, 4)
    aimed = row_id(view, pos)
    viewport = view.viewport()
    view.set_menu_actions([QAction("Cancel Order", view)])
    QApplication.sendEvent(viewport, QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, pos, viewport.mapToGlobal(pos)))
    menu = view.context_menu
    assert view.hold.held
    store.apply(Upsert(make_order(200)))
    model.flush_now()
    assert row_id(view, pos) == aimed
    menu.close()
    qtbot.waitUntil(lambda: not view.hold.held)  # the pointer is not over the rows
    assert row_id(view, pos) != aimed


async def test_a_rested_pointer_shows_what_waits_and_keeps_holding(table, qtbot):
    store, model, view, _ = table
    view.hold.rest_ms = 200
    pos = at(view, 3)
    qtbot.mouseMove(view.viewport(), pos)
    await until(lambda: view.hold.held)
    store.apply(Upsert(make_order(300)))
    model.flush_now()
    await until(lambda: "300" in ids(model))
    assert model.marks.is_highlighted(make_order(300).key)
    assert view.hold.held
    assert ids(model) == canonical(store, Column.CREATED, Qt.SortOrder.DescendingOrder)


def test_with_a_filter_the_marker_counts_what_the_filter_shows(table, qtbot):
    store, model, view, _ = table
    view.model().set_filter_text("eth")
    store.apply(Upsert(make_order(31, symbol="tETHUSD")))
    model.flush_now()
    qtbot.mouseMove(view.viewport(), at(view, 0))
    qtbot.waitUntil(lambda: view.hold.held)
    store.apply(Upsert(make_order(32, symbol="tETHUSD")))
    store.apply(Upsert(make_order(33, symbol="tBTCUSD")))
    store.apply(Closed(make_order(31, symbol="tETHUSD")))
    store.apply(Closed(make_order(0)))  # filtered out: not counted
    model.flush_now()
    assert view.hold.marker.text().startswith("1 new · 1 closed — ")


def test_a_table_shown_under_a_resting_pointer_does_not_hold_until_the_pointer_moves(table, qtbot):
    # at launch the window may appear under the pointer: its first rows must not wait
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QEnterEvent

    store, model, view, _ = table
    pos = QPointF(at(view, 2))
    screen_pos = QPointF(view.viewport().mapToGlobal(pos.toPoint()))
    QApplication.sendEvent(view.viewport(), QEnterEvent(pos, pos, screen_pos))
    assert not view.hold.held
    store.apply(Upsert(make_order(100)))
    model.flush_now()
    assert "100" in {o.order_id for o in model.orders()}  # shown at once
    qtbot.mouseMove(view.viewport(), at(view, 2))
    qtbot.waitUntil(lambda: view.hold.held)
