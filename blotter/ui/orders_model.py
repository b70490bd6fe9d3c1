"""OrdersModel: the store's open orders as a Qt table model, fed by batched store diffs.

The store collects changes; a timer started by the store's dirty listener flushes it at most
``max_rate_hz`` times a second, and each ``StoreDiff`` becomes a few row signals: one insert for
the new rows (appended), one removal per contiguous range, and ``dataChanged`` over the changed
rows (merged into one span when they are scattered). Never a model reset per message.

The model also keeps its rows sorted (``sort()``, with Python sort keys: numbers as numbers,
times as times; where each row is, by its key, is ``row_keys.py``); the proxy in front of it
only filters. A sorting QSortFilterProxyModel would call
``data()`` from C++ for every comparison: measured at 1.3 s per 30 Hz batch with 10k rows, versus
~14 ms this way. ``SORT_ROLE`` still answers the same values for anyone who asks.

While the trader aims (``hold_rows``, driven by the view's ``RowHold``) the rows hold still:
changes to rows the table shows apply in place, but new rows, closed rows leaving and re-sorting
wait (``HeldRows``); a closed row stays, struck through. ``apply_waiting`` makes the rows equal
the store again. How a row reads, cell by cell, is ``order_cells.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable, Sequence
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from blotter.core.closes import ClosedOrder
from blotter.core.order import Order, OrderKey
from blotter.core.store import OrderStore, StoreDiff
from blotter.core.trust import TrustBoard
from blotter.ui.formatting import Notional, VenueLabel, default_venue_label, no_notional
from blotter.ui.order_cells import (
    CANCELLING,
    CLOSED_ROLE,
    DISPLAY_FNS,
    FILTER_ROLE,
    HEADERS,
    NO_NUMBER,
    NUMERIC_COLUMNS,
    ORDER_ROLE,
    PENDING_ROLE,
    RIGHT_ALIGNED,
    ROOT,
    SORT_ROLE,
    Column,
    OrderCellsModel,
    closed_look,
    id_sort_key,
    sort_value,
)
from blotter.ui.row_hold import HeldRows
from blotter.ui.row_keys import LOST, RowKeys, age_key, id_order
from blotter.ui.row_marks import RowMarks

# the names the views and tests have always taken from here
__all__ = [
    "CANCELLING", "CLOSED_ROLE", "DISPLAY_FNS", "FILTER_ROLE", "HEADERS", "MAX_CHANGED_RANGES",
    "MAX_INSERT_RUNS", "NUMERIC_COLUMNS", "ORDER_ROLE", "PENDING_ROLE", "RIGHT_ALIGNED",
    "SORT_ROLE", "Column", "OrdersModel", "contiguous_ranges", "sort_value",
]

# More scattered changed-row ranges than this in one batch become one dataChanged span.
MAX_CHANGED_RANGES = 4
# New rows of a sorted model landing in more places than this are appended, then resorted.
MAX_INSERT_RUNS = 16

_COLUMNS = len(Column)


def _exact(value: Decimal | None) -> Decimal | float:
    return value if value is not None else NO_NUMBER


def contiguous_ranges(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged (first, last) ranges of the given row numbers."""
    ranges: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if ranges and ranges[-1][1] == row - 1:
            ranges[-1] = (ranges[-1][0], row)
        else:
            ranges.append((row, row))
    return ranges


# -- the model --------------------------------------------------------------------------------
# (before, after) of each order a store flush changed that the model held
UpdateListener = Callable[[Sequence[tuple[Order, Order]]], None]


