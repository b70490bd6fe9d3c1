"""File → Export Visible Orders…: the rows the orders table shows, in its column order, as CSV
a spreadsheet reads exactly: plain numbers at full precision (no thousands separators, no
locale), times in ISO 8601 UTC with milliseconds.

While the table holds still it may show rows whose order has closed (struck through): they are
left out, and every row is written as the store has it now. The file dialog opens with
``open()`` (a modal ``exec()`` would stall the asyncio loop); ``export_to`` writes directly.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QTableView, QWidget

from blotter.core.notices import Level, Notice, NoticeBus
from blotter.core.order import Order
from blotter.core.store import OrderStore
from blotter.core.times import iso_utc_ms
from blotter.ui.formatting import (
    Notional,
    VenueLabel,
    default_venue_label,
    flag_text,
    no_notional,
    side_text,
    status_words,
    type_text,
)
from blotter.ui.order_cells import wall_ms
from blotter.ui.orders_model import CLOSED_ROLE, HEADERS, ORDER_ROLE, Column


def csv_save_dialog(
    parent: QWidget | None, title: str, name: str, chosen: Callable[[Path], object]
) -> QFileDialog:
    """A save dialog for a CSV file, opened with ``open()`` (a modal ``exec()`` would stall the
    asyncio loop); ``chosen`` gets the path when the trader picks one."""
    dialog = QFileDialog(parent, title, str(Path.home() / name), "CSV files (*.csv)")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix("csv")
    dialog.fileSelected.connect(lambda path: chosen(Path(path)))
    dialog.open()
    return dialog


def plain_number(value: Decimal | None) -> str:
    """A decimal as the venue wrote it, for a machine: no grouping, no exponent ("" if none)."""
    if value is None:
        return ""
    if not value.is_finite():
        return str(value)
    return "0" if value.is_zero() else format(value.normalize(), "f")


def iso_ms(ms: int | None) -> str:
    """Epoch milliseconds in ISO 8601 UTC ("2024-05-01T09:30:05.123Z"; "" if unknown)."""
    return "" if ms is None else iso_utc_ms(ms)


CellFn = Callable[[Order, VenueLabel, Notional], str]


def _plain_notional(order: Order, notional: Notional) -> str:
    value = notional(order)
    return "" if value is None else f"{plain_number(value[0])} {value[1]}".strip()


def _age_seconds(order: Order) -> str:
    created = order.created_ms
    return "" if created is None else str(max(0, (wall_ms() - created) // 1000))


PLAIN_CELLS: dict[Column, CellFn] = {
    Column.VENUE: lambda o, label, _: label(o.venue, o.account),
    Column.ACCOUNT: lambda o, _, __: o.account,
    Column.SYMBOL: lambda o, _, __: o.symbol,
    Column.SIDE: lambda o, _, __: side_text(o.side),
    Column.TYPE: lambda o, _, __: type_text(o),
    Column.PRICE: lambda o, _, __: plain_number(o.price),
    Column.TRIGGER: lambda o, _, __: plain_number(o.trigger_price),
    Column.AMOUNT: lambda o, _, __: plain_number(o.amount),
    Column.REMAINING: lambda o, _, __: plain_number(o.remaining),
    Column.FILLED: lambda o, _, __: plain_number(o.filled),
    Column.AVG_PRICE: lambda o, _, __: plain_number(o.avg_price) if o.filled > 0 else "",
    Column.NOTIONAL: lambda o, _, notional: _plain_notional(o, notional),
    Column.STATUS: lambda o, _, __: status_words(o),
    Column.TIF: lambda o, _, __: o.time_in_force or "",
    Column.FLAGS: lambda o, _, __: flag_text(o),
    Column.GROUP: lambda o, _, __: o.group_id or "",
    Column.CLIENT_ID: lambda o, _, __: o.client_id or "",
    Column.ORDER_ID: lambda o, _, __: o.order_id,
    Column.CREATED: lambda o, _, __: iso_ms(o.created_ms),
    Column.AGE: lambda o, _, __: _age_seconds(o),
}
# the column names of a file: Age is written in seconds
FILE_HEADERS = {**HEADERS, Column.AGE: "Age (s)"}
# the numbers Ctrl+C copies plain (the other cells as shown)
PLAIN_COPIED = frozenset({Column.PRICE, Column.TRIGGER, Column.AMOUNT, Column.REMAINING,
                          Column.FILLED, Column.AVG_PRICE})


def plain_cell(
    order: Order, column: int, venue_label: VenueLabel = default_venue_label,
    notional: Notional = no_notional,
) -> str:
    """The cell of ``order`` in ``column`` for a file or the clipboard."""
    fn = PLAIN_CELLS.get(Column(column))
    return fn(order, venue_label, notional) if fn is not None else ""


def shown_columns(view: QTableView, no_room: Collection[Column] = ()) -> list[Column]:
    """The table's columns as the trader arranged them (hidden ones and Cancel left out; the
    columns ``no_room`` names, left out of a narrow window for want of room, are in)."""
    header = view.horizontalHeader()
    logical = (header.logicalIndex(v) for v in range(header.count()))
    return [Column(c) for c in logical
            if (not header.isSectionHidden(c) or c in no_room) and c != Column.CANCEL]


def shown_orders(view: QTableView, store: OrderStore) -> list[Order]:
    """The open orders of the rows the table shows, top to bottom, as the store has them now
    (a row struck through because its order closed is not one)."""
    model = view.model()
    if model is None:
        return []
    orders = []
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data(CLOSED_ROLE) is not None:
            continue
        order = index.data(ORDER_ROLE)
        if isinstance(order, Order):
            current = store.get(order.key)
            if current is not None:
                orders.append(current)
    return orders


def write_orders_csv(out: IO[str], orders: Sequence[Order], columns: Sequence[Column],
                     venue_label: VenueLabel = default_venue_label,
                     notional: Notional = no_notional) -> int:
    """``orders`` as CSV with a header of the ``columns``' titles; returns how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([FILE_HEADERS[c] for c in columns])
    for order in orders:
        writer.writerow([PLAIN_CELLS[c](order, venue_label, notional) for c in columns])
    return len(orders)


