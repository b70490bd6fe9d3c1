"""OrdersModel over a store fed with plain Orders: row signals, batching, display and sorting
(how an order reads is tests/ui/test_formatting.py; the proxy and the view, test_orders_view.py)."""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, Qt

from blotter.core.cancel import Outcome
from blotter.core.order import Closed, Flag, Side, Snapshot, Upsert
from blotter.ui.orders_model import (
    CANCELLING,
    ORDER_ROLE,
    Column,
    OrdersModel,
    contiguous_ranges,
)
from blotter.ui.orders_view import OrdersProxyModel
from tests.ui.book import make_order
from tests.ui.conftest import select_row


class SignalLog:
    """Records the structural and data signals a model emits."""

    NAMES = ("rowsInserted", "rowsRemoved", "dataChanged", "modelReset", "layoutChanged")

    def __init__(self, model: OrdersModel) -> None:
        self.events: list[tuple[str, tuple[int, ...]]] = []
        for name in self.NAMES:
            getattr(model, name).connect(self._recorder(name))

    def _recorder(self, name: str):
        def record(*args: object) -> None:
            rows = tuple(a.row() for a in args if isinstance(a, QModelIndex) and a.isValid()) + tuple(
                a for a in args if isinstance(a, int)
            )
            self.events.append((name, rows))

        return record

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def clear(self) -> None:
        self.events.clear()


def cell(model: OrdersModel, row: int, column: Column, role: int = Qt.ItemDataRole.DisplayRole):
    return model.data(model.index(row, column), role)


def row_of(model: OrdersModel, order_id: str) -> int:
    for row in range(model.rowCount()):
        if cell(model, row, Column.ORDER_ID) == order_id:
            return row
    raise AssertionError(f"order {order_id} not in the model")


def test_model_passes_qt_model_tester_with_rows(store, qtmodeltester):
    for n in range(20):
        store.apply(Upsert(make_order(n, group=str(n % 3) if n % 2 else None)))
    store.flush()
    model = OrdersModel(store)
    qtmodeltester.check(model)
    assert model.rowCount() == 20
    assert model.columnCount() == len(Column)
    store.apply(Closed(make_order(3)))
    store.apply(Upsert(make_order(5, remaining="0.5")))
    store.apply(Upsert(make_order(99)))
    store.flush()
    assert model.rowCount() == 20


def test_inserts_updates_and_removes_are_row_signals_never_a_reset(store, model):
    log = SignalLog(model)
    store.apply_all(Upsert(make_order(n)) for n in range(5))
    store.flush()
    assert log.events == [("rowsInserted", (0, 4))]
    assert model.rowCount() == 5

    log.clear()
    store.apply(Upsert(make_order(2, remaining="0.25")))
    store.flush()
    assert log.events == [("dataChanged", (2, 2))]
    assert cell(model, 2, Column.FILLED) == "0.75 (75%)"

    log.clear()
    store.apply(Closed(make_order(1)))
    store.apply(Closed(make_order(3)))
    store.flush()
    # two separate ranges, removed highest first so row numbers stay valid
    assert log.names() == ["rowsRemoved", "rowsRemoved"]
    assert [rows for _, rows in log.events] == [(3, 3), (1, 1)]
    assert [cell(model, r, Column.ORDER_ID) for r in range(model.rowCount())] == ["0", "2", "4"]

    log.clear()
    store.apply(Snapshot(make_order(0).account_key, (make_order(4), make_order(7))))
    store.flush()
    assert "modelReset" not in log.names() and "layoutChanged" not in log.names()
    assert sorted(cell(model, r, Column.ORDER_ID) for r in range(model.rowCount())) == ["4", "7"]


def test_contiguous_removals_are_one_signal(store, model):
    store.apply_all(Upsert(make_order(n)) for n in range(10))
    store.flush()
    log = SignalLog(model)
    for n in range(2, 8):
        store.apply(Closed(make_order(n)))
    store.flush()
    assert log.events == [("rowsRemoved", (2, 7))]
    assert [cell(model, r, Column.ORDER_ID) for r in range(model.rowCount())] == [
        "0", "1", "8", "9"
    ]


