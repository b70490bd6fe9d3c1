"""How a row of the orders table reads, cell by cell: the columns, what each cell shows, in
which font and colour, what it says when hovered, and the roles the proxy, the delegates and
the actions ask for.

``OrderCellsModel`` is the reading half of the orders model: rows in display order
(``_orders``), answered through ``data()`` and, for a painted cell, ``multiData()`` in one
call. ``OrdersModel`` (orders_model.py) is the feeding half: it keeps the rows equal to the
store, sorted, and holds them still while the trader aims.

Besides the order itself a row may carry: a cancel in flight ("Cancelling…", italic), an
unverified marker (``RowMarks``), a refused cancel ("⚠ rejected · ACTIVE", the venue's words
in the tooltip, until the venue next changes the order), and — while the table holds still —
the close of its order (struck through, "closed: filled at 95,120.5", Cancel disabled).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from blotter.core.closes import ClosedOrder
from blotter.core.order import Order, OrderKey, Side
from blotter.core.store import OrderStore
from blotter.ui import theme
from blotter.ui.formatting import (
    Notional,
    VenueLabel,
    age_text,
    average_text,
    created_text,
    default_venue_label,
    filter_text,
    flags_short,
    format_decimal,
    format_filled,
    format_notional,
    format_optional,
    no_notional,
    order_tooltip,
    side_text,
    status_words,
    tif_text,
    time_tooltip,
    type_text,
)
from blotter.ui.row_marks import RowMarks

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
FILTER_ROLE = Qt.ItemDataRole.UserRole + 2
ORDER_ROLE = Qt.ItemDataRole.UserRole + 3
PENDING_ROLE = Qt.ItemDataRole.UserRole + 4
# the close text of a row whose order closed while the table held still ("closed: filled"),
# else None: its Cancel button is disabled and says this
CLOSED_ROLE = Qt.ItemDataRole.UserRole + 5

CANCELLING = "Cancelling…"
REFUSED_SIGN = "⚠"


class Column(IntEnum):
    VENUE = 0
    ACCOUNT = 1
    SYMBOL = 2
    SIDE = 3
    TYPE = 4
    PRICE = 5
    TRIGGER = 6
    AMOUNT = 7
    REMAINING = 8
    FILLED = 9
    AVG_PRICE = 10
    NOTIONAL = 11
    STATUS = 12
    TIF = 13
    FLAGS = 14
    GROUP = 15
    CLIENT_ID = 16
    ORDER_ID = 17
    CREATED = 18
    AGE = 19
    CANCEL = 20


HEADERS = {
    Column.VENUE: "Venue",
    Column.ACCOUNT: "Account",
    Column.SYMBOL: "Symbol",
    Column.SIDE: "Side",
    Column.TYPE: "Type",
    Column.PRICE: "Price",
    Column.TRIGGER: "Trigger",
    Column.AMOUNT: "Amount",
    Column.REMAINING: "Remaining",
    Column.FILLED: "Filled",
    Column.AVG_PRICE: "Avg Price",
    Column.NOTIONAL: "Notional",
    Column.STATUS: "Status",
    Column.TIF: "TIF",
    Column.FLAGS: "Flags",
    Column.GROUP: "Group",
    Column.CLIENT_ID: "Client ID",
    Column.ORDER_ID: "Order ID",
    Column.CREATED: "Created",
    Column.AGE: "Age",
    Column.CANCEL: "",
}

HEADER_TIPS = {
    Column.PRICE: "Limit price as the venue sent it",
    Column.TRIGGER: "The price that makes a stop, take-profit or conditional order active",
    Column.AMOUNT: "Original order amount",
    Column.REMAINING: "Amount still open",
    Column.FILLED: "Executed amount and share of the order",
    Column.AVG_PRICE: "Average price of the fills so far",
    Column.NOTIONAL: "Price × remaining, in the quote currency",
    Column.STATUS: "The order's state in words (hover a cell for the venue's own words)",
    Column.TIF: "Time in force, in the venue's word",
    Column.FLAGS: "Post-only, reduce-only, hidden, OCO, close",
    Column.GROUP: "Order group id (cancel a group with Ctrl+G)",
    Column.CREATED: "Creation time, local clock; the date when not today (hover for UTC)",
    Column.AGE: "How long ago the order was made (hover for the full time)",
    Column.CANCEL: "Cancel this order",
}

# numbers in a fixed-pitch font, right-aligned on their decimal point (the view lines them up)
NUMERIC_COLUMNS = frozenset(
    {Column.PRICE, Column.TRIGGER, Column.AMOUNT, Column.REMAINING, Column.FILLED,
     Column.AVG_PRICE, Column.NOTIONAL, Column.CREATED, Column.AGE}
)
DECIMAL_ALIGNED = frozenset(
    {Column.PRICE, Column.TRIGGER, Column.AMOUNT, Column.REMAINING, Column.FILLED,
     Column.AVG_PRICE, Column.NOTIONAL}
)
RIGHT_ALIGNED = frozenset(
    NUMERIC_COLUMNS | {Column.GROUP, Column.CLIENT_ID, Column.ORDER_ID}
)
# the cells whose end carries meaning: cut in the middle (option strikes and C/P, the end of
# an id, a broker's account name)
MIDDLE_ELIDED = frozenset(
    {Column.ACCOUNT, Column.SYMBOL, Column.CLIENT_ID, Column.ORDER_ID, Column.GROUP}
)
# the cells that read the clock (the rest of a row changes only with its order)
TIMED_COLUMNS = frozenset({Column.CREATED, Column.AGE})
# plain ints: a Python enum flag costs more to hand to Qt (asked for every painted cell)
_ALIGN_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_ALIGN_LEFT = int((Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter).value)
_ALIGN_CENTER = int(Qt.AlignmentFlag.AlignCenter.value)

ROOT = QModelIndex()
NO_NUMBER = float("-inf")  # missing numbers sort before every real one


def wall_ms() -> int:
    """Now, in epoch milliseconds (the Created and Age cells read it)."""
    return time.time_ns() // 1_000_000


def id_sort_key(value: str | None) -> str:
    """Numeric ids sort as numbers, others as text, without mixing types in one column."""
    if not value:
        return ""
    if value.isdigit():
        return value.rjust(24, "0")
    return "~" + value.lower()


def _number(value: Decimal | None) -> float:
    return float(value) if value is not None else NO_NUMBER


def sort_value(order: Order, column: int, notional: Notional = no_notional) -> Any:
    """What SORT_ROLE answers for a number, time or id column (numbers as numbers, ids in
    their own order); None for a text column, which sorts by the text shown."""
    if column == Column.PRICE:
        return _number(order.price)
    if column == Column.AMOUNT:
        return _number(order.amount)
    if column == Column.REMAINING:
        return _number(order.remaining)
    if column == Column.FILLED:
        return float(order.filled / order.amount) if order.amount else 0.0
    if column == Column.TRIGGER:
        return _number(order.trigger_price)
    if column == Column.AVG_PRICE:
        return _number(order.avg_price) if order.filled > 0 else NO_NUMBER
    if column == Column.NOTIONAL:
        value = notional(order)
        return float(value[0]) if value is not None else NO_NUMBER
    if column == Column.CREATED or column == Column.AGE:
        # Age counts the other way from Created: ascending, the youngest order first
        created = float(order.created_ms) if order.created_ms is not None else NO_NUMBER
        return created if column == Column.CREATED else -created
    if column == Column.GROUP:
        return id_sort_key(order.group_id)
    if column == Column.CLIENT_ID:
        return id_sort_key(order.client_id)
    if column == Column.ORDER_ID:
        return id_sort_key(order.order_id)
    return None


def display_fns(
    venue_label: VenueLabel = default_venue_label, notional: Notional = no_notional
) -> tuple[Callable[[Order], str], ...]:
    """How each column reads an order, in column order (the Cancel column is painted)."""
    fns: dict[Column, Callable[[Order], str]] = {
        Column.VENUE: lambda o: venue_label(o.venue, o.account),
        Column.ACCOUNT: lambda o: o.account,
        Column.SYMBOL: lambda o: o.symbol,
        Column.SIDE: lambda o: side_text(o.side),
        Column.TYPE: type_text,
        Column.PRICE: lambda o: format_decimal(o.price),
        Column.TRIGGER: lambda o: format_optional(o.trigger_price),
        Column.AMOUNT: lambda o: format_decimal(o.amount),
        Column.REMAINING: lambda o: format_decimal(o.remaining),
        Column.FILLED: format_filled,
        Column.AVG_PRICE: average_text,
        Column.NOTIONAL: lambda o: format_notional(notional(o)),
        Column.STATUS: status_words,
        Column.TIF: tif_text,
        Column.FLAGS: flags_short,
        Column.GROUP: lambda o: o.group_id or "",
        Column.CLIENT_ID: lambda o: o.client_id or "",
        Column.ORDER_ID: lambda o: o.order_id,
        Column.CREATED: lambda o: created_text(o.created_ms, wall_ms()),
        Column.AGE: lambda o: age_text(o.created_ms, wall_ms()),
        Column.CANCEL: lambda o: "",
    }
    return tuple(fns[c] for c in Column)


DISPLAY_FNS: tuple[Callable[[Order], str], ...] = display_fns()
assert len(DISPLAY_FNS) == len(Column)


def closed_text(closed: ClosedOrder | None) -> str:
    """The Status of a row whose order closed while the table held still: "closed: filled at
    95,120.5", "closed: cancelled by you (Cancel)"; a row that left without a close (its account
    was removed) says only that it is no longer in the table."""
    if closed is None:
        return "no longer in the table"
    return f"closed: {closed.outcome_text()}"


def closed_look(closed: ClosedOrder | None) -> tuple[str, QColor]:
    """The Status text of a row kept in view after its order closed, and its colour (the
    Recently Closed tab's colour of that reason)."""
    colour = theme.DIM_TEXT if closed is None else theme.REASON_COLOURS.get(
        closed.reason, theme.DIM_TEXT)
    return closed_text(closed), colour


def refused_text(refusal: str, status: str) -> str:
    """The Status of a row whose cancel was refused or timed out: "⚠ rejected · ACTIVE" (the
    venue's own words are in the tooltip)."""
    return f"{REFUSED_SIGN} {refusal.split(':', 1)[0]} · {status}"


# plain ints for the hot path (enum comparisons cost more than the lookups they guard)
_COLUMNS = len(Column)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole.value)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole.value)
_ROLES_SERVED = frozenset(
    {_DISPLAY, _TOOLTIP, _FONT, _ALIGNMENT, _FOREGROUND, _BACKGROUND, _ACCESSIBLE,
     int(SORT_ROLE), int(FILTER_ROLE), int(ORDER_ROLE), int(PENDING_ROLE), int(CLOSED_ROLE)}
)
_SIDE, _FILLED, _STATUS, _CANCEL = int(Column.SIDE), int(Column.FILLED), int(Column.STATUS), int(
    Column.CANCEL
)
_NUMERIC = frozenset(int(c) for c in NUMERIC_COLUMNS)
_RIGHT = frozenset(int(c) for c in RIGHT_ALIGNED)
_DIM_COLUMNS = frozenset(
    int(c) for c in (Column.VENUE, Column.GROUP, Column.CLIENT_ID, Column.ORDER_ID, Column.CREATED,
                     Column.AGE, Column.TIF, Column.FLAGS)
)
_TIMED = tuple(int(c) for c in TIMED_COLUMNS)
_CREATED, _AGE = int(Column.CREATED), int(Column.AGE)
_TEXTS_KEPT = 2048  # rows whose texts are kept: a few screens' worth, not the whole table
_ALIGNMENTS = tuple(
    _ALIGN_CENTER if c == _CANCEL else _ALIGN_RIGHT if c in _RIGHT else _ALIGN_LEFT
    for c in range(_COLUMNS)
)