class OrdersModel(OrderCellsModel):
    # what waits while the rows hold still changed (``waiting()`` says what)
    waiting_changed = Signal()
    # a store flush has come through (its row signals are out): the view repaints this frame
    flushed = Signal()

    def __init__(
        self,
        store: OrderStore,
        parent: QObject | None = None,
        *,
        max_rate_hz: float = 30.0,
        venue_label: VenueLabel = default_venue_label,
        trust: TrustBoard | None = None,
        clock: Callable[[], int] | None = None,
        notional: Notional = no_notional,
        sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder),
    ) -> None:
        super().__init__(store, venue_label, parent, notional)
        # unverified rows (per account, from the trust board) and rows a resync just changed
        self.marks = RowMarks(trust, clock, self._repaint, self)
        # rows in display order, and where each is by its sort key (changed in place only)
        self._orders = list(store.orders())
        self._row_keys = RowKeys(self._orders, store, self._key_for_column)
        # no flush yet: an "added" order may be a row already (the rows were read from the store)
        self._fresh = True
        self._update_listeners: list[UpdateListener] = []
        # while the trader aims: what waits (the closed rows kept are ``_gone``, for the cells)
        self._holding = False
        self._held = HeldRows(self._gone)
        self._min_interval = 1.0 / max_rate_hz
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)
        self.flushes = 0  # how many store flushes this model ran (tests, diagnostics)
        # Scattered changed rows go out as one dataChanged span (a view repaints once). A proxy
        # that filters re-tests every row of a span, 10k calls into Python per flush: it turns
        # this off while a filter is set, and gets one signal per range of changed rows.
        self.coarse_changes = True
        # Set by a filtering proxy: whether a change of a row concerns the rows shown (the row
        # is shown, or its order now passes the filter). A change of any other row goes
        # unsignalled: it stays hidden either way, and a signal would cost the proxy a re-test.
        self.concerns_view: Callable[[int], bool] | None = None
        self.sort(*sort)
        store.add_diff_listener(self._apply)
        store.add_dirty_listener(self._schedule_flush)
        store.add_close_listener(self._note_close)

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
        self.flushed.emit()

    def flush_now(self) -> None:
        self._timer.stop()
        self._flush()

    def add_update_listener(self, callback: UpdateListener) -> None:
        """Call ``callback`` after each store flush that updated orders the model holds (a
        row, or a new order waiting to be shown), with (the order before, after) of each."""
        self._update_listeners.append(callback)

    def remove_update_listener(self, callback: UpdateListener) -> None:
        """Stop calling ``callback`` (nothing if it was not listening)."""
        if callback in self._update_listeners:
            self._update_listeners.remove(callback)

    def _note_close(self, closed: ClosedOrder) -> None:
        # the first record of a key wins: a row kept in view holds that order already
        self._row_keys.leaving.setdefault(closed.order.key, closed.order)

    def _apply(self, diff: StoreDiff) -> None:
        if self._holding:
            self._apply_held(diff)
            return
        # Rows are found by bisecting their keys, so every lookup comes before the first change
        # that could leave them out of order (removals keep the order; changed sort keys do not).
        row_keys = self._row_keys
        if diff.removed:
            removed = row_keys.rows_of(diff.removed)
            if removed:
                self._remove_rows(list(removed.values()))
        updated, readded, new, unsure = self._match(diff)
        row_keys.leaving.clear()  # (no row outlives its order unless held)
        orders = self._orders
        pairs = [(orders[row], order) for row, order in updated] if self._update_listeners else ()

        displaced = False  # a changed row's sort key moved: the order must be restored
        changed = updated + readded
        if changed:
            # a key made of fixed fields cannot move, unless the row was found the slow way
            sorted_ = row_keys.kept_key is not None
            rekey = sorted_ and row_keys.key_of is not None
            for row, order in changed:
                orders[row] = order
                if sorted_ and (rekey or row in unsure) and row_keys.rekey(row, order):
                    displaced = True
            self._emit_changed([row for row, _ in changed])
        self._place(new, displaced)
        if pairs:
            for listener in self._update_listeners:
                listener(pairs)

    def _match(self, diff: StoreDiff, waiting: Container[OrderKey] = ()) -> tuple[
        list[tuple[int, Order]], list[tuple[int, Order]], list[Order], set[int]
    ]:
        """The rows of ``diff``'s orders: (the rows of its updated orders, the rows of its
        added ones, the orders that are no row, the rows found only by walking the rows).

        An "added" order the model already holds (it was built after the change was recorded,
        or the row stayed in view after its order closed) is an update; an "updated" one it
        lacks is an addition, unless it is ``waiting`` to be shown. The store's diff stays the
        truth."""
        locate = self._row_keys.locate
        updated: list[tuple[int, Order]] = []
        readded: list[tuple[int, Order]] = []
        new: list[Order] = []
        lost: list[Order] = []  # the rows may hold these (a fixed field changed): walked for
        for order in diff.updated:
            row = locate(order)
            if row is None or (row == LOST and order.key in waiting):
                new.append(order)
            elif row == LOST:
                lost.append(order)
            else:
                updated.append((row, order))
        fresh, gone = self._fresh, self._gone
        self._fresh = False
        lost_updated = len(lost)
        for order in diff.added:
            row = locate(order)
            if row is None or (row == LOST and not fresh and order.key not in gone):
                new.append(order)
            elif row == LOST:
                lost.append(order)
            else:
                readded.append((row, order))
        unsure: set[int] = set()
        if lost:
            found = self._row_keys.scan(o.key for o in lost)
            for i, order in enumerate(lost):
                row = found.get(order.key)
                if row is None:
                    new.append(order)
                else:
                    unsure.add(row)
                    (updated if i < lost_updated else readded).append((row, order))
        return updated, readded, new, unsure

    def _place(self, added: list[Order], displaced: bool) -> None:
        """Insert ``added`` where the sort puts them, and restore the order if ``displaced``
        (a row's sort key changed) or the new rows land in too many places."""
        row_keys = self._row_keys
        if added:
            first = len(self._orders)
            if row_keys.kept_key is None:
                start = row_keys.arrivals
                row_keys.arrivals += len(added)
                self._insert_rows(first, added, list(range(start, row_keys.arrivals)))
            else:
                # In place when the rows are still in order (nothing displaced above) and the
                # new rows fall in a few runs, e.g. the newest on top; else appended and resorted.
                # Inserting avoids a layout change, which costs the view and proxy a full rebuild.
                keys = row_keys.sort_orders(added)
                runs = None if displaced else row_keys.insertion_runs(added, MAX_INSERT_RUNS)
                if runs is None:
                    self._insert_rows(first, added, keys)
                    displaced = True
                else:
                    for at, start, end in reversed(runs):  # bottom first: positions stay valid
                        self._insert_rows(at, added[start:end], keys[start:end])
        if displaced:
            self._resort()

    def _insert_rows(self, at: int, orders: list[Order], keys: list[Any]) -> None:
        self.beginInsertRows(ROOT, at, at + len(orders) - 1)
        self._row_keys.insert(at, orders, keys)
        self.endInsertRows()

    def _remove_rows(self, rows: Sequence[int]) -> None:
        # Highest range first, so the row numbers of the ranges still to go stay valid.
        for first, last in reversed(contiguous_ranges(rows)):
            self.beginRemoveRows(ROOT, first, last)
            self._row_keys.remove(first, last)
            self.endRemoveRows()

    def _emit_changed(self, rows: Sequence[int]) -> None:
        concerns = self.concerns_view
        if concerns is not None:
            rows = [row for row in rows if concerns(row)]
        ranges = contiguous_ranges(rows)
        if len(ranges) > MAX_CHANGED_RANGES and self.coarse_changes:
            ranges = [(ranges[0][0], ranges[-1][1])]
        last_column = self.columnCount() - 1
        for first, last in ranges:
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    # -- holding still while the trader aims -------------------------------------------------
    @property
    def holding(self) -> bool:
        return self._holding

    def hold_rows(self, on: bool) -> None:
        """Hold the rows still (``on``): a change to a row shown applies in place, but new rows,
        closed rows leaving and re-sorting wait. Turned off, what waited is applied."""
        if on == self._holding:
            return
        self._holding = on
        if not on:
            self.apply_waiting()

    def waiting(self) -> HeldRows:
        """What waits while the rows hold still (read it; ``summary()`` says it in words)."""
        return self._held

    def apply_waiting(self, highlight: bool = False) -> None:
        """Show what waited while the rows held still: closed rows leave, new rows come in,
        rows whose sort key changed move to their place (then the rows equal the store's, in
        sort order); with ``highlight`` the rows that came in or moved are tinted a moment."""
        held = self._held
        if not held:
            return
        new, moved = list(held.new.values()), held.moved
        held.new, held.moved = {}, set()
        row_keys, gone = self._row_keys, self._gone
        gone_rows = row_keys.rows_of(gone)
        if gone_rows:
            self._remove_rows(list(gone_rows.values()))
        for key in gone:
            row_keys.leaving.pop(key, None)
        gone.clear()
        displaced = False
        lit: list[OrderKey] = []
        if row_keys.kept_key is not None and moved:
            located = row_keys.rows_of(moved)  # every lookup before a key changes
            for key, row in located.items():
                if row_keys.rekey(row, self._orders[row]):
                    displaced = True
                    lit.append(key)
        self._place(new, displaced)
        if highlight:
            self.highlight([*(o.key for o in new), *lit])
        self.waiting_changed.emit()

    def _apply_held(self, diff: StoreDiff) -> None:
        """A store diff while the rows hold still: nothing inserted, removed or moved."""
        held, gone, row_keys = self._held, self._gone, self._row_keys
        before = held.counts()
        orders, keys = self._orders, row_keys.keys
        changed: list[int] = []
        if diff.removed:
            waiting = held.new
            shown = row_keys.rows_of(key for key in diff.removed if key not in waiting)
            closes = self._closes_of(list(shown))
            for key in diff.removed:
                row = shown.get(key)
                if row is None:
                    waiting.pop(key, None)  # came and went while held: never shown
                else:
                    gone[key] = closed_look(closes.get(key))
                    row_keys.leaving[key] = orders[row]  # to find the row again when it may leave
                    changed.append(row)
        updated, readded, new, unsure = self._match(diff, held.new)
        pairs: list[tuple[Order, Order]] = []
        if self._update_listeners:
            waiting = held.new
            pairs = [(orders[row], order) for row, order in updated]
            pairs.extend((waiting[o.key], o) for o in diff.updated if o.key in waiting)
        kept_key, rekey = row_keys.kept_key, row_keys.key_of is not None
        for row, order in updated + readded:
            key = order.key
            orders[row] = order
            changed.append(row)
            if gone:
                gone.pop(key, None)  # back at the venue: open again, in place
            if kept_key is not None and (rekey or row in unsure) and kept_key(order) != keys[row]:
                held.moved.add(key)  # its old sort key stays until the rows may move
        for order in new:
            held.new[order.key] = order
        if row_keys.leaving:
            row_keys.leaving = {key: o for key, o in row_keys.leaving.items() if key in gone}
        if changed:
            self._emit_changed(changed)
        if pairs:
            for listener in self._update_listeners:
                listener(pairs)
        if held.counts() != before:
            self.waiting_changed.emit()

    def _closes_of(self, keys: Sequence[OrderKey]) -> dict[OrderKey, ClosedOrder]:
        """The store's record of how each of ``keys`` closed (the newest closes are at the end
        of ``store.closed``; a row dropped with its account has none)."""
        wanted = set(keys)
        found: dict[OrderKey, ClosedOrder] = {}
        if not wanted:
            return found
        for closed in reversed(self._store.closed):
            key = closed.order.key
            if key in wanted and key not in found:
                found[key] = closed
                if len(found) == len(wanted):
                    break
        return found

    # -- marks ------------------------------------------------------------------------------
    def _repaint(self, keys: Iterable[OrderKey] | None) -> None:
        """The marks of ``keys`` (of every row when None) changed: repaint those rows."""
        if keys is None:
            if self._orders:
                # one span: the view repaints what it shows, a filtering proxy re-tests the rows
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(self._orders) - 1, _COLUMNS - 1)
                )
            return
        # (a row not found is repainted by the next flush)
        found = self._row_keys.rows_of(keys, walk=False)
        if found:
            self._emit_changed(list(found.values()))

    def follow_trust(self) -> bool:
        """Repaint every row if the trust board changed since the rows were drawn (call it when
        an account's state changes, not per frame); True if it had."""
        return self.marks.follow_trust()

    def highlight(self, keys: Iterable[OrderKey]) -> None:
        """Tint the rows of ``keys`` for a few seconds (see ``RowMarks.highlight``)."""
        self.marks.highlight(keys)

    # -- sorting ---------------------------------------------------------------------------
    # The model keeps its rows sorted itself, with Python sort keys: a sorting proxy would call
    # data() from C++ for every comparison, which costs seconds at 10k rows under a flood.
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.apply_waiting()  # the trader asked for a new order: what waited comes first
        if column < 0 or column >= len(Column):
            self._row_keys.unsorted()  # keep the current order; new rows append
        elif self._row_keys.sort_by(column, order == Qt.SortOrder.DescendingOrder):
            self._resort()

    @property
    def sort_column(self) -> int:
        return self._row_keys.column

    @property
    def sort_order(self) -> Qt.SortOrder:
        descending = self._row_keys.descending
        return Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder

    def _resort(self) -> None:
        """Reorder the rows by their keys as one layout change; selections follow their orders."""
        row_keys = self._row_keys
        if row_keys.in_order():
            return
        self.layoutAboutToBeChanged.emit()
        old_indexes = self.persistentIndexList()
        if not old_indexes and row_keys.key_of is None:
            row_keys.sort_rows()  # no row to follow, and keys that are the same made again
        else:
            order, keys = row_keys.order()
            new_row = [0] * len(order)
            for new, old in enumerate(order):
                new_row[old] = new
            new_indexes = [
                self.index(new_row[i.row()], i.column()) if 0 <= i.row() < len(new_row) else i
                for i in old_indexes
            ]
            row_keys.reorder(order, keys)
            self.changePersistentIndexList(old_indexes, new_indexes)
        self.layoutChanged.emit()

    def _key_for_column(self, column: int, order: Order) -> tuple[Any, ...]:
        """Sort key: the column's value (numbers as numbers, times as times), then age and id."""
        tail = id_order(order.created_ms or 0, order.order_id)
        if column == Column.PRICE:
            return (_exact(order.price), *tail)
        if column == Column.AMOUNT:
            return (order.amount, *tail)
        if column == Column.FILLED:
            return (order.filled / order.amount if order.amount else Decimal(0), *tail)
        if column == Column.REMAINING:
            return (order.remaining, *tail)
        if column == Column.TRIGGER:
            return (_exact(order.trigger_price), *tail)
        if column == Column.AVG_PRICE:
            return (_exact(order.avg_price if order.filled > 0 else None), *tail)
        if column == Column.NOTIONAL:
            worth = self._notional(order)
            return (_exact(worth[0] if worth is not None else None), *tail)
        if column == Column.CREATED:
            return tail
        if column == Column.AGE:
            return age_key(order)
        if column == Column.GROUP:
            return (id_sort_key(order.group_id), *tail)
        if column == Column.CLIENT_ID:
            return (id_sort_key(order.client_id), *tail)
        if column == Column.ORDER_ID:
            return (id_sort_key(order.order_id), order.created_ms or 0)
        if column == Column.CANCEL:
            return (self._store.is_cancel_pending(order.key), *tail)
        return (self._display(order, column).lower(), *tail)

    def row_of(self, key: OrderKey) -> int | None:
        """The row of ``key``'s order (or of its row kept in view after it closed), or None."""
        return self._row_keys.rows_of((key,)).get(key)