def test_a_thousand_updates_in_one_batch_are_a_handful_of_signals(store, model):
    store.apply_all(Upsert(make_order(n)) for n in range(2000))
    store.flush()
    log = SignalLog(model)
    # 1,000 scattered updates (every other row), some twice
    for n in range(0, 2000, 2):
        store.apply(Upsert(make_order(n, remaining="0.5")))
    for n in range(0, 200, 2):
        store.apply(Upsert(make_order(n, remaining="0.25")))
    store.flush()
    assert len(log.events) <= 4, log.names()
    assert set(log.names()) == {"dataChanged"}
    assert cell(model, row_of(model, "10"), Column.FILLED) == "0.75 (75%)"
    assert cell(model, row_of(model, "1000"), Column.FILLED) == "0.5 (50%)"
    assert cell(model, row_of(model, "1001"), Column.FILLED) == "0"


def test_mixed_batch_keeps_rows_and_keys_consistent(store, model):
    store.apply_all(Upsert(make_order(n)) for n in range(50))
    store.flush()
    for n in range(0, 50, 3):
        store.apply(Closed(make_order(n)))
    for n in range(1, 50, 3):
        store.apply(Upsert(make_order(n, price="7")))
    for n in range(100, 110):
        store.apply(Upsert(make_order(n)))
    store.flush()
    ids = [cell(model, r, Column.ORDER_ID) for r in range(model.rowCount())]
    assert sorted(ids, key=int) == sorted((o.order_id for o in store), key=int)
    for r in range(model.rowCount()):
        order = cell(model, r, Column.ORDER_ID, ORDER_ROLE)
        assert order == store.get(order.key)
        assert model.row_of(order.key) == r


def test_decimals_display_exactly_as_sent(store, model):
    store.apply(Upsert(make_order(1, price="0.000012345", amount="12345.67890000")))
    store.apply(Upsert(make_order(2, price="16673.0", amount="0.1", remaining="0.09")))
    store.apply(Upsert(make_order(3, price="1E+2", amount="3.00000001", remaining="3.00000001")))
    store.flush()
    assert cell(model, row_of(model, "1"), Column.PRICE) == "0.000012345"
    assert cell(model, row_of(model, "1"), Column.AMOUNT) == "12,345.6789"
    assert cell(model, row_of(model, "2"), Column.PRICE) == "16,673"
    assert cell(model, row_of(model, "2"), Column.FILLED) == "0.01 (10%)"
    assert cell(model, row_of(model, "3"), Column.PRICE) == "100"
    assert cell(model, row_of(model, "3"), Column.AMOUNT) == "3.00000001"


def test_contiguous_ranges():
    assert contiguous_ranges([5, 1, 2, 3, 9, 8]) == [(1, 3), (5, 5), (8, 9)]


def test_side_status_alignment_and_tooltip(store, model):
    store.apply(Upsert(make_order(1, side=Side.SELL, flags=frozenset({Flag.HIDDEN, Flag.OCO}))))
    store.flush()
    assert cell(model, 0, Column.SIDE) == "Sell"
    assert cell(model, 0, Column.STATUS) == "Open"
    align = cell(model, 0, Column.PRICE, Qt.ItemDataRole.TextAlignmentRole)
    assert align & Qt.AlignmentFlag.AlignRight
    tip = cell(model, 0, Column.SYMBOL, Qt.ItemDataRole.ToolTipRole)
    assert "hidden" in tip and "OCO" in tip and "order 1" in tip
    created_tip = cell(model, 0, Column.CREATED, Qt.ItemDataRole.ToolTipRole)
    assert "2023-11-1" in created_tip  # full date (local time zone) in the tooltip
    # an order of another year shows its date: yesterday's order never reads like today's
    assert re.fullmatch(r"2023-11-1\d", cell(model, 0, Column.CREATED))
    assert "UTC" in created_tip and "Local" in created_tip


def test_pending_cancel_row_shows_cancelling(store, model):
    store.apply_all(Upsert(make_order(n)) for n in range(3))
    store.flush()
    log = SignalLog(model)
    key = make_order(1).key
    store.begin_cancel([make_order(1)])
    store.flush()
    assert log.events == [("dataChanged", (1, 1))]
    assert cell(model, 1, Column.STATUS) == CANCELLING
    assert cell(model, 1, Column.SYMBOL, Qt.ItemDataRole.FontRole).italic()
    assert cell(model, 0, Column.STATUS) == "Open"
    store.end_cancel(key, Outcome.REJECTED, "ERROR: Order not found.")
    store.flush()
    # back as it was, with a mark saying the cancel was refused, and the venue's words
    assert cell(model, 1, Column.STATUS) == "⚠ rejected · Open"
    assert cell(model, 1, Column.SYMBOL, Qt.ItemDataRole.FontRole) is None  # not italic
    tip = cell(model, 1, Column.STATUS, Qt.ItemDataRole.ToolTipRole)
    assert tip.splitlines()[-1].startswith("Last cancel rejected: ERROR: Order not found.")
    assert "rejected" in cell(model, 1, Column.CANCEL, Qt.ItemDataRole.ToolTipRole)
    # until the venue next changes the order
    store.apply(Upsert(make_order(1, remaining="0.5")))  # half of it filled
    store.flush()
    assert cell(model, 1, Column.STATUS) == "Partially filled 50%"
    assert "Last cancel" not in cell(model, 1, Column.STATUS, Qt.ItemDataRole.ToolTipRole)


