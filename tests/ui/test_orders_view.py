"""The orders table: the proxy's word filter (and its one-call forwarding of a painted cell's
roles), the painted Cancel button's hit-testing and clicks, copying the selection, the header's
column menu, and what the view says of the current row."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPoint,
    QPointF,
    QRect,
    Qt,
)
from PySide6.QtGui import QContextMenuEvent, QGuiApplication, QMouseEvent, QPalette
from PySide6.QtWidgets import QApplication

from blotter.core.cancel import Outcome
from blotter.core.order import Closed, Order, OrderStatus, Side, Upsert
from blotter.core.store import OrderStore
from blotter.ui import theme
from blotter.ui.column_layout import DROP_ORDER
from blotter.ui.order_cells import HEADERS
from blotter.ui.orders_model import (
    ORDER_ROLE,
    PENDING_ROLE,
    SORT_ROLE,
    Column,
    OrdersModel,
)
from blotter.ui.orders_view import BUTTON_WIDTH, OrdersProxyModel, OrdersView
from blotter.ui.resources import stylesheet
from tests.ui.book import make_order
from tests.ui.conftest import select_row


def test_sort_by_price_is_numeric_through_the_proxy(store, model, qtmodeltester):
    for n, price in enumerate(["9", "10", "100", "0.5", "25000", "1,5".replace(",", "")]):
        store.apply(Upsert(make_order(n, price=price)))
    store.flush()
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.sort(Column.PRICE, Qt.SortOrder.AscendingOrder)
    shown = [proxy.index(r, Column.PRICE).data() for r in range(proxy.rowCount())]
    assert shown == ["0.5", "9", "10", "15", "100", "25,000"]
    # stays sorted as prices change
    store.apply(Upsert(make_order(0, price="30000")))
    store.flush()
    shown = [proxy.index(r, Column.PRICE).data() for r in range(proxy.rowCount())]
    assert shown[-1] == "30,000"
    proxy.sort(Column.CREATED, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, Column.ORDER_ID).data() == "5"
    assert proxy.index(0, Column.CREATED).data(SORT_ROLE) > proxy.index(1, Column.CREATED).data(
        SORT_ROLE
    )


def test_filter_matches_symbol_account_venue_and_status(store, model):
    store.apply(Upsert(make_order(1, symbol="tETHUSD", account="alpha")))
    store.apply(Upsert(make_order(2, symbol="tBTCUSD", account="beta")))
    store.apply(Upsert(make_order(3, symbol="tBTCUSD", account="alpha",
                                  status_text="PARTIALLY FILLED @ 100(0.5)")))
    store.flush()
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)

    def ids() -> list[str]:
        return sorted(proxy.index(r, Column.ORDER_ID).data() for r in range(proxy.rowCount()))

    proxy.set_filter_text("eth")
    assert ids() == ["1"]
    proxy.set_filter_text("btc ALPHA")  # every word must match, any case
    assert ids() == ["3"]
    proxy.set_filter_text("partially")
    assert ids() == ["3"]
    proxy.set_filter_text("bitfinex")
    assert ids() == ["1", "2", "3"]
    proxy.set_filter_text("(")  # regex characters are literal
    assert ids() == ["3"]
    proxy.set_filter_text("")
    assert proxy.rowCount() == 3


def test_the_filter_matches_the_venues_label_and_follows_new_rows(store):
    model = OrdersModel(store, venue_label=lambda venue, account: "Acme Markets")
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    store.apply(Upsert(make_order(1)))
    store.flush()
    proxy.set_filter_text("markets ACME")
    assert proxy.filter_text == "markets ACME"
    assert proxy.rowCount() == 1
    store.apply(Upsert(make_order(2, symbol="tETHUSD")))
    store.apply(Upsert(make_order(1, status_text="PARTIALLY FILLED @ 100(0.5)")))
    store.flush()
    proxy.set_filter_text("acme eth")
    assert [proxy.index(r, Column.ORDER_ID).data() for r in range(proxy.rowCount())] == ["2"]


def test_while_filtering_the_model_reports_exact_changed_rows(store, model):
    # a filter re-tests each changed row: one merged span would re-test the whole table
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    assert model.coarse_changes
    proxy.set_filter_text("eth")
    assert not model.coarse_changes
    proxy.set_filter_text("  ")
    assert model.coarse_changes


def test_a_change_of_a_row_that_stays_hidden_is_not_signalled(store, model):
    # the proxy would only re-test it: under a flood with a filter typed, most changed rows
    # are rows the filter hides
    for n, symbol in enumerate(["tETHUSD", "tBTCUSD", "tETHUSD", "tBTCUSD"]):
        store.apply(Upsert(make_order(n, symbol=symbol, amount="2")))
    store.flush()
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text("btc")
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda first, last: changed.append((first.row(), last.row())))
    store.apply(Upsert(make_order(0, symbol="tETHUSD", amount="2", remaining="1.5")))
    store.apply(Upsert(make_order(2, symbol="tETHUSD", amount="2", remaining="1")))
    store.flush()
    assert changed == []  # both stay hidden
    store.apply(Upsert(make_order(1, amount="2", remaining="1.5")))  # shown: its cells change
    store.flush()
    assert [model.order_at(first).order_id for first, _ in changed] == ["1"]
    proxy.set_filter_text("")
    changed.clear()
    store.apply(Upsert(make_order(0, symbol="tETHUSD", amount="2", remaining="1")))
    store.flush()
    assert changed  # no filter: every change is signalled


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40).map(str.lower), st.text(max_size=12))
def test_the_flush_and_the_proxy_ask_a_row_the_same_question(words: str, text: str) -> None:
    # the flush leaves a change unsignalled when passes() says the row stays hidden; the proxy
    # decides in C++ with filter_expression(): were they ever to differ, a row would stay
    # hidden that the filter lets in
    from blotter.ui.orders_view import filter_expression, passes, typed_words

    typed = typed_words(text)
    assert filter_expression(text).match(words).hasMatch() == passes(words, typed)
    for word in typed:  # every typed word found where it is, whatever its characters
        assert filter_expression(word).match(f"x{word}\ny").hasMatch()


@pytest.mark.parametrize("typed", ["partially", "btc", "btc 50%", "open", "sell"])
def test_with_a_filter_typed_the_rows_shown_follow_a_busy_venue(store, model, typed):
    # fills, closes, new orders and side-by-side changes, flushed as a flood is: after each
    # flush the table shows exactly the orders whose words hold every typed word, rows that a
    # change let in (a first fill: "partially"), and none that a change let out
    import random

    from blotter.ui.orders_view import passes, typed_words

    rng = random.Random(typed)
    symbols = ["tBTCUSD", "tETHUSD", "tSOLUSD"]
    book: dict[int, tuple[str, Side, str]] = {}
    for n in range(60):
        book[n] = (rng.choice(symbols), rng.choice([Side.BUY, Side.SELL]), "4")
        store.apply(Upsert(make_order(n, symbol=book[n][0], side=book[n][1], amount="4")))
    store.flush()
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text(typed)
    words = typed_words(typed)
    following = 60
    for _ in range(40):
        for _ in range(rng.randint(1, 12)):
            roll = rng.random()
            if roll < 0.6 and book:
                n = rng.choice(list(book))
                symbol, side, left = book[n]
                left = str(max(1, int(left) - rng.randint(0, 2)))
                book[n] = (symbol, side, left)
                store.apply(Upsert(make_order(n, symbol=symbol, side=side, amount="4",
                                              remaining=left)))
            elif roll < 0.8 and book:
                n = rng.choice(list(book))
                symbol, side, _ = book.pop(n)
                gone = make_order(n, symbol=symbol, side=side, amount="4", remaining="0")
                store.apply(Closed(dataclasses.replace(gone, status=OrderStatus.FILLED)))
            else:
                book[following] = (rng.choice(symbols), rng.choice([Side.BUY, Side.SELL]), "4")
                symbol, side, _ = book[following]
                store.apply(Upsert(make_order(following, symbol=symbol, side=side, amount="4")))
                following += 1
        store.flush()
        shown = {proxy.index(r, Column.ORDER_ID).data() for r in range(proxy.rowCount())}
        expected = {o.order_id for o in store if passes(model.filter_words(o), words)}
        assert shown == expected
        assert shown <= {str(n) for n in book}


def test_multi_data_answers_for_the_row_the_proxy_shows(store, model):
    for n in range(6):
        store.apply(Upsert(make_order(n, symbol="tETHUSD" if n % 2 else "tBTCUSD",
                                      price=str(100 - n))))
    store.flush()
    store.begin_cancel([make_order(3)])
    store.flush()
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text("eth")
    proxy.sort(Column.PRICE, Qt.SortOrder.AscendingOrder)
    shown = [proxy.index(r, Column.ORDER_ID).data() for r in range(proxy.rowCount())]
    assert shown == ["5", "3", "1"]  # not the source's rows: filtered and sorted
    roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, ORDER_ROLE, PENDING_ROLE,
             Qt.ItemDataRole.TextAlignmentRole]
    for row, order_id in enumerate(shown):
        for column in (Column.ORDER_ID, Column.STATUS, Column.CANCEL):
            index = proxy.index(row, column)
            for role in roles:
                data = QModelRoleData(int(role))
                proxy.multiData(index, QModelRoleDataSpan(data))
                assert data.data() == proxy.mapToSource(index).data(role), (order_id, column, role)
        order = QModelRoleData(int(ORDER_ROLE))
        proxy.multiData(proxy.index(row, 0), QModelRoleDataSpan(order))
        assert order.data().order_id == order_id
    pending = QModelRoleData(int(PENDING_ROLE))
    proxy.multiData(proxy.index(1, Column.CANCEL), QModelRoleDataSpan(pending))
    assert pending.data() is True
    unserved = QModelRoleData(int(Qt.ItemDataRole.DecorationRole))
    proxy.multiData(proxy.index(0, Column.SYMBOL), QModelRoleDataSpan(unserved))
    assert unserved.data() is None


# -- the view -------------------------------------------------------------------------------
@dataclass
class Table:
    store: OrderStore
    model: OrdersModel
    proxy: OrdersProxyModel
    view: OrdersView
    clicked: list[Order]

    def index(self, row: int, column: Column = Column.CANCEL):
        return self.proxy.index(row, column)

    def button(self, row: int) -> QPoint:
        rect = self.view.cancel_button_rect(self.index(row))
        assert not rect.isEmpty()
        return rect.center()

    def ids(self, orders: list[Order]) -> list[str]:
        return [o.order_id for o in orders]


@pytest.fixture
def table(qtbot, store) -> Table:
    for n in range(4):
        store.apply(Upsert(make_order(n, group="7" if n < 2 else None, price=str(100 + n))))
    store.flush()
    model = OrdersModel(store)
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    view = OrdersView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(1500, 300)
    view.show()
    view.apply_default_widths()
    qtbot.waitExposed(view)
    clicked: list[Order] = []
    view.cancel_clicked.connect(clicked.append)
    return Table(store, model, proxy, view, clicked)


def send_mouse(widget, kind: QEvent.Type, pos: QPoint, button=Qt.MouseButton.NoButton,
               buttons=Qt.MouseButton.NoButton) -> None:
    local = QPointF(pos)
    event = QMouseEvent(kind, local, widget.mapToGlobal(local), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_a_click_on_the_cancel_button_asks_to_cancel_that_order(table, qtbot):
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=table.button(2))
    assert table.ids(table.clicked) == ["2"]
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=table.button(0))
    assert table.ids(table.clicked) == ["2", "0"]


def test_the_button_sits_inside_its_cell(table):
    cell = table.view.visualRect(table.index(1))
    rect = table.view.cancel_button_rect(table.index(1))
    assert cell.contains(rect)
    assert rect.width() == BUTTON_WIDTH
    assert rect.left() > cell.left() and rect.top() > cell.top()


def test_a_click_beside_the_button_is_not_a_cancel_but_selects_the_row(table, qtbot):
    cell = table.view.visualRect(table.index(1))
    rect = table.view.cancel_button_rect(table.index(1))
    beside = QPoint(cell.left() + (rect.left() - cell.left()) // 2, cell.center().y())
    assert not rect.contains(beside) and cell.contains(beside)
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=beside)
    assert table.clicked == []
    assert table.ids(table.view.selected_orders()) == ["1"]


def test_a_click_on_the_button_does_not_change_the_selection(table, qtbot):
    select_row(table.view, 0)
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=table.button(3))
    assert table.ids(table.clicked) == ["3"]
    assert table.ids(table.view.selected_orders()) == ["0"]


def test_pressing_then_sliding_off_the_button_cancels_nothing(table, qtbot):
    viewport = table.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=table.button(1))
    assert table.view.is_pressed(table.index(1))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=table.button(2))
    assert table.clicked == []
    assert not table.view.is_pressed(table.index(1))


def test_a_right_click_on_the_button_cancels_nothing(table, qtbot):
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.RightButton, pos=table.button(1))
    assert table.clicked == []


def test_the_button_of_a_row_being_cancelled_does_nothing(table, qtbot):
    table.store.begin_cancel([make_order(1)])
    table.store.flush()
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=table.button(1))
    assert table.clicked == []
    table.store.end_cancel(make_order(1).key, Outcome.REJECTED, "ERROR: Order not found.")
    table.store.flush()
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=table.button(1))
    assert table.ids(table.clicked) == ["1"]  # back, and clickable again


def test_hovering_the_button_lights_it_and_shows_a_hand(table):
    viewport = table.view.viewport()
    send_mouse(viewport, QEvent.Type.MouseMove, table.button(2))
    assert table.view.is_hovered(table.index(2))
    assert not table.view.is_hovered(table.index(1))
    assert viewport.cursor().shape() == Qt.CursorShape.PointingHandCursor
    beside = table.view.visualRect(table.index(2, Column.SYMBOL)).center()
    send_mouse(viewport, QEvent.Type.MouseMove, beside)
    assert not table.view.is_hovered(table.index(2))
    assert viewport.cursor().shape() == Qt.CursorShape.ArrowCursor


def test_the_table_paints_its_buttons_in_every_state(table):
    # each look of the button is drawn (and cached) without a Qt warning
    table.store.begin_cancel([make_order(0)])
    table.store.flush()
    viewport = table.view.viewport()
    send_mouse(viewport, QEvent.Type.MouseMove, table.button(1))
    send_mouse(viewport, QEvent.Type.MouseButtonPress, table.button(2), Qt.MouseButton.LeftButton,
               Qt.MouseButton.LeftButton)
    image = table.view.grab().toImage()
    assert not image.isNull() and image.width() >= 1400
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, table.button(2),
               Qt.MouseButton.LeftButton)
    assert table.ids(table.clicked) == ["2"]


def test_the_one_pass_paint_shows_what_the_cell_by_cell_paint_shows(table):
    # The view paints its rows in one Python call (table_paint.py); QTableView, asked to paint
    # cell by cell through the same delegates, must give the very same pixels: selected rows,
    # a partly selected row, a cancel in flight, a refused cancel, a lit row, a hovered button,
    # numbers on their decimal points, a sell, and texts cut to fit a narrow column.
    store, view = table.store, table.view
    view.setStyleSheet(theme.in_scheme(stylesheet(), theme.SCHEME))  # the app's ::item rules
    store.apply(Upsert(make_order(4, price="95120.5", amount="0.014999", remaining="0.01",
                                  side=Side.SELL, symbol="BTC-27MAR26-100000-C")))
    store.apply(Upsert(make_order(5, price="0.000123", amount="12000", account="a-long-name")))
    store.begin_cancel([make_order(1)])
    store.begin_cancel([make_order(2)])
    store.flush()
    store.end_cancel(make_order(2).key, Outcome.REJECTED, "ERROR: Order not found.")
    store.flush()
    table.model.highlight([make_order(3).key])
    select_row(view, 0)
    select_row(view, 4, add=True)
    view.selectionModel().select(table.index(5, Column.PRICE),
                                 QItemSelectionModel.SelectionFlag.Select)
    view.setColumnWidth(Column.SYMBOL, 60)
    send_mouse(view.viewport(), QEvent.Type.MouseMove, table.button(3))
    assert view.is_hovered(table.index(3))

    def shot(one_pass: bool):
        view.one_pass = one_pass
        return view.viewport().grab().toImage()

    one_pass, cell_by_cell = shot(True), shot(False)
    view.one_pass = True
    assert one_pass.size() == cell_by_cell.size()
    differ = [(x, y) for y in range(one_pass.height()) for x in range(one_pass.width())
              if one_pass.pixel(x, y) != cell_by_cell.pixel(x, y)]
    assert differ == []
    # and something was painted: the rows' texts are not all one colour; below the last row
    # lies the table's ground
    row_y = view.rowViewportPosition(5) + view.rowHeight(5) // 2
    assert len({one_pass.pixel(x, row_y) for x in range(one_pass.width())}) > 3
    below = view.rowViewportPosition(5) + view.rowHeight(5) + 4
    assert below < one_pass.height()
    ground = view.viewport().palette().color(QPalette.ColorRole.Base).rgb()
    assert {one_pass.pixel(x, below) for x in range(one_pass.width())} == {ground}


class PaintedAreas(QObject):
    """Where a widget was painted, event by event (the region each Paint event asked for)."""

    def __init__(self, widget) -> None:
        super().__init__(widget)
        self.areas: list[QRect] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.areas.append(event.rect())
        return False

    def covered(self, rect: QRect) -> bool:
        return any(area.contains(rect) for area in self.areas)


def test_numbers_line_up_across_the_table_after_a_scroll(table, qtbot):
    # a scroll uncovers a strip; rows coming into view may line the numbers up elsewhere, so
    # the rows already in view repaint too (never one column of numbers in two alignments)
    store, view = table.store, table.view
    for n in range(4, 40):
        store.apply(Upsert(make_order(n, price="100.125" if n > 30 else "100")))
    store.flush()
    qtbot.waitUntil(lambda: view.verticalScrollBar().maximum() > 100)
    viewport = view.viewport()
    painted = PaintedAreas(viewport)
    view.verticalScrollBar().setValue(view.verticalScrollBar().value() + 37)
    qtbot.waitUntil(lambda: painted.covered(viewport.rect()))


def test_a_row_whose_number_moves_the_column_repaints_the_others(table, qtbot):
    # one row changes and only its own cells are asked to repaint; its new price has more
    # decimals, so every row's price moves to stay on one decimal point: all of them repaint
    store, view = table.store, table.view
    table.proxy.set_filter_text("bitfinex")  # (a filtering table is told of each row apart)
    viewport = view.viewport()
    painted = PaintedAreas(viewport)
    viewport.update()  # all painted as it stands (with whatever was still to paint)
    qtbot.waitUntil(lambda: bool(painted.areas))
    painted.areas.clear()
    store.apply(Upsert(make_order(2, price="102.125")))
    store.flush()
    qtbot.waitUntil(lambda: painted.covered(viewport.rect()))
    assert not painted.areas[0].contains(viewport.rect())  # first the changed row alone


# -- copy -----------------------------------------------------------------------------------
# every column but Cancel and the Client ID (hidden until asked for), in a window wide enough
VISIBLE = ("Venue\tAccount\tSymbol\tSide\tType\tPrice\tTrigger\tAmount\tRemaining\tFilled"
           "\tAvg Price\tNotional\tStatus\tTIF\tFlags\tGroup\tOrder ID\tCreated\tAge")


def test_copy_gives_the_selected_rows_as_shown(table):
    table.view.resize(3000, 300)
    select_row(table.view, 3)
    select_row(table.view, 1, add=True)
    text = table.view.copy_selection()
    lines = text.splitlines()
    assert lines[0] == VISIBLE  # no Cancel column, no hidden Client ID
    assert [line.split("\t")[16] for line in lines[1:]] == ["1", "3"]  # in table order
    assert lines[1].startswith(
        "bitfinex\tacct\ttBTCUSD\tBuy\tEXCHANGE LIMIT\t101\t\t1\t1\t0\t\t\tOpen\t\t\t7\t1\t"
    )
    assert QGuiApplication.clipboard().text() == text


def test_copy_follows_the_columns_as_arranged(table):
    header = table.view.horizontalHeader()
    header.moveSection(header.visualIndex(Column.SYMBOL), 0)
    header.setSectionHidden(Column.VENUE, True)
    select_row(table.view, 0)
    lines = table.view.copy_selection().splitlines()
    assert lines[0].startswith("Symbol\tAccount\tSide\t")
    assert lines[1].startswith("tBTCUSD\tacct\tBuy\t")


def test_copy_with_nothing_selected_leaves_the_clipboard_alone(table):
    QGuiApplication.clipboard().setText("what the trader copied before")
    assert table.view.copy_selection() == ""
    assert QGuiApplication.clipboard().text() == "what the trader copied before"


# -- the header's column menu ---------------------------------------------------------------
def open_header_menu(view: OrdersView):
    header = view.horizontalHeader()
    pos = QPoint(10, header.height() // 2)
    viewport = header.viewport()
    QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos,
                                                       viewport.mapToGlobal(pos)))
    return view.header_menu


def test_the_header_menu_hides_and_shows_columns(table):
    view, header = table.view, table.view.horizontalHeader()
    view.resize(3000, 300)  # room for every column
    menu = open_header_menu(view)
    try:
        actions = {a.text(): a for a in menu.actions()}
        assert list(actions) == [HEADERS[c] for c in Column if c is not Column.CANCEL]
        assert not actions["Client ID"].isChecked()  # hidden until asked for
        assert all(a.isChecked() for name, a in actions.items() if name != "Client ID")
        status_before = view.columnWidth(Column.STATUS)
        group_width = view.columnWidth(Column.GROUP)
        actions["Group"].setChecked(False)
        assert header.isSectionHidden(Column.GROUP)
        # the Status column takes the room, so Created and Cancel stay where they were
        assert view.columnWidth(Column.STATUS) == status_before + group_width
        actions["Client ID"].setChecked(True)
        assert not header.isSectionHidden(Column.CLIENT_ID)
    finally:
        menu.close()
    select_row(view, 0)
    assert "\tGroup\t" not in view.copy_selection().splitlines()[0]


def fully_in_view(view: OrdersView, column: Column) -> bool:
    header = view.horizontalHeader()
    left = header.sectionViewportPosition(column)
    return (not header.isSectionHidden(column) and left >= 0
            and left + header.sectionSize(column) <= view.viewport().width())


@pytest.mark.parametrize("width", [1024, 1280, 1440, 1920])
def test_cancel_and_the_columns_that_name_an_order_stay_in_view_at_any_width(table, width):
    view, header = table.view, table.view.horizontalHeader()
    view.resize(width, 300)
    QApplication.processEvents()  # the scroll bars follow the header's new length
    for column in (Column.CANCEL, Column.SYMBOL, Column.SIDE, Column.PRICE, Column.AMOUNT,
                   Column.REMAINING, Column.STATUS):
        assert fully_in_view(view, column), HEADERS[column]
    assert view.horizontalScrollBar().maximum() == 0  # nothing to scroll to
    dropped = view.columns.dropped()
    # the least needed go first: a column that stays is never less needed than one dropped
    order = list(DROP_ORDER)
    shown = [c for c in order if not header.isSectionHidden(c)]
    assert all(order.index(s) > order.index(d) for s in shown for d in dropped)
    menu = open_header_menu(view)
    try:
        titles = [a.text() for a in menu.actions()]
        assert all(f"{HEADERS[c]} (no room)" in titles for c in dropped)
    finally:
        menu.close()


def test_a_column_dropped_for_want_of_room_comes_back_when_the_window_widens(table):
    view, header = table.view, table.view.horizontalHeader()
    view.resize(1024, 300)
    assert header.isSectionHidden(Column.ORDER_ID)
    assert Column.ORDER_ID in view.columns.dropped()
    assert Column.ORDER_ID not in view.columns.hidden()  # not the trader's choice
    view.resize(2400, 300)
    assert fully_in_view(view, Column.ORDER_ID)
    assert not view.columns.dropped()
    # a column the trader hid stays hidden however wide the window
    view.columns.show_column(Column.TYPE, False)
    view.resize(3000, 300)
    assert header.isSectionHidden(Column.TYPE)


# -- the current row ------------------------------------------------------------------------
def test_the_current_order_is_the_selected_current_row(table):
    view = table.view
    assert view.current_order() is None
    select_row(view, 2)
    assert view.current_order().order_id == "2"
    # the focus frame alone (current, not selected) is not a choice
    view.selectionModel().setCurrentIndex(
        table.index(1, Column.SYMBOL), QItemSelectionModel.SelectionFlag.Clear
    )
    assert view.current_order() is None
    select_row(view, 3)
    select_row(view, 0, add=True)
    assert table.ids(view.selected_orders()) == ["0", "3"]


def test_is_pending_reads_the_store_through_the_proxy(table):
    order = make_order(2)
    assert not table.view.is_pending(order)
    table.store.begin_cancel([order])
    assert table.view.is_pending(order)
    table.store.end_cancel(order.key, Outcome.TIMED_OUT)
    assert not table.view.is_pending(order)


def test_is_pending_without_a_proxy_or_without_a_model(qtbot, store):
    store.apply(Upsert(make_order(1)))
    store.flush()
    store.begin_cancel([make_order(1)])
    plain = OrdersView()
    qtbot.addWidget(plain)
    assert not plain.is_pending(make_order(1))
    plain.setModel(OrdersModel(store))
    assert plain.is_pending(make_order(1))


def test_a_narrow_status_column_keeps_the_time_of_an_unverified_marker() -> None:
    from blotter.ui.order_delegates import marker_fits

    def shown(text: str, room: int) -> str:
        return marker_fits(text, room, len)  # one unit per character

    marked = "unverified since 13:07:19 · Partially filled 54%"
    assert shown(marked, 600) == marked  # room for all
    # then "since" goes, the status words stay while they fit
    assert shown(marked, 45) == "unverified 13:07:19 · Partially filled 54%"
    assert shown(marked, 30) == "unverified since 13:07:19"  # then the status goes
    assert shown(marked, 20) == "unverified 13:07:19"  # then "since"; the time stays
    assert shown("Partially filled 54%", 5) == "Partially filled 54%"  # no marker: elided later


def test_a_narrow_filled_column_keeps_the_amount_whole_and_leaves_out_its_share() -> None:
    from blotter.ui.order_delegates import shorter

    assert shorter("0.014999 (33%)", Column.FILLED, 8, len) == "0.014999"
    assert shorter("0.014999 (33%)", Column.AMOUNT, 8, len) == "0.014999 (33%)"  # not a fill


def test_a_narrow_symbol_column_keeps_an_options_strike_and_side() -> None:
    from blotter.ui.order_delegates import shorter

    option = "BTC-27MAR26-100000-C-USDT"
    assert shorter(option, Column.SYMBOL, 21, len) == "BTC-27MAR26-100000-C…"
    assert shorter(option, Column.SYMBOL, 12, len) == option  # no room even so: elided later
    assert shorter("BTCUSDT-27MAR26", Column.SYMBOL, 8, len) == "BTCUSDT-27MAR26"


def test_a_refused_cancel_marks_its_row_until_the_venue_changes_it(store, model):
    from blotter.ui import theme

    for n in range(3):
        store.apply(Upsert(make_order(n)))
    store.flush()
    store.begin_cancel([make_order(1)])
    store.end_cancel(make_order(1).key, Outcome.TIMED_OUT)
    store.flush()
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    row = next(r for r in range(3) if proxy.index(r, Column.ORDER_ID).data() == "1")
    index = proxy.index(row, Column.STATUS)
    roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole,
             Qt.ItemDataRole.ToolTipRole]
    span = [QModelRoleData(int(r)) for r in roles]
    proxy.multiData(index, span)  # as the view paints it
    assert [d.data() for d in span] == [index.data(r) for r in roles]
    assert span[0].data() == "⚠ timed out · Open"
    assert span[1].data() == theme.WARNING  # the status bar's warning colour
    assert span[2].data().splitlines()[-1].startswith("Last cancel timed out")
    proxy.set_filter_text("timed out")  # the filter box finds it
    assert proxy.rowCount() == 1
    store.apply(Upsert(make_order(1, remaining="0.5")))
    store.flush()
    assert proxy.rowCount() == 0


def test_the_columns_the_trader_hid_are_remembered_not_those_left_out_for_want_of_room(
    table, tmp_path, qtbot
):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMainWindow

    from blotter.ui.window_settings import restore_layout, save_layout

    view = table.view
    view.resize(1024, 300)
    QApplication.processEvents()
    assert Column.ORDER_ID in view.columns.dropped()
    view.columns.show_column(Column.TYPE, False)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = QMainWindow()
    qtbot.addWidget(window)
    save_layout(window, view, settings)

    again = OrdersView()
    qtbot.addWidget(again)
    again.setModel(table.proxy)
    again.apply_default_widths()
    restore_layout(window, again, QSettings(str(tmp_path / "s.ini"),
                                            QSettings.Format.IniFormat))
    again.resize(3000, 300)
    again.show()
    QApplication.processEvents()
    header = again.horizontalHeader()
    assert header.isSectionHidden(Column.TYPE)  # the trader's choice, kept
    assert not header.isSectionHidden(Column.ORDER_ID)  # room again: back
    assert again.columns.hidden() == {Column.TYPE, Column.CLIENT_ID}
