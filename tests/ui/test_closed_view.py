"""Recently Closed: every row that leaves the table shows up here, newest first, with when and
why ("filled at 95,120.5", "cancelled by you (Cancel Group 7)", "closed while unseen (how
unknown)"); what the store kept before the view was built is there from the start; only the
last 500 stay."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from blotter.core.closes import CloseReason
from blotter.core.order import Closed, OrderStatus, Snapshot
from blotter.core.store import OrderStore
from blotter.core.trust import clock_time
from blotter.ui import theme
from blotter.ui.closed_view import (
    CLOSED_AT,
    LIMIT,
    REASON,
    ClosedModel,
    ClosedView,
    section_of,
)
from blotter.ui.orders_model import Column
from tests.helpers import until
from tests.ui.book import T0, make_order

NOW = T0 + 3_600_000


def clock() -> int:
    return NOW


@pytest.fixture
def fed(qtmodeltester):
    """A store with four open rows, a model over its closes, fed by its close listener as the
    window feeds it, and checked by Qt's model tester at every signal."""
    store = OrderStore(clock=clock)
    account = make_order(0).account_key
    store.apply(Snapshot(account, tuple(make_order(n, group="7") for n in range(4))))
    store.flush()
    model = ClosedModel(store.closed, clock=clock)
    qtmodeltester.check(model)
    store.add_close_listener(model.add)
    return store, model


def text(model, row: int, section: int, role=Qt.ItemDataRole.DisplayRole):
    return model.data(model.index(row, section), role)


def test_each_close_says_when_and_why_newest_first(fed):
    store, model = fed
    filled = replace(make_order(0), status=OrderStatus.FILLED, remaining=make_order(0).amount * 0,
                     avg_price=make_order(0).price, updated_ms=NOW - 5000)
    store.apply(Closed(filled))
    store.name_cancel([make_order(1).key], "Cancel Group 7")
    store.apply(Closed(replace(make_order(1), status=OrderStatus.CANCELLED,
                               updated_ms=NOW - 4000)))
    store.apply(Closed(replace(make_order(2), status=OrderStatus.CANCELLED,
                               status_text="CANCELED by admin", updated_ms=NOW - 3000)))
    store.apply(Snapshot(make_order(3).account_key, ()))  # 3 is missing from a fresh list
    assert model.rowCount() == 0  # closes arrive in one batch
    model.flush()
    assert model.rowCount() == 4
    assert [text(model, r, REASON) for r in range(4)] == [
        "closed while unseen (how unknown)",
        "cancelled at the venue (CANCELED by admin)",
        "cancelled by you (Cancel Group 7)",
        "filled at 100",
    ]
    assert text(model, 3, CLOSED_AT) == clock_time(NOW - 5000)
    assert text(model, 0, section_of(Column.ORDER_ID)) == "3"
    assert text(model, 3, section_of(Column.PRICE)) == "100"
    assert text(model, 3, section_of(Column.STATUS)) == "Filled"  # the order as it last read
    assert text(model, 3, REASON, Qt.ItemDataRole.ForegroundRole) == theme.REASON_COLOURS[
        CloseReason.FILLED]
    tip = text(model, 2, section_of(Column.SYMBOL), Qt.ItemDataRole.ToolTipRole)
    assert tip.splitlines()[-1] == (
        f"Closed {clock_time(NOW - 4000)}: cancelled by you (Cancel Group 7)")
    assert model.headerData(REASON, Qt.Orientation.Horizontal) == "Reason"
    assert model.headerData(CLOSED_AT, Qt.Orientation.Horizontal) == "Closed at"
    assert model.headerData(section_of(Column.SYMBOL), Qt.Orientation.Horizontal) == "Symbol"


def test_what_the_store_kept_is_shown_from_the_start(qtmodeltester):
    store = OrderStore(clock=clock)
    account = make_order(0).account_key
    store.apply(Snapshot(account, tuple(make_order(n) for n in range(3))))
    for n in range(3):
        store.apply(Closed(replace(make_order(n), status=OrderStatus.CANCELLED,
                                   updated_ms=NOW - 10_000 + n)))
    model = ClosedModel(store.closed, clock=clock)
    qtmodeltester.check(model)
    assert [text(model, r, section_of(Column.ORDER_ID)) for r in range(3)] == ["2", "1", "0"]


