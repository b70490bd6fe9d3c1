"""Recently Closed: the rows that left the table, newest first, each with when and why.

``ClosedModel`` is a table model over plain ``ClosedOrder`` values: "Closed at", "Reason"
(``ClosedOrder.outcome_text()``), then the columns of the orders table (the row as it last
looked).
It starts from the store's kept closes and takes new ones from the store's close listener in
batches (a flood of fills costs one insert per batch, not one per close), keeping the last
``LIMIT``. ``ClosedView`` shows it through a proxy that sorts and filters like the orders table.
Like the orders table it holds still while the trader aims (``RowHold``): new closes wait,
counted by a marker, until the pointer leaves, F5, a click on the marker or a rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from blotter.core.closes import ClosedOrder
from blotter.core.order import Side
from blotter.ui import theme
from blotter.ui.formatting import VenueLabel, default_venue_label, filter_text, order_tooltip
from blotter.ui.orders_model import (
    DISPLAY_FNS,
    FILTER_ROLE,
    HEADERS,
    NUMERIC_COLUMNS,
    ORDER_ROLE,
    RIGHT_ALIGNED,
    SORT_ROLE,
    Column,
    sort_value,
)
from blotter.ui.orders_view import (
    MiddleElideDelegate,
    filter_expression,
    fit_row_height,
    set_up_rows,
)
from blotter.ui.row_hold import RowHold, waiting_words
from blotter.ui.trust_text import clock_text

LIMIT = 500
BATCH_MS = 150  # closes arriving within this long go in as one insert

# when and why the row left, then the orders table's columns (no Cancel button)
CLOSED_AT = 0
REASON = 1
FIRST_ORDER_COLUMN = 2
ORDER_COLUMNS: tuple[Column, ...] = tuple(c for c in Column if c is not Column.CANCEL)
COLUMN_COUNT = FIRST_ORDER_COLUMN + len(ORDER_COLUMNS)


def section_of(column: Column) -> int:
    """Where an orders-table column sits in this table."""
    return FIRST_ORDER_COLUMN + ORDER_COLUMNS.index(column)
CLOSED_ROLE = Qt.ItemDataRole.UserRole + 10

_DISPLAY = Qt.ItemDataRole.DisplayRole
_ROOT = QModelIndex()
_DIM = frozenset({Column.VENUE, Column.GROUP, Column.CLIENT_ID, Column.ORDER_ID,
                  Column.CREATED})
_ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGN_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def closed_tooltip(closed: ClosedOrder, venue_label: VenueLabel, now: int) -> str:
    """The order as it last looked, then how and when it left."""
    lines = [order_tooltip(closed.order, False, venue_label),
             f"Closed {clock_text(closed.closed_ms, now)}: {closed.outcome_text()}"]
    if closed.corrects:
        lines.append("This corrects a cancel receipt that said only \"closed, how unknown\"")
    return "\n".join(lines)


class ClosedModel(QAbstractTableModel):
    """The last ``limit`` closes across accounts, newest first."""

    waiting_changed = Signal()  # how many closes wait while the rows hold still changed

    def __init__(
        self,
        closes: Iterable[ClosedOrder] = (),
        parent: QObject | None = None,
        *,
        venue_label: VenueLabel = default_venue_label,
        limit: int = LIMIT,
        clock: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(parent)
        self._venue_label = venue_label
        self._limit = limit
        self._clock = clock or _wall_ms
        kept = list(closes)  # oldest first, as the store keeps them
        self._rows: list[ClosedOrder] = kept[::-1][:limit]
        self._incoming: list[ClosedOrder] = []
        self._holding = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._batch)
        self._mono = theme.mono_font()

    def refresh_fonts(self) -> None:
        """The numbers' font again from the application's (its size changed)."""
        self._mono = theme.mono_font()
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))

    # -- feeding --------------------------------------------------------------------------------
    def add(self, closed: ClosedOrder) -> None:
        """A row left the orders table: shown at the top with the next batch."""
        self._incoming.append(closed)
        if not self._timer.isActive():
            self._timer.start(BATCH_MS)

    def _batch(self) -> None:
        if self._holding:
            self.waiting_changed.emit()  # they wait, counted
        else:
            self.flush()

    def hold_rows(self, on: bool) -> None:
        """Hold the rows still (``on``): new closes wait; turned off, they are shown."""
        self._holding = on
        if not on:
            self.flush()

    @property
    def waiting(self) -> int:
        """How many closes wait to be shown."""
        return len(self._incoming)

    def flush(self) -> None:
        """Show the closes that arrived since the last batch (newest on top)."""
        self._timer.stop()
        batch, self._incoming = self._incoming[::-1][: self._limit], []
        if not batch:
            return
        self.waiting_changed.emit()
        self.beginInsertRows(_ROOT, 0, len(batch) - 1)
        self._rows[0:0] = batch
        self.endInsertRows()
        if len(self._rows) > self._limit:
            self.beginRemoveRows(_ROOT, self._limit, len(self._rows) - 1)
            del self._rows[self._limit:]
            self.endRemoveRows()

    # -- reading --------------------------------------------------------------------------------
    def closes(self) -> list[ClosedOrder]:
        """What the rows show, newest first."""
        return list(self._rows)

    def closed_at(self, row: int) -> ClosedOrder | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    # -- QAbstractTableModel --------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < COLUMN_COUNT:
            return None
        if role == _DISPLAY:
            if section == REASON:
                return "Reason"
            if section == CLOSED_AT:
                return "Closed at"
            return HEADERS[ORDER_COLUMNS[section - FIRST_ORDER_COLUMN]]
        if role == Qt.ItemDataRole.ToolTipRole:
            if section == REASON:
                return "Why the row left: what the venue said, or that you cancelled it"
            if section == CLOSED_AT:
                return "When it left, local clock"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN_LEFT if section == REASON else self._alignment(section)
        return None

    def _alignment(self, section: int) -> Qt.AlignmentFlag:
        if section == CLOSED_AT:
            return _ALIGN_RIGHT
        if section >= FIRST_ORDER_COLUMN and (
            ORDER_COLUMNS[section - FIRST_ORDER_COLUMN] in RIGHT_ALIGNED
        ):
            return _ALIGN_RIGHT
        return _ALIGN_LEFT

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        row, section = index.row(), index.column()
        if not index.isValid() or not 0 <= row < len(self._rows):
            return None
        closed = self._rows[row]
        order = closed.order
        column = (ORDER_COLUMNS[section - FIRST_ORDER_COLUMN]
                  if section >= FIRST_ORDER_COLUMN else None)
        if role == _DISPLAY or role == Qt.ItemDataRole.AccessibleTextRole:
            return self._text(closed, section)
        if role == Qt.ItemDataRole.ForegroundRole:
            if section == REASON:
                return theme.REASON_COLOURS.get(closed.reason)
            if column is Column.SIDE:
                return theme.BUY if order.side is Side.BUY else theme.SELL
            if column in _DIM or section == CLOSED_AT:
                return theme.DIM_TEXT
            return None
        if role == Qt.ItemDataRole.FontRole:
            if column in NUMERIC_COLUMNS or section == CLOSED_AT:
                return self._mono
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignment(section)
        if role == Qt.ItemDataRole.ToolTipRole:
            return closed_tooltip(closed, self._venue_label, self._clock())
        if role == SORT_ROLE:
            if section == CLOSED_AT:
                return float(closed.closed_ms)
            value = sort_value(order, column) if column is not None else None
            return self._text(closed, section).lower() if value is None else value
        if role == FILTER_ROLE:
            return f"{filter_text(order, self._venue_label)} {closed.outcome_text()}".lower()
        if role == ORDER_ROLE:
            return order
        if role == CLOSED_ROLE:
            return closed
        return None

    def _text(self, closed: ClosedOrder, section: int) -> str:
        if section == REASON:
            return closed.outcome_text()
        if section == CLOSED_AT:
            return clock_text(closed.closed_ms, self._clock())
        column = ORDER_COLUMNS[section - FIRST_ORDER_COLUMN]
        if column is Column.VENUE:
            return self._venue_label(closed.order.venue, closed.order.account)
        return DISPLAY_FNS[column](closed.order)


class ClosedProxy(QSortFilterProxyModel):
    """Sorts by SORT_ROLE (numbers as numbers, times as times) and filters by the words of the
    filter box, as the orders table does."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(0)
        self.setDynamicSortFilter(True)

    def set_filter_text(self, text: str) -> None:
        self.setFilterRegularExpression(filter_expression(text))


