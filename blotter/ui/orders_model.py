"""OrdersModel: the store's open orders as a Qt table model, fed by batched store diffs.

The store collects changes; a timer started by the store's dirty listener flushes it at most
``max_rate_hz`` times a second, and each ``StoreDiff`` becomes a few row signals: one insert for
the new rows (appended), one removal per contiguous range, and ``dataChanged`` over the changed
rows (merged into one span when they are scattered). Never a model reset per message.

The model also keeps its rows sorted (``sort()``, with Python sort keys: numbers as numbers,
times as times); the proxy in front of it only filters. A sorting QSortFilterProxyModel would call
``data()`` from C++ for every comparison: measured at 1.3 s per 30 Hz batch with 10k rows, versus
~14 ms this way. ``SORT_ROLE`` still answers the same values for anyone who asks.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import QFont

from blotter.core.order import Flag, Order, OrderKey, Side
from blotter.core.store import OrderStore, StoreDiff
from blotter.ui import theme

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
FILTER_ROLE = Qt.ItemDataRole.UserRole + 2
ORDER_ROLE = Qt.ItemDataRole.UserRole + 3
PENDING_ROLE = Qt.ItemDataRole.UserRole + 4

CANCELLING = "Cancelling…"

# More scattered changed-row ranges than this in one batch become one dataChanged span.
MAX_CHANGED_RANGES = 4

VENUE_TITLES = {"bitfinex": "Bitfinex", "bybit": "Bybit", "b2trader": "B2TRADER"}


def venue_title(venue: str) -> str:
    return VENUE_TITLES.get(venue, venue)


class Column(IntEnum):
    VENUE = 0
    ACCOUNT = 1
    SYMBOL = 2
    SIDE = 3
    TYPE = 4
    PRICE = 5
    AMOUNT = 6
    FILLED = 7
    STATUS = 8
    GROUP = 9
    CLIENT_ID = 10
    ORDER_ID = 11
    CREATED = 12
    CANCEL = 13


HEADERS = {
    Column.VENUE: "Venue",
    Column.ACCOUNT: "Account",
    Column.SYMBOL: "Symbol",
    Column.SIDE: "Side",
    Column.TYPE: "Type",
    Column.PRICE: "Price",
    Column.AMOUNT: "Amount",
    Column.FILLED: "Filled",
    Column.STATUS: "Status",
    Column.GROUP: "Group",
    Column.CLIENT_ID: "Client ID",
    Column.ORDER_ID: "Order ID",
    Column.CREATED: "Created",
    Column.CANCEL: "",
}

HEADER_TIPS = {
    Column.PRICE: "Limit price as the venue sent it",
    Column.AMOUNT: "Original order amount",
    Column.FILLED: "Executed amount and share of the order",
    Column.STATUS: "The venue's own status text",
    Column.GROUP: "Order group id (cancel a group with Ctrl+G)",
    Column.CREATED: "Creation time, local clock (hover a cell for the full date)",
    Column.CANCEL: "Cancel this order",
}

NUMERIC_COLUMNS = frozenset({Column.PRICE, Column.AMOUNT, Column.FILLED, Column.CREATED})
RIGHT_ALIGNED = frozenset(
    {Column.PRICE, Column.AMOUNT, Column.FILLED, Column.GROUP, Column.CLIENT_ID,
     Column.ORDER_ID, Column.CREATED}
)
_ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGN_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ALIGN_CENTER = Qt.AlignmentFlag.AlignCenter

FLAG_NAMES = {
    Flag.HIDDEN: "hidden",
    Flag.POST_ONLY: "post-only",
    Flag.REDUCE_ONLY: "reduce-only",
    Flag.OCO: "OCO",
    Flag.CLOSE: "close",
}

_MISSING = "—"
_ROOT = QModelIndex()
_NO_NUMBER = float("-inf")  # missing numbers sort before every real one


# -- formatting (pure) ------------------------------------------------------------------------
def format_decimal(value: Decimal | None, grouping: bool = True) -> str:
    """A venue decimal as written: normalised (no trailing zeros, no exponent, no float noise)."""
    if value is None:
        return _MISSING
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"
    normal = value.normalize()
    return format(normal, ",f" if grouping else "f")


def format_percent(part: Decimal, whole: Decimal) -> str:
    """Share of ``whole`` rounded down (a nearly filled order never shows 100%)."""
    if whole.is_zero():
        return "0%"
    pct = part * 100 / whole
    step = Decimal(1) if pct >= 1 or pct.is_zero() else Decimal("0.1")
    if 99 < pct < 100:
        step = Decimal("0.1")
    shown = pct.quantize(step, rounding=ROUND_DOWN)
    if shown.is_zero() and not pct.is_zero():
        return "<0.1%"
    return f"{format(shown.normalize(), 'f')}%"


def format_filled(order: Order) -> str:
    filled = order.filled
    if filled.is_zero():
        return "0"
    return f"{format_decimal(filled)} ({format_percent(filled, order.amount)})"


def local_time(ms: int | None, with_date: bool = False) -> str:
    if ms is None:
        return _MISSING
    moment = datetime.fromtimestamp(ms / 1000).astimezone()
    if with_date:
        millis = f"{moment.microsecond // 1000:03d}"
        return moment.strftime(f"%Y-%m-%d %H:%M:%S.{millis} %Z")
    return moment.strftime("%H:%M:%S")


def _id_sort_key(value: str | None) -> str:
    """Numeric ids sort as numbers, others as text, without mixing types in one column."""
    if not value:
        return ""
    if value.isdigit():
        return value.rjust(24, "0")
    return "~" + value.lower()


def _number(value: Decimal | None) -> float:
    return float(value) if value is not None else _NO_NUMBER


def _exact(value: Decimal | None) -> Decimal | float:
    return value if value is not None else _NO_NUMBER


def side_text(side: Side) -> str:
    return "Buy" if side is Side.BUY else "Sell"


def flag_text(order: Order) -> str:
    return ", ".join(FLAG_NAMES[f] for f in Flag if f in order.flags)


def order_tooltip(order: Order, pending: bool) -> str:
    price = format_decimal(order.price) if order.price is not None else "market"
    lines = [
        f"{order.account} ({venue_title(order.venue)}) · order {order.order_id}",
        (
            f"{side_text(order.side)} {format_decimal(order.amount)} {order.symbol} @ {price}"
            f"  ({order.order_type})"
        ),
        (
            f"Filled {format_decimal(order.filled)} of {format_decimal(order.amount)}"
            f" ({format_percent(order.filled, order.amount)}), remaining "
            f"{format_decimal(order.remaining)}"
        ),
    ]
    if order.avg_price is not None and not order.avg_price.is_zero():
        lines.append(f"Average fill price {format_decimal(order.avg_price)}")
    lines.append(f"Status: {order.status_text}" + ("  — cancel requested" if pending else ""))
    flags = flag_text(order)
    lines.append(f"Flags: {flags}" if flags else "Flags: none")
    if order.group_id:
        lines.append(f"Group {order.group_id}")
    if order.client_id:
        date = f" ({order.client_id_date})" if order.client_id_date else ""
        lines.append(f"Client ID {order.client_id}{date}")
    if order.category:
        lines.append(f"Market: {order.category}")
    lines.append(f"Created {local_time(order.created_ms, with_date=True)}")
    if order.updated_ms is not None and order.updated_ms != order.created_ms:
        lines.append(f"Updated {local_time(order.updated_ms, with_date=True)}")
    return "\n".join(lines)


def filter_text(order: Order) -> str:
    """What the filter box matches against: the row's words, lower-cased, in one string."""
    return " ".join(
        (
            order.venue,
            venue_title(order.venue),
            order.account,
            order.symbol,
            side_text(order.side),
            order.order_type,
            order.status_text,
            order.order_id,
            order.group_id or "",
            order.client_id or "",
            flag_text(order),
        )
    ).lower()