class OrdersExport(QObject):
    """The File menu's "Export Visible Orders…" for ``view`` over ``store``; what it did is
    said as a notice."""

    def __init__(self, view: QTableView, store: OrderStore, notices: NoticeBus,
                 venue_label: VenueLabel, parent: QWidget, *,
                 notional: Notional = no_notional,
                 no_room: Callable[[], Collection[Column]] = tuple) -> None:
        super().__init__(parent)
        self.view = view
        self.notional = notional
        self.no_room = no_room
        self.store = store
        self.notices = notices
        self.venue_label = venue_label
        self._parent = parent
        self.dialog: QFileDialog | None = None
        self.action = QAction("Export Visible Orders…", parent)
        self.action.setObjectName("exportOrders")
        self.action.setToolTip("Write the rows the table shows to a CSV file (exact numbers, "
                               "UTC times)")
        self.action.triggered.connect(self.choose)

    def choose(self) -> QFileDialog:
        """Ask where (without a modal loop); the file is written when one is chosen."""
        self.dialog = csv_save_dialog(self._parent, "Export Visible Orders", "orders.csv",
                                      self.export_to)
        return self.dialog

    def export_to(self, path: Path) -> int:
        """Write the shown rows to ``path``; returns how many (a failure is an error notice)."""
        orders = shown_orders(self.view, self.store)
        columns = shown_columns(self.view, self.no_room())
        try:
            with path.open("w", encoding="utf-8", newline="") as out:
                n = write_orders_csv(out, orders, columns, self.venue_label, self.notional)
        except OSError as exc:
            self._say(Level.ERROR, f"Could not export the orders to {path}: "
                                   f"{exc.strerror or exc}")
            return 0
        self._say(Level.SUCCESS, f"Exported {n} order{'s' if n != 1 else ''} to {path}")
        return n

    def _say(self, level: Level, text: str) -> None:
        self.notices.publish(Notice("blotter", "", level, text))