def test_only_the_last_500_stay(qtmodeltester):
    store = OrderStore(clock=clock)
    account = make_order(0).account_key
    store.apply(Snapshot(account, tuple(make_order(n) for n in range(LIMIT + 30))))
    model = ClosedModel(clock=clock)
    qtmodeltester.check(model)
    store.add_close_listener(model.add)
    for n in range(LIMIT - 10):
        store.apply(Closed(replace(make_order(n), status=OrderStatus.FILLED)))
    model.flush()
    assert model.rowCount() == LIMIT - 10
    for n in range(LIMIT - 10, LIMIT + 30):
        store.apply(Closed(replace(make_order(n), status=OrderStatus.FILLED)))
    model.flush()
    assert model.rowCount() == LIMIT
    ids = [text(model, r, section_of(Column.ORDER_ID)) for r in range(LIMIT)]
    assert ids[0] == str(LIMIT + 29) and ids[-1] == "30"


async def test_the_view_sorts_newest_first_and_filters_by_the_reason_too(qtbot, fed):
    store, _ = fed
    view = ClosedView(store.closed, clock=clock)
    qtbot.addWidget(view)
    store.add_close_listener(view.closed_model.add)
    for n, status in ((0, OrderStatus.FILLED), (1, OrderStatus.CANCELLED),
                      (2, OrderStatus.FILLED)):
        store.apply(Closed(replace(make_order(n), status=status, updated_ms=NOW - 9000 + n)))
    await until(lambda: view.proxy.rowCount() == 3)  # the batch timer, not a manual flush
    assert [view.closed_at_row(r).order.order_id for r in range(3)] == ["2", "1", "0"]
    assert view.proxy.sortColumn() == -1  # newest first is the model's own order: no sorting
    view.proxy.set_filter_text("venue")
    assert [view.closed_at_row(r).order.order_id for r in range(view.proxy.rowCount())] == ["1"]
    view.proxy.set_filter_text("")
    view.sortByColumn(section_of(Column.ORDER_ID), Qt.SortOrder.AscendingOrder)
    assert [view.closed_at_row(r).order.order_id for r in range(3)] == ["0", "1", "2"]
    view.sortByColumn(CLOSED_AT, Qt.SortOrder.DescendingOrder)
    assert [view.closed_at_row(r).order.order_id for r in range(3)] == ["2", "1", "0"]
    view.show_newest_first()
    assert view.horizontalHeader().sortIndicatorSection() == -1


async def test_while_the_trader_aims_new_closes_wait_counted_then_come_in(fed):
    store, model = fed
    shown: list[int] = []
    model.waiting_changed.connect(lambda: shown.append(model.waiting))
    store.apply(Closed(make_order(0)))
    model.flush()
    model.hold_rows(True)
    store.apply(Closed(make_order(1)))
    store.apply(Closed(make_order(2)))
    await until(lambda: shown[-1] == 2)  # the batch came, and waits, counted
    assert model.rowCount() == 1 and model.waiting == 2
    model.hold_rows(False)
    assert model.rowCount() == 3 and model.waiting == 0 and shown[-1] == 0
    assert [text(model, r, section_of(Column.ORDER_ID)) for r in range(3)] == ["2", "1", "0"]


async def test_the_view_holds_while_the_pointer_is_over_its_rows(qtbot, fed):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QCursor

    store, _ = fed
    QCursor.setPos(QPoint(-4000, -4000))
    view = ClosedView(store.closed, clock=clock)
    qtbot.addWidget(view)
    store.add_close_listener(view.closed_model.add)
    view.resize(900, 300)
    view.show()
    store.apply(Closed(make_order(0)))
    await until(lambda: view.proxy.rowCount() == 1)
    qtbot.mouseMove(view.viewport(), view.visualRect(view.proxy.index(0, REASON)).center())
    await until(lambda: view.hold.held)
    store.apply(Closed(make_order(1)))
    store.apply(Closed(make_order(2)))
    marker = view.hold.marker
    await until(lambda: marker.isVisible())
    assert marker.text() == "2 new closes — move away or press F5 to show"
    assert view.proxy.rowCount() == 1
    qtbot.mouseClick(marker, Qt.MouseButton.LeftButton, pos=marker.rect().center())
    assert view.proxy.rowCount() == 3 and not marker.isVisible()
    QCursor.setPos(QPoint(-4000, -4000))
    await until(lambda: not view.hold.held)
