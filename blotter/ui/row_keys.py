"""Where each row of the orders table is: the rows' sort keys, in display order, and how the row
of an order is found from them.

The rows stay sorted (``OrdersModel`` keeps them so), and a row is found by bisection of the
kept keys, then by its order's key among equal ones: no row numbers to renumber when rows come
and go above. Where a row's sort key may change (a live value: price, remaining, status...;
unsorted, the arrival number) a map from each order's key to its sort key says which key to
look for. For a column of fixed fields (``FIXED_SORT_COLUMNS``) the order itself gives it, and
no map is kept (100k rows kept 5 MB in it).

Sorted by creation (the window's default), the key kept per row is the creation time the order
holds already; the order id decides only among rows made in the same millisecond (its whole
key is made then): no key object per row (100k rows kept 7 MB of tuples).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from itertools import compress, count, islice
from operator import attrgetter, eq, ge, le
from typing import Any

from blotter.core.order import Order, OrderKey
from blotter.core.store import OrderStore
from blotter.ui.order_cells import Column

# The sort columns whose key is made of an order's fixed fields alone (``Order.fixed``, shared
# by all its updates). Group and flags are fixed fields too, but a venue may change them in an
# order update, and the Venue column's label follows the accounts the engine has: those
# columns keep the map, like the columns of live values.
FIXED_SORT_COLUMNS = frozenset({
    Column.CREATED, Column.AGE, Column.ORDER_ID, Column.ACCOUNT, Column.SYMBOL, Column.SIDE,
    Column.TYPE, Column.CLIENT_ID,
})

LOST = -1  # (locate) the rows may hold the order, but its sort key did not find it
SHORT_TIE = 8  # rows of one kept key looked through one by one; more are bisected
order_key = attrgetter("key")


def id_order(first: int, order_id: str) -> tuple[Any, ...]:
    """``(first, id_sort_key(order_id))`` as a tuple that sorts exactly like it, without a new
    padded string per row: an id of digits is its length and text without leading zeros (past
    24 digits, the first 24 so, then the whole text), any other id its lower-case text after
    every id of digits."""
    if not order_id:
        return (first, 0)
    if order_id.isdigit():
        if len(order_id) <= 24:
            digits = order_id.lstrip("0")  # the same object when there are no leading zeros
            return (first, 1, len(digits), digits)
        head = order_id[:24].lstrip("0")
        return (first, 1, len(head), head, order_id)
    return (first, 2, order_id.lower())


def created_key(order: Order) -> tuple[Any, ...]:
    """The Created column's sort key: the creation time, then the order id."""
    return id_order(order.created_ms or 0, order.order_id)


def age_key(order: Order) -> tuple[Any, ...]:
    """The Age column's sort key: youngest first, as a clock counts."""
    return id_order(-(order.created_ms or 0), order.order_id)


def _created(order: Order) -> int:
    return order.created_ms or 0  # the order's own int: nothing new per row


def _negative_age(order: Order) -> int:
    return -(order.created_ms or 0)


def bound(seq: list[Any], x: Any, lo: int, hi: int, descending: bool, upper: bool,
          key: Callable[[Any], Any] | None = None) -> int:
    """In ``seq[lo:hi]``, sorted by ``key`` (or as is), descending or not: the first index whose
    item comes after ``x`` (``upper``), or the first that does not come before it."""
    if not descending:
        return (bisect.bisect_right if upper else bisect.bisect_left)(seq, x, lo, hi, key=key)
    while lo < hi:
        mid = (lo + hi) // 2
        item = seq[mid] if key is None else key(seq[mid])
        if (item < x) if upper else (item <= x):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _ties(keys: list[Any]) -> Iterable[int]:
    """The indices of the keys equal to the next."""
    return compress(count(), map(eq, keys, islice(keys, 1, None)))


def _runs(ties: Iterable[int]) -> Iterable[tuple[int, int]]:
    """[start, end) of each run of equal items, from the ascending indices ``i`` of the items
    equal to the next."""
    start = end = -1
    for i in ties:
        if i != end - 1:
            if start >= 0:
                yield start, end
            start = i
        end = i + 2
    if start >= 0:
        yield start, end