# what the view paints of a row: texts, fonts (None: the view's), colours (None: the
# palette's), background (None: the view's), and its Cancel button's look
PaintedRow = tuple[list[str], list[QFont | None], list[QColor | None], QBrush | None, int]
BUTTON_OPEN, BUTTON_PENDING, BUTTON_CLOSED = 0, 1, 2


def _foreground(order: Order, column: int, pending: bool) -> QColor | None:
    if pending:
        return theme.DIM_TEXT
    if column == _SIDE:
        return theme.BUY if order.side is Side.BUY else theme.SELL
    if column in _DIM_COLUMNS:
        return theme.DIM_TEXT
    if column == _FILLED and order.remaining == order.amount:
        return theme.FAINT_TEXT
    return None


def _unverified_foreground(order: Order, column: int) -> QColor:
    """Every cell of a row no live stream vouches for is drawn quieter (the Side column keeps
    a trace of its colour)."""
    if column == _SIDE:
        return theme.UNVERIFIED_BUY if order.side is Side.BUY else theme.UNVERIFIED_SELL
    return theme.UNVERIFIED_TEXT


class OrderCellsModel(QAbstractTableModel):
    """The rows (``_orders``, in display order) as Qt reads them.

    ``_gone`` holds the rows kept in view after their order closed (the table holds still
    while the trader aims): key → (Status text, its colour). A subclass fills the rows.
    """

    marks: RowMarks

    def __init__(
        self, store: OrderStore, venue_label: VenueLabel, parent: QObject | None = None,
        notional: Notional = no_notional,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._orders: list[Order] = []
        self._gone: dict[OrderKey, tuple[str, QColor]] = {}
        # the Venue column names a B2TRADER broker by its own name; others by the venue's
        self._venue_label = venue_label
        self._notional = notional
        self._display_fns = display_fns(venue_label, notional)
        # the texts of the rows painted lately, made once per order change (not per paint
        # per role): key → (the order they were made from, its cells' texts)
        self._texts: dict[OrderKey, tuple[Order, list[str]]] = {}
        # each cell's colour by a row's look (see painted_row); shared, never changed in place
        self._colour_rows: dict[tuple[Any, ...], list[QColor | None]] = {}
        self.refresh_fonts()

    def refresh_fonts(self) -> None:
        """Make the cells' fonts again from the application's font (its size changed)."""
        font = QFont()
        mono = theme.mono_font()
        italic = QFont(font)
        italic.setItalic(True)
        mono_italic = QFont(mono)
        mono_italic.setItalic(True)
        # FontRole by [cancel pending][column]: mono for numbers, italic while cancelling
        self._fonts: tuple[list[QFont | None], list[QFont | None]] = (
            [mono if c in _NUMERIC else None for c in range(_COLUMNS)],
            [mono_italic if c in _NUMERIC else italic for c in range(_COLUMNS)],
        )
        struck, mono_struck = QFont(font), QFont(mono)
        struck.setStrikeOut(True)
        mono_struck.setStrikeOut(True)
        # a closed row is struck through, but its Status (how it closed) stays plain to read
        self._struck_fonts: list[QFont | None] = [
            None if c == _STATUS else mono_struck if c in _NUMERIC else struck
            for c in range(_COLUMNS)
        ]

    # -- reading ---------------------------------------------------------------------------
    def order_at(self, row: int) -> Order | None:
        if 0 <= row < len(self._orders):
            return self._orders[row]
        return None

    def orders(self) -> list[Order]:
        return list(self._orders)

    def is_pending(self, key: OrderKey) -> bool:
        return self._store.is_cancel_pending(key)

    def filter_words(self, order: Order) -> str:
        """The words of ``order``'s row the filter box matches (its FILTER_ROLE): what it
        shows, its unverified marker, a refused cancel."""
        marks = self.marks
        mark = marks.mark(order) if marks.active else None
        words = filter_text(order, self._venue_label)
        refusal = self._store.refusal(order.key)
        if refusal is not None:
            words = f"{words} {refusal.lower()}"
        return words if mark is None else f"{words} {mark.lower()}"

    def closed_text(self, key: OrderKey) -> str | None:
        """How the order of a row kept in view closed ("closed: filled"), else None."""
        gone = self._gone.get(key)
        return gone[0] if gone is not None else None

    # -- QAbstractTableModel ---------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self._orders)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else _COLUMNS

    # No flags() here: QAbstractTableModel's (enabled, selectable, never has children; none for
    # an invalid index) is the one wanted, and a Python override costs a call per painted cell.

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
        if role not in _ROLES_SERVED:
            return None
        row = index.row()
        if not 0 <= row < len(self._orders) or not index.isValid():
            return None
        order = self._orders[row]
        return self._cell(order, order.key, index.column(), role)

    def multiData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        roleDataSpan: QModelRoleDataSpan | QModelRoleData,
    ) -> None:
        """Every role a delegate asks for, in one call: Qt's default asks data() role by role,
        seven times per painted cell, and each call from C++ into Python is the costly part."""
        # Qt hands a span; PySide6's stubs do not say it has a length and items (it does)
        span: Any = roleDataSpan
        row = index.row()
        if not 0 <= row < len(self._orders) or not index.isValid():
            for k in range(len(span)):
                span[k].clearData()
            return
        order = self._orders[row]
        key, column = order.key, index.column()
        for k in range(len(span)):
            item = span[k]
            value = self._cell(order, key, column, item.role())
            if value is None:
                item.clearData()
            else:
                item.setData(value)

    def _cell(self, order: Order, key: OrderKey, column: int, role: int) -> Any:
        # Called thousands of times per repaint: plain int comparisons, most common roles first.
        if self._gone and key in self._gone:
            return self._gone_cell(order, key, column, role)
        marks = self.marks
        mark = marks.mark(order) if marks.active else None
        if role == _DISPLAY:
            if column == _STATUS:
                return self._status(status_words(order), key, mark)
            return self._display_fns[column](order)
        if role == _FONT:
            return self._fonts[self._store.is_cancel_pending(key)][column]
        if role == _FOREGROUND:
            if mark is not None:
                return _unverified_foreground(order, column)
            if column == _STATUS and self._store.refusal(key) is not None:
                return theme.WARNING  # the warning colour of the status bar
            return _foreground(order, column, self._store.is_cancel_pending(key))
        if role == _ALIGNMENT:
            return _ALIGNMENTS[column]
        if role == _BACKGROUND:
            return marks.background(key, mark)
        if role == _TOOLTIP:
            return self._tooltip(order, key, column, mark)
        if role == ORDER_ROLE:
            return order
        if role == PENDING_ROLE:
            return self._store.is_cancel_pending(key)
        if role == SORT_ROLE:
            return self._sort_value(order, column)
        if role == FILTER_ROLE:
            return self.filter_words(order)
        if role == _ACCESSIBLE:
            if column == _CANCEL:
                return f"Cancel order {order.order_id}"
            return self._display(order, column)
        return None  # CLOSED_ROLE of an open row

    def painted_row(self, row: int) -> PaintedRow:
        """Everything the view paints of ``row`` (not the Cancel button): each cell's text,
        font (None: the view's) and colour (None: the palette's), and the row's background.
        The texts are made once per order change; the Created and Age cells read the clock."""
        order = self._orders[row]
        key = order.key
        texts = self._row_texts(order, key)
        gone = self._gone.get(key) if self._gone else None
        if gone is not None:
            texts[_STATUS] = gone[0]
            colours: list[QColor | None] = [theme.DIM_TEXT] * _COLUMNS
            colours[_STATUS] = gone[1]
            return texts, self._struck_fonts, colours, None, BUTTON_CLOSED
        store = self._store
        pending = store.is_cancel_pending(key)
        marks = self.marks
        mark = marks.mark(order) if marks.active else None
        refusal = store.refusal(key)
        texts[_STATUS] = self._status(texts[_STATUS], key, mark)
        # a row's colours follow a few facts of it: made once per combination (and scheme)
        look = (mark is not None, pending, refusal is not None, order.side,
                order.remaining == order.amount, theme.VERSION)
        shared = self._colour_rows.get(look)
        if shared is None:
            if len(self._colour_rows) > 64:  # (the scheme changed a few times)
                self._colour_rows.clear()
            shared = self._colour_rows[look] = self._colours(order, mark, pending, refusal)
        return (texts, self._fonts[pending], shared, marks.background(key, mark),
                BUTTON_PENDING if pending else BUTTON_OPEN)

    @staticmethod
    def _colours(
        order: Order, mark: str | None, pending: bool, refusal: str | None,
    ) -> list[QColor | None]:
        if mark is not None:
            return [_unverified_foreground(order, c) for c in range(_COLUMNS)]
        colours = [_foreground(order, c, pending) for c in range(_COLUMNS)]
        if refusal is not None:
            colours[_STATUS] = theme.WARNING
        return colours

    def _status(self, words: str, key: OrderKey, mark: str | None) -> str:
        """The Status cell: the order's words, or "Cancelling…" while a cancel is in flight;
        a refused cancel's mark before them, an unverified marker before all."""
        store = self._store
        text = CANCELLING if store.is_cancel_pending(key) else words
        refusal = store.refusal(key)
        if refusal is not None:
            text = refused_text(refusal, text)
        return text if mark is None else f"{mark} · {text}"

    def _row_texts(self, order: Order, key: OrderKey) -> list[str]:
        kept = self._texts.get(key)
        if kept is None or kept[0] is not order:
            texts = [fn(order) for fn in self._display_fns]
            if len(self._texts) >= _TEXTS_KEPT:
                del self._texts[next(iter(self._texts))]  # the longest kept
            self._texts[key] = (order, texts)
            return list(texts)
        texts = list(kept[1])
        for column in _TIMED:
            texts[column] = self._display_fns[column](order)
        return texts

    def _tooltip(self, order: Order, key: OrderKey, column: int, mark: str | None) -> str:
        pending = self._store.is_cancel_pending(key)
        refusal = self._store.refusal(key)
        if column == _CANCEL:
            if pending:
                return f"Cancel of order {order.order_id} sent; waiting for the venue"
            tip = self.marks.cancel_tip(order, mark)
        else:
            tip = order_tooltip(order, pending, self._venue_label)
            if column == _CREATED or column == _AGE:
                tip = f"{time_tooltip(order.created_ms)}\n\n{tip}"
            if mark is not None:
                tip = f"{tip}\n{self.marks.state_line(order)}"
        if refusal is not None:
            tip = f"{tip}\nLast cancel {refusal} (shown until the venue changes this order)"
        return tip

    def _gone_cell(self, order: Order, key: OrderKey, column: int, role: int) -> Any:
        """A row kept in view after its order closed: struck through and quiet, its Status
        saying how it closed, its Cancel button disabled."""
        text, colour = self._gone[key]
        if role == _DISPLAY:
            return text if column == _STATUS else self._display_fns[column](order)
        if role == _FONT:
            return self._struck_fonts[column]
        if role == _FOREGROUND:
            return colour if column == _STATUS else theme.DIM_TEXT
        if role == _ALIGNMENT:
            return _ALIGNMENTS[column]
        if role == _TOOLTIP:
            if column == _CANCEL:
                return text
            return (f"{order_tooltip(order, False, self._venue_label)}\n{text[0].upper()}"
                    f"{text[1:]}; the row leaves when the table moves again")
        if role == CLOSED_ROLE:
            return text
        if role == ORDER_ROLE:
            return order
        if role == PENDING_ROLE:
            return False
        if role == SORT_ROLE:
            return self._sort_value(order, column)
        if role == FILTER_ROLE:
            return f"{filter_text(order, self._venue_label)} {text.lower()}"
        if role == _ACCESSIBLE:
            if column == _CANCEL:
                return f"Order {order.order_id} {text}"
            return text if column == _STATUS else self._display_fns[column](order)
        return None

    def _display(self, order: Order, column: int) -> str:
        if column == _STATUS and self._store.is_cancel_pending(order.key):
            return CANCELLING
        return self._display_fns[column](order)

    def _sort_value(self, order: Order, column: int) -> Any:
        if column == Column.CANCEL:
            return 1 if self._store.is_cancel_pending(order.key) else 0
        value = sort_value(order, column, self._notional)
        return self._display(order, column).lower() if value is None else value