def contiguous_ranges(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged (first, last) ranges of the given row numbers."""
    ranges: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if ranges and ranges[-1][1] == row - 1:
            ranges[-1] = (ranges[-1][0], row)
        else:
            ranges.append((row, row))
    return ranges


_DISPLAY_FNS: tuple[Callable[[Order], str], ...] = (
    lambda o: venue_title(o.venue),  # VENUE
    lambda o: o.account,  # ACCOUNT
    lambda o: o.symbol,  # SYMBOL
    lambda o: side_text(o.side),  # SIDE
    lambda o: o.order_type,  # TYPE
    lambda o: format_decimal(o.price),  # PRICE
    lambda o: format_decimal(o.amount),  # AMOUNT
    format_filled,  # FILLED
    lambda o: o.status_text,  # STATUS
    lambda o: o.group_id or "",  # GROUP
    lambda o: o.client_id or "",  # CLIENT_ID
    lambda o: o.order_id,  # ORDER_ID
    lambda o: local_time(o.created_ms),  # CREATED
    lambda o: "",  # CANCEL (painted by the delegate)
)
assert len(_DISPLAY_FNS) == len(Column)

# plain ints for the hot path (enum comparisons cost more than the lookups they guard)
_COLUMNS = len(Column)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole.value)
_ROLES_SERVED = frozenset(
    {_DISPLAY, _TOOLTIP, _FONT, _ALIGNMENT, _FOREGROUND, _ACCESSIBLE,
     int(SORT_ROLE), int(FILTER_ROLE), int(ORDER_ROLE), int(PENDING_ROLE)}
)
_SIDE, _FILLED, _STATUS, _CANCEL = int(Column.SIDE), int(Column.FILLED), int(Column.STATUS), int(
    Column.CANCEL
)
_NUMERIC = frozenset(int(c) for c in NUMERIC_COLUMNS)
_RIGHT = frozenset(int(c) for c in RIGHT_ALIGNED)
_DIM_COLUMNS = frozenset(
    int(c) for c in (Column.VENUE, Column.GROUP, Column.CLIENT_ID, Column.ORDER_ID, Column.CREATED)
)
_ITEM_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)


# -- the model --------------------------------------------------------------------------------
class OrdersModel(QAbstractTableModel):
    def __init__(
        self,
        store: OrderStore,
        parent: QObject | None = None,
        *,
        max_rate_hz: float = 30.0,
    ) -> None:
        super().__init__(parent)
        self._store = store
        # Rows in display order, with two parallel lists: each row's OrderKey (made once, not per
        # data() call) and its sort key (None while unsorted: rows keep their arrival order).
        self._orders: list[Order] = list(store.orders())
        self._okeys: list[OrderKey] = [o.key for o in self._orders]
        self._row_of: dict[OrderKey, int] = dict(zip(self._okeys, range(len(self._okeys))))
        self._keys: list[Any] = [None] * len(self._orders)
        self._sort_column = -1
        self._sort_key: Callable[[Order], tuple[Any, ...]] | None = None
        self._descending = False
        self._min_interval = 1.0 / max_rate_hz
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)
        self._font = QFont()
        self._mono = theme.mono_font()
        self._italic = QFont(self._font)
        self._italic.setItalic(True)
        self._mono_italic = QFont(self._mono)
        self._mono_italic.setItalic(True)
        self.flushes = 0  # how many store flushes this model ran (tests, diagnostics)
        store.add_diff_listener(self._apply)
        store.add_dirty_listener(self._schedule_flush)

    # -- feeding ---------------------------------------------------------------------------
    def _schedule_flush(self) -> None:
        """The store has news: flush soon, but never more often than max_rate_hz."""
        if self._timer.isActive():
            return
        wait = self._last_flush + self._min_interval - time.monotonic()
        self._timer.start(max(0, int(wait * 1000) + 1) if wait > 0 else 0)

    def _flush(self) -> None:
        self._last_flush = time.monotonic()
        self.flushes += 1
        self._store.flush()  # the diff comes back through _apply, like any other flush's

    def flush_now(self) -> None:
        self._timer.stop()
        self._flush()

    def _apply(self, diff: StoreDiff) -> None:
        removed_rows = [r for r in (self._row_of.get(k) for k in diff.removed) if r is not None]
        if removed_rows:
            self._remove_rows(removed_rows)

        added: list[Order] = []
        changed_rows: list[int] = []
        displaced = False  # a changed row's sort key moved: the order must be restored
        key_of = self._sort_key
        # An "added" order the model already holds (it was built after the change was recorded)
        # is an update; an "updated" one it lacks is an addition. The store's diff stays the truth.
        for order in (*diff.updated, *diff.added):
            row = self._row_of.get(order.key)
            if row is None:
                added.append(order)
                continue
            self._orders[row] = order
            changed_rows.append(row)
            if key_of is not None:
                key = key_of(order)
                if key != self._keys[row]:
                    self._keys[row] = key
                    displaced = True
        if changed_rows:
            self._emit_changed(changed_rows)

        if added:
            if key_of is not None:
                added.sort(key=key_of, reverse=self._descending)
                out_of_order = bool(self._orders) and not self._in_order(
                    self._keys[-1], key_of(added[0])
                )
                displaced = displaced or out_of_order
            first = len(self._orders)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._orders.extend(added)
            self._okeys.extend(o.key for o in added)
            if key_of is not None:
                self._keys.extend(key_of(o) for o in added)
            else:
                self._keys.extend(None for _ in added)
            for i in range(first, len(self._okeys)):
                self._row_of[self._okeys[i]] = i
            self.endInsertRows()

        if displaced:
            self._resort()

    def _in_order(self, before: Any, after: Any) -> bool:
        return bool(before >= after) if self._descending else bool(before <= after)

    def _remove_rows(self, rows: Sequence[int]) -> None:
        # Highest range first, so the row numbers of the ranges still to go stay valid.
        for first, last in reversed(contiguous_ranges(rows)):
            self.beginRemoveRows(QModelIndex(), first, last)
            for key in self._okeys[first:last + 1]:
                del self._row_of[key]
            del self._orders[first:last + 1]
            del self._okeys[first:last + 1]
            del self._keys[first:last + 1]
            self.endRemoveRows()
        okeys, row_of = self._okeys, self._row_of
        for i in range(min(rows), len(okeys)):
            row_of[okeys[i]] = i

    def _emit_changed(self, rows: Sequence[int]) -> None:
        ranges = contiguous_ranges(rows)
        if len(ranges) > MAX_CHANGED_RANGES:
            ranges = [(ranges[0][0], ranges[-1][1])]
        last_column = self.columnCount() - 1
        for first, last in ranges:
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    # -- sorting ---------------------------------------------------------------------------
    # The model keeps its rows sorted itself, with Python sort keys: a sorting proxy would call
    # data() from C++ for every comparison, which costs seconds at 10k rows under a flood.
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0 or column >= len(Column):
            self._sort_column, self._sort_key, self._descending = -1, None, False
            return  # keep the current order; new rows append
        self._sort_column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._sort_key = functools.partial(self._key_for_column, column)
        self._keys = [self._sort_key(o) for o in self._orders]
        self._resort()

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder

    def _resort(self) -> None:
        """Reorder the rows by their keys as one layout change; selections follow their orders."""
        keys = self._keys
        order = sorted(range(len(keys)), key=keys.__getitem__, reverse=self._descending)
        if all(i == row for i, row in enumerate(order)):
            return
        self.layoutAboutToBeChanged.emit()
        new_row = [0] * len(order)
        for new, old in enumerate(order):
            new_row[old] = new
        old_indexes = self.persistentIndexList()
        new_indexes = [
            self.index(new_row[i.row()], i.column()) if 0 <= i.row() < len(new_row) else i
            for i in old_indexes
        ]
        self._orders = [self._orders[i] for i in order]
        self._okeys = [self._okeys[i] for i in order]
        self._keys = [keys[i] for i in order]
        self._row_of = dict(zip(self._okeys, range(len(self._okeys))))
        self.changePersistentIndexList(old_indexes, new_indexes)
        self.layoutChanged.emit()

    def _key_for_column(self, column: int, order: Order) -> tuple[Any, ...]:
        """Sort key: the column's value (numbers as numbers, times as times), then age and id."""
        tail = (order.created_ms or 0, _id_sort_key(order.order_id))
        if column == Column.PRICE:
            return (_exact(order.price), *tail)
        if column == Column.AMOUNT:
            return (order.amount, *tail)
        if column == Column.FILLED:
            return (order.filled / order.amount if order.amount else Decimal(0), *tail)
        if column == Column.CREATED:
            return tail
        if column == Column.GROUP:
            return (_id_sort_key(order.group_id), *tail)
        if column == Column.CLIENT_ID:
            return (_id_sort_key(order.client_id), *tail)
        if column == Column.ORDER_ID:
            return (_id_sort_key(order.order_id), order.created_ms or 0)
        if column == Column.CANCEL:
            return (self._store.is_cancel_pending(order.key), *tail)
        return (self._display(order, column).lower(), *tail)

    # -- reading ---------------------------------------------------------------------------
    def order_at(self, row: int) -> Order | None:
        if 0 <= row < len(self._orders):
            return self._orders[row]
        return None

    def row_of(self, key: OrderKey) -> int | None:
        return self._row_of.get(key)

    def orders(self) -> list[Order]:
        return list(self._orders)

    def is_pending(self, key: OrderKey) -> bool:
        return self._store.is_cancel_pending(key)

    # -- QAbstractTableModel ---------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._orders)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else _COLUMNS

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ITEM_FLAGS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < _COLUMNS:
            return None
        column = Column(section)
        if role == _DISPLAY:
            return HEADERS[column]
        if role == _ALIGNMENT:
            return _ALIGN_RIGHT if column in RIGHT_ALIGNED else _ALIGN_LEFT
        if role == _TOOLTIP:
            return HEADER_TIPS.get(column)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        # Called thousands of times per repaint: plain int comparisons, most common roles first.
        if role not in _ROLES_SERVED:
            return None
        row = index.row()
        if not 0 <= row < len(self._orders) or not index.isValid():
            return None
        order = self._orders[row]
        key = self._okeys[row]
        column = index.column()
        if role == _DISPLAY:
            if column == _STATUS and self._store.is_cancel_pending(key):
                return CANCELLING
            return _DISPLAY_FNS[column](order)
        if role == _FONT:
            pending = self._store.is_cancel_pending(key)
            if column in _NUMERIC:
                return self._mono_italic if pending else self._mono
            return self._italic if pending else None
        if role == _FOREGROUND:
            if self._store.is_cancel_pending(key):
                return theme.DIM_TEXT
            if column == _SIDE:
                return theme.BUY if order.side is Side.BUY else theme.SELL
            if column in _DIM_COLUMNS:
                return theme.DIM_TEXT
            if column == _FILLED and order.remaining == order.amount:
                return theme.FAINT_TEXT
            return None
        if role == _ALIGNMENT:
            if column == _CANCEL:
                return _ALIGN_CENTER
            return _ALIGN_RIGHT if column in _RIGHT else _ALIGN_LEFT
        if role == _TOOLTIP:
            pending = self._store.is_cancel_pending(key)
            if column == _CANCEL:
                if pending:
                    return f"Cancel of order {order.order_id} sent; waiting for the venue"
                return f"Cancel order {order.order_id} (Delete)"
            return order_tooltip(order, pending)
        if role == ORDER_ROLE:
            return order
        if role == PENDING_ROLE:
            return self._store.is_cancel_pending(key)
        if role == SORT_ROLE:
            return self._sort_value(order, column)
        if role == FILTER_ROLE:
            return filter_text(order)
        if role == _ACCESSIBLE:
            if column == _CANCEL:
                return f"Cancel order {order.order_id}"
            return self._display(order, column)
        return None

    def _display(self, order: Order, column: int) -> str:
        if column == _STATUS and self._store.is_cancel_pending(order.key):
            return CANCELLING
        return _DISPLAY_FNS[column](order)

    def _sort_value(self, order: Order, column: int) -> Any:
        if column == Column.PRICE:
            return _number(order.price)
        if column == Column.AMOUNT:
            return _number(order.amount)
        if column == Column.FILLED:
            return float(order.filled / order.amount) if order.amount else 0.0
        if column == Column.CREATED:
            return float(order.created_ms) if order.created_ms is not None else _NO_NUMBER
        if column == Column.GROUP:
            return _id_sort_key(order.group_id)
        if column == Column.CLIENT_ID:
            return _id_sort_key(order.client_id)
        if column == Column.ORDER_ID:
            return _id_sort_key(order.order_id)
        if column == Column.CANCEL:
            return 1 if self._store.is_cancel_pending(order.key) else 0
        return self._display(order, column).lower()