class RowKeys:
    """The sort keys of ``rows`` (the model's list, changed in place only), and the rows'
    order by them. ``key_for_column(column, order)`` is the sort key of a column (a tuple)."""

    def __init__(self, rows: list[Order], store: OrderStore,
                 key_for_column: Callable[[int, Order], Any]) -> None:
        self.rows = rows
        self.keys: list[Any] = []  # each row's kept key, in display order
        self.key_of: dict[OrderKey, Any] | None = None  # for the keys that may change
        self.column = -1  # unsorted: the arrival order
        self.descending = False
        self.kept_key: Callable[[Order], Any] | None = None
        # the whole sort key where the kept one is only its start (ties need it), else None
        self.full_key: Callable[[Order], Any] | None = None
        # An order the store no longer has, by key: the closes since the last flush, and the
        # rows kept in view after their order closed (the order each row holds). It gives the
        # sort key of a row that leaves, when the sort key comes from the order.
        self.leaving: dict[OrderKey, Order] = {}
        self.arrivals = 0
        self._store = store
        self._key_for_column = key_for_column

    # -- sorting -------------------------------------------------------------------------------
    def unsorted(self) -> None:
        """Keep the rows' order; new rows append (numbered as they arrive)."""
        self.column, self.kept_key, self.full_key, self.descending = -1, None, None, False
        self.arrivals = len(self.rows)
        self.keys = list(range(self.arrivals))
        self.key_of = dict(zip(map(order_key, self.rows), self.keys))

    def sort_by(self, column: int, descending: bool) -> bool:
        """Take the sort keys of ``column``; False if the rows were sorted so already, by keys
        that never go stale (else the rows are to be put in ``order()``)."""
        fixed = column in FIXED_SORT_COLUMNS
        if fixed and column == self.column and descending == self.descending:
            return False
        self.column, self.descending = column, descending
        if column == Column.CREATED:
            self.kept_key, self.full_key = _created, created_key
        elif column == Column.AGE:
            self.kept_key, self.full_key = _negative_age, age_key
        else:
            self.full_key = None
            self.kept_key = lambda order: self._key_for_column(column, order)
        rows = self.rows
        self.keys = list(map(self.kept_key, rows))
        self.key_of = None if fixed else dict(zip(map(order_key, rows), self.keys))
        return True

    def in_order(self) -> bool:
        """Whether the rows are in sort order."""
        keys, rows, full = self.keys, self.rows, self.full_key
        after = ge if self.descending else le
        if not all(map(after, keys, islice(keys, 1, None))):
            return False
        if full is not None:  # rows of one kept key in the order of their ids
            for start, end in _runs(_ties(keys)):
                run = [full(rows[r]) for r in range(start, end)]
                if not all(map(after, run, islice(run, 1, None))):
                    return False
        return True

    def order(self) -> tuple[list[int], list[Any]]:
        """The rows in sort order: (each new row's old row, its key)."""
        keys, descending = self.keys, self.descending
        order = sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)
        ordered = [keys[i] for i in order]
        full = self.full_key
        if full is not None:
            # rows of one kept key (made in the same millisecond) in the order of their ids
            rows = self.rows
            for start, end in _runs(_ties(ordered)):
                order[start:end] = sorted(order[start:end], key=lambda r: full(rows[r]),
                                          reverse=descending)
        return order, ordered

    def sort_rows(self) -> None:
        """Put the rows in sort order in place, by keys made of fixed fields (made again:
        without a new row number for every row, 100k of them left 3 MB resident)."""
        assert self.kept_key is not None and self.key_of is None
        rows, descending, full = self.rows, self.descending, self.full_key
        rows.sort(key=self.kept_key, reverse=descending)
        self.keys = list(map(self.kept_key, rows))
        if full is not None:
            for start, end in _runs(_ties(self.keys)):
                rows[start:end] = sorted(rows[start:end], key=full, reverse=descending)

    def reorder(self, order: list[int], keys: list[Any]) -> None:
        """Put the rows in ``order`` (from ``order()``), with their ``keys``."""
        rows = self.rows
        rows[:] = [rows[i] for i in order]
        self.keys = keys

    # -- finding rows --------------------------------------------------------------------------
    def locate(self, order: Order) -> int | None:
        """The row of ``order``'s key, found from its sort key; ``LOST`` if the rows may hold
        it elsewhere (the sort key did not find it), None if they hold no such row."""
        key = order.key
        key_of = self.key_of
        if key_of is None:
            assert self.kept_key is not None  # (unsorted rows always have the map)
            row = self.find(key, self.kept_key(order), order)
        else:
            kept = key_of.get(key)
            if kept is None:
                return None
            row = self.find(key, kept)
        return LOST if row is None else row

    def rows_of(self, keys: Iterable[OrderKey], walk: bool = True) -> dict[OrderKey, int]:
        """The row of each of ``keys`` the rows hold (keys they do not hold are left out).

        A key is found by bisection from its sort key (in the map, or made from the order the
        store or ``leaving`` has); what that misses is found by one walk over the rows, unless
        ``walk`` is False (for a repaint, which the next flush makes anyway)."""
        found: dict[OrderKey, int] = {}
        lost: list[OrderKey] = []
        key_of, kept_key, leaving, store = self.key_of, self.kept_key, self.leaving, self._store
        for key in keys:
            if key_of is not None:
                kept = key_of.get(key)
                if kept is None:
                    continue
                row = self.find(key, kept)
            else:
                order = leaving.get(key) or store.get(key)
                if order is None:
                    lost.append(key)
                    continue
                assert kept_key is not None  # (unsorted rows always have the map)
                row = self.find(key, kept_key(order), order)
            if row is None:
                lost.append(key)
            else:
                found[key] = row
        if lost and walk:
            found.update(self.scan(lost))
        return found

    def find(self, key: OrderKey, kept: Any, order: Order | None = None) -> int | None:
        """The row of ``key`` among the rows whose kept key is ``kept``, or None. A long run of
        them (orders made in the same millisecond, or with no time) is bisected by the whole
        key of ``order``."""
        keys, rows, descending = self.keys, self.rows, self.descending
        lo = bound(keys, kept, 0, len(keys), descending, False)
        end = min(len(keys), lo + SHORT_TIE)
        for row in range(lo, end):
            if keys[row] != kept:
                return None
            if rows[row].key == key:
                return row
        if end == len(keys) or keys[end] != kept:
            return None
        hi = bound(keys, kept, end, len(keys), descending, True)
        full = self.full_key
        if full is not None and order is not None:
            whole = full(order)
            lo = bound(rows, whole, end, hi, descending, False, full)
            hi = bound(rows, whole, lo, hi, descending, True, full)
        for row in range(lo, hi):
            if rows[row].key == key:
                return row
        return None

    def scan(self, keys: Iterable[OrderKey]) -> dict[OrderKey, int]:
        """The rows of ``keys``, by one walk over every row: what bisection cannot find (the
        keys are out of order only inside a flush, between a changed sort key and the resort,
        when a slot of dataChanged asks; a fixed field an update changed; an account dropped)."""
        wanted = set(keys)
        rows = self.rows
        found = compress(count(), map(wanted.__contains__, map(order_key, rows)))
        return {rows[row].key: row for row in found}

    # -- changing rows -------------------------------------------------------------------------
    def rekey(self, row: int, order: Order) -> bool:
        """Take ``order``'s sort key for ``row``; True if it changed (the row is out of place)."""
        assert self.kept_key is not None
        kept = self.kept_key(order)
        if kept == self.keys[row]:
            return False
        self.keys[row] = kept
        if self.key_of is not None:
            self.key_of[order.key] = kept
        return True

    def insertion_runs(self, orders: list[Order], most: int) -> list[tuple[int, int, int]] | None:
        """(row, start, end): ``orders[start:end]`` go in before ``row`` to keep the sort.

        ``orders`` are sorted the rows' way; None when they would land in more than ``most``
        places (one append and a resort is cheaper then)."""
        assert self.kept_key is not None
        kept_key, full = self.kept_key, self.full_key
        keys, descending = self.keys, self.descending
        runs: list[tuple[int, int, int]] = []
        lo = 0
        for i, order in enumerate(orders):
            kept = kept_key(order)
            at = bound(keys, kept, lo, len(keys), descending, True)  # after equal keys
            if full is not None and at > lo and keys[at - 1] == kept:
                # among the rows of the same kept key, after those whose whole key is not after
                first = bound(keys, kept, lo, at, descending, False)
                at = bound(self.rows, full(order), first, at, descending, True, full)
            lo = at
            if runs and runs[-1][0] == at:
                runs[-1] = (at, runs[-1][1], i + 1)
            elif len(runs) == most:
                return None
            else:
                runs.append((at, i, i + 1))
        return runs

    def sort_orders(self, orders: list[Order]) -> list[Any]:
        """Sort new ``orders`` the rows' way (in place); their kept keys."""
        assert self.kept_key is not None
        orders.sort(key=self.full_key or self.kept_key, reverse=self.descending)
        return list(map(self.kept_key, orders))

    def insert(self, at: int, orders: list[Order], keys: list[Any]) -> None:
        self.rows[at:at] = orders
        self.keys[at:at] = keys
        if self.key_of is not None:
            self.key_of.update(zip(map(order_key, orders), keys))

    def remove(self, first: int, last: int) -> None:
        key_of = self.key_of
        if key_of is not None:
            for order in self.rows[first:last + 1]:
                del key_of[order.key]
        del self.rows[first:last + 1]
        del self.keys[first:last + 1]