def test_flush_is_coalesced_by_the_timer(store, qtbot):
    model = OrdersModel(store, max_rate_hz=30)
    for n in range(500):
        store.apply(Upsert(make_order(n)))
    assert model.rowCount() == 0  # nothing until the timer fires
    qtbot.waitUntil(lambda: model.rowCount() == 500, timeout=2000)
    assert model.flushes == 1


def test_sorted_model_places_new_and_changed_rows_and_keeps_the_selection(store, model, qtbot):
    from PySide6.QtWidgets import QTableView

    for n, price in enumerate(["50", "10", "30", "20", "40"]):
        store.apply(Upsert(make_order(n, price=price)))
    store.flush()
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(Column.PRICE, Qt.SortOrder.DescendingOrder)

    def prices() -> list[str]:
        return [proxy.index(r, Column.PRICE).data() for r in range(proxy.rowCount())]

    assert prices() == ["50", "40", "30", "20", "10"]
    select_row(view, prices().index("30"))
    assert len(view.selectionModel().selectedRows()) == 1
    log = SignalLog(model)
    store.apply(Upsert(make_order(9, price="35")))  # new, lands in the middle
    store.apply(Upsert(make_order(2, price="5")))  # the selected order moves to the bottom
    store.flush()
    assert prices() == ["50", "40", "35", "20", "10", "5"]
    assert "modelReset" not in log.names()
    selected = [proxy.index(i.row(), Column.ORDER_ID).data()
                for i in view.selectionModel().selectedRows()]
    assert selected == ["2"]  # the selection followed its order, not its old row
    for r in range(model.rowCount()):
        assert model.row_of(cell(model, r, Column.ORDER_ID, ORDER_ROLE).key) == r

    view.sortByColumn(Column.SYMBOL, Qt.SortOrder.AscendingOrder)  # equal symbols: by age
    assert [proxy.index(r, Column.ORDER_ID).data() for r in range(proxy.rowCount())] == [
        "0", "1", "2", "3", "4", "9"
    ]


# -- trust: unverified rows and highlights -----------------------------------------------------
def trusted_model(store, qtmodeltester, clock_ms: int = 1_700_000_100_000):
    """A model over ``store`` that asks a trust board (fed by the test, as the engine feeds
    it) which rows a live stream vouches for."""
    from blotter.core.trust import TrustBoard

    board = TrustBoard(lambda: clock_ms)
    model = OrdersModel(store, trust=board, clock=lambda: clock_ms)
    qtmodeltester.check(model)
    return model, board


def publish(board, account: str, state, ts_ms: int, **kw) -> None:
    from blotter.core.notices import AccountState

    board.on_state(AccountState("bitfinex", account, state, "1006", ts_ms=ts_ms, **kw))