class ClosedView(QTableView):
    """The Recently Closed table: newest first until the trader sorts otherwise."""

    HIDDEN_BY_DEFAULT = (Column.CLIENT_ID,)

    def __init__(
        self,
        closes: Iterable[ClosedOrder] = (),
        parent: QWidget | None = None,
        *,
        venue_label: VenueLabel = default_venue_label,
        clock: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("closed")
        self.closed_model = ClosedModel(closes, self, venue_label=venue_label, clock=clock)
        self.proxy = ClosedProxy(self)
        self.proxy.setSourceModel(self.closed_model)
        self.setModel(self.proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        set_up_rows(self)
        self._id_delegate = MiddleElideDelegate(self)
        self.setItemDelegateForColumn(section_of(Column.ORDER_ID), self._id_delegate)
        self.setSortingEnabled(True)
        self.show_newest_first()
        self.apply_default_widths()
        # new closes wait while the trader aims at a row (row_hold.py)
        self.hold = RowHold(self)
        self.hold.held_changed.connect(self.closed_model.hold_rows)
        self.hold.apply_requested.connect(self.closed_model.flush)
        self.closed_model.waiting_changed.connect(self._show_waiting)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # the text size changed (View menu)
            fit_row_height(self)
            self.closed_model.refresh_fonts()
            self.apply_default_widths()

    def _show_waiting(self) -> None:
        self.hold.show_waiting(waiting_words(self.closed_model.waiting, 0, closes=True))

    def show_newest_first(self) -> None:
        """The model's own order, newest first: no sort for the proxy to keep up while closes
        pour in (a third click on a header comes back here)."""
        header = self.horizontalHeader()
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        self.proxy.sort(-1)

    def apply_default_widths(self) -> None:
        metrics = self.fontMetrics()
        digits = QFontMetrics(theme.mono_font(self.font()))
        bold = QFont(self.horizontalHeader().font())
        bold.setWeight(QFont.Weight.DemiBold)
        titles = QFontMetrics(bold)
        pad = 24
        samples = {
            Column.VENUE: "Bitfinex", Column.ACCOUNT: "acme/Acme Main",
            Column.SYMBOL: "BTC-27MAR26-9000-C", Column.SIDE: "Sell", Column.TYPE: "Spot Limit",
            Column.STATUS: "EXECUTED @ 16673.0(0.09)", Column.GROUP: "Group",
            Column.CLIENT_ID: "1795227360000", Column.ORDER_ID: "190077…767093",
        }
        numbers = {Column.PRICE: "123,456.78", Column.AMOUNT: "12,345.678",
                   Column.FILLED: "0.0828 (56%)", Column.CREATED: "00:00:00"}
        header = self.horizontalHeader()
        for section, column in enumerate(ORDER_COLUMNS, FIRST_ORDER_COLUMN):
            title = str(self.closed_model.headerData(section, Qt.Orientation.Horizontal))
            if column in numbers:
                width = digits.horizontalAdvance(numbers[column]) + pad
            else:
                width = metrics.horizontalAdvance(samples.get(column, "")) + pad
            self.setColumnWidth(section, max(width, titles.horizontalAdvance(title) + 34))
            header.setSectionHidden(section, column in self.HIDDEN_BY_DEFAULT)
        self.setColumnWidth(REASON, metrics.horizontalAdvance(
            "cancelled at the venue (CancelByAdmin)") + pad)
        # "yesterday 13:07:19", or the date for an older close
        self.setColumnWidth(CLOSED_AT, digits.horizontalAdvance("2026-12-05 00:00:00") + pad)

    def closed_at_row(self, row: int) -> ClosedOrder | None:
        """The close shown in view row ``row``."""
        value = self.proxy.index(row, 0).data(CLOSED_ROLE)
        return value if isinstance(value, ClosedOrder) else None