def test_rows_of_an_account_that_is_not_live_are_drawn_unverified(store, qtmodeltester):
    from blotter.core.notices import VenueState
    from blotter.core.trust import clock_time
    from blotter.ui import theme

    model, board = trusted_model(store, qtmodeltester)
    t = 1_700_000_050_000
    publish(board, "a", VenueState.LIVE, t - 1000)
    publish(board, "b", VenueState.LIVE, t - 1000)
    store.apply(Snapshot(make_order(1, account="a").account_key, (make_order(1, account="a"),)))
    store.apply(Snapshot(make_order(2, account="b").account_key, (make_order(2, account="b"),)))
    model.flush_now()
    a, b = row_of(model, "1"), row_of(model, "2")
    assert cell(model, a, Column.STATUS) == "Open"
    assert cell(model, a, Column.PRICE, Qt.ItemDataRole.ForegroundRole) is None
    assert cell(model, a, Column.PRICE, Qt.ItemDataRole.BackgroundRole) is None
    assert model.follow_trust() is False  # nothing changed since the rows were drawn

    log = SignalLog(model)
    publish(board, "a", VenueState.RECONNECTING, t, attempt=1, retry_in=0.5)
    assert model.follow_trust() is True
    assert log.names() == ["dataChanged"]  # one repaint of every row, no reset
    assert model.follow_trust() is False
    marker = f"unverified since {clock_time(t)}"
    assert cell(model, a, Column.STATUS) == f"{marker} · Open"
    for column in (Column.SYMBOL, Column.PRICE, Column.AMOUNT, Column.STATUS):
        assert cell(model, a, column, Qt.ItemDataRole.ForegroundRole) == theme.UNVERIFIED_TEXT
    assert cell(model, a, Column.SIDE, Qt.ItemDataRole.ForegroundRole) == theme.UNVERIFIED_BUY
    assert cell(model, a, Column.PRICE, Qt.ItemDataRole.BackgroundRole) is not None
    tip = cell(model, a, Column.STATUS, Qt.ItemDataRole.ToolTipRole)
    assert tip.splitlines()[-1].startswith(f"Unverified since {clock_time(t)}: a is reconnecting")
    assert "confirmed when the account is back" in cell(
        model, a, Column.CANCEL, Qt.ItemDataRole.ToolTipRole)
    # the other account's row is as it was
    assert cell(model, b, Column.STATUS) == "Open"
    assert cell(model, b, Column.PRICE, Qt.ItemDataRole.ForegroundRole) is None
    # "unverified" is a word the filter box finds
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text("unverified")
    assert proxy.rowCount() == 1 and proxy.index(0, Column.ORDER_ID).data() == "1"
    proxy.set_filter_text("Unverified SINCE")  # in any case
    assert proxy.rowCount() == 1
    proxy.set_filter_text("unverified")

    publish(board, "a", VenueState.LIVE, t + 5000)
    assert model.follow_trust() is True
    assert cell(model, a, Column.STATUS) == "Open"
    assert proxy.rowCount() == 0


def test_a_delegate_gets_the_same_marks_in_one_call(store, qtmodeltester):
    from PySide6.QtCore import QModelRoleData

    from blotter.core.notices import VenueState
    from blotter.ui import theme

    model, board = trusted_model(store, qtmodeltester)
    publish(board, "a", VenueState.CONNECTING, 1_700_000_000_000)
    store.apply(Snapshot(make_order(1, account="a").account_key, (make_order(1, account="a"),)))
    model.flush_now()
    roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole,
             Qt.ItemDataRole.BackgroundRole]
    span = [QModelRoleData(r) for r in roles]
    model.multiData(model.index(0, Column.STATUS), span)
    assert span[0].data().startswith("unverified since ")
    assert span[1].data() == theme.UNVERIFIED_TEXT
    assert span[2].data() is not None


async def test_highlighted_rows_fade_after_their_time(store, qtmodeltester):
    from blotter.core.notices import VenueState
    from blotter.ui import theme
    from tests.helpers import until

    model, board = trusted_model(store, qtmodeltester)
    publish(board, "acct", VenueState.LIVE, 1_700_000_000_000)
    model.marks.highlight_seconds = 0.2
    for n in range(3):
        store.put(make_order(n))
    model.flush_now()
    log = SignalLog(model)
    lit = make_order(1).key
    model.highlight([lit, make_order(9).key])  # 9 is not a row (yet): no signal for it
    assert log.events == [("dataChanged", (row_of(model, "1"), row_of(model, "1")))]
    brush = cell(model, row_of(model, "1"), Column.SYMBOL, Qt.ItemDataRole.BackgroundRole)
    assert brush.color() == theme.HIGHLIGHT
    assert cell(model, row_of(model, "0"), Column.SYMBOL, Qt.ItemDataRole.BackgroundRole) is None
    store.put(make_order(9))  # arrives lit
    model.flush_now()
    assert model.marks.is_highlighted(make_order(9).key)
    await until(lambda: not model.marks.is_highlighted(lit))
    await until(lambda: not model.marks.is_highlighted(make_order(9).key))
    assert cell(model, row_of(model, "1"), Column.SYMBOL, Qt.ItemDataRole.BackgroundRole) is None
    assert ("dataChanged", (row_of(model, "1"), row_of(model, "1"))) in log.events[1:]
