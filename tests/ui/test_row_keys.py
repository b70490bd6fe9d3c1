"""Where each row is: sorted by a column of fixed fields the model finds a row from the order's
own sort key (no map of every row), and sorted by creation it keeps no key object per row, the
order id deciding among orders made in the same millisecond. Rows stay in the order a plain
sort gives, and every row is found, through ties, orders with no time, holds, closes, orders
back from the dead, a fixed field an update changed and an account dropped."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from blotter.core.order import AccountKey, Closed, Order, Upsert
from blotter.ui.order_cells import id_sort_key
from blotter.ui.orders_model import ORDER_ROLE, Column, OrdersModel
from blotter.ui.row_keys import SHORT_TIE
from tests.ui.book import make_order
from tests.ui.test_row_hold import flush_sometimes, hold_or_release

T0 = 1_700_000_000_000


def made_at(n: int, created: int | None, account: str = "acct", **kw) -> Order:
    return replace(make_order(n, account=account, **kw), created_ms=created)


def plain_sort(orders: list[Order], column: int, order: Qt.SortOrder) -> list[str]:
    """The rows as a plain sort of the whole key orders them: creation time (none: 0), then
    the id, numbers as numbers (Age: youngest first)."""
    sign = -1 if column == Column.AGE else 1
    rows = sorted(orders, key=lambda o: (sign * (o.created_ms or 0), id_sort_key(o.order_id)),
                  reverse=order == Qt.SortOrder.DescendingOrder)
    return [o.order_id for o in rows]


def ids(model: OrdersModel) -> list[str]:
    return [o.order_id for o in model.orders()]


def every_row_is_found(model: OrdersModel) -> None:
    rows = model._row_keys
    for r in range(model.rowCount()):
        order = model.index(r, 0).data(ORDER_ROLE)
        assert model.row_of(order.key) == r
        if rows.key_of is None:  # by bisection, not by a walk over the rows
            assert rows.kept_key is not None
            assert rows.find(order.key, rows.kept_key(order), order) == r


@pytest.mark.parametrize("column", [Column.CREATED, Column.AGE])
@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
@pytest.mark.parametrize("tested", [True, False], ids=["model tester", "no index kept"])
def test_orders_made_in_the_same_millisecond_keep_their_id_order_and_are_found(
        store, qtmodeltester, column, order, tested):
    """With Qt's model tester the rows keep persistent indexes (a resort moves them); without,
    the rows are sorted in place."""
    rng = random.Random(f"{column}{order}")
    # a few milliseconds for many orders: runs of one time longer than SHORT_TIE, and no time
    times = [T0, T0 + 1, T0 + 2, None]
    for n in range(40):
        store.apply(Upsert(made_at(n, rng.choice(times), account=rng.choice("ab"))))
    store.flush()
    model = OrdersModel(store, sort=(column, order))
    if tested:
        qtmodeltester.check(model)
    assert ids(model) == plain_sort(list(store), column, order)
    assert max(ids(model).count(i) for i in ids(model)) == 1
    created = {o.order_id: o.created_ms for o in store}
    assert max(list(created.values()).count(t) for t in times) > SHORT_TIE
    every_row_is_found(model)

    serial = 40
    for step in range(300):
        alive = sorted(store, key=lambda o: int(o.order_id))
        roll = rng.random()
        if roll < 0.3 or not alive:
            serial += 1
            store.apply(Upsert(made_at(serial, rng.choice(times), account=rng.choice("ab"))))
        elif roll < 0.55:  # a live value changes
            o = rng.choice(alive)
            store.apply(Upsert(replace(o, price=o.price + 1)))
        elif roll < 0.7:
            store.apply(Closed(rng.choice(alive)))
        elif roll < 0.75:  # back from the dead, as it was made
            n = rng.randint(1, serial)
            if not any(o.order_id == str(n) for o in alive):
                store.apply(Upsert(made_at(n, rng.choice(times), account="a")))
        elif roll < 0.8:  # a fixed field the venue changed after all: the row moves
            o = rng.choice(alive)
            store.apply(Upsert(replace(o, created_ms=rng.choice(times))))
        elif roll < 0.83:
            store.drop_account(AccountKey("bitfinex", rng.choice("ab")))
        else:
            hold_or_release(model, rng, roll)

        def released(at: int) -> None:
            assert ids(model) == plain_sort(list(store), column, order), at
            every_row_is_found(model)

        flush_sometimes(model, store, rng, step, released)
    store.flush()
    model.hold_rows(False)
    assert ids(model) == plain_sort(list(store), column, order)
    assert [store.get(o.key) for o in model.orders()] == model.orders()
    every_row_is_found(model)


def test_sorted_by_a_fixed_column_no_map_of_every_row_and_by_creation_no_key_per_row(store):
    for n in range(30):
        store.apply(Upsert(make_order(n, price=str(100 + n))))
    store.flush()
    model = OrdersModel(store, sort=(Column.CREATED, Qt.SortOrder.DescendingOrder))
    rows = model._row_keys
    assert rows.key_of is None
    # the key kept for each row is the creation time its order holds, not a new object
    assert all(key is o.created_ms for key, o in zip(rows.keys, model.orders(), strict=True))
    model.sort(Column.SYMBOL)
    assert rows.key_of is None
    model.sort(Column.PRICE)  # a live value: its key may change, so it is kept by order key
    assert rows.key_of is not None and len(rows.key_of) == 30


def test_the_same_sort_again_keeps_the_rows_of_a_fixed_column_and_sorts_a_live_one_afresh(
        store, model):
    for n, price in enumerate(["3", "1", "2"]):
        store.apply(Upsert(make_order(n, price=price)))
    store.flush()
    model.sort(Column.CREATED, Qt.SortOrder.DescendingOrder)
    keys = model._row_keys.keys
    model.sort(Column.CREATED, Qt.SortOrder.DescendingOrder)
    assert model._row_keys.keys is keys  # nothing made again
    assert ids(model) == ["2", "1", "0"]
    model.sort(Column.PRICE)
    keys = model._row_keys.keys
    model.sort(Column.PRICE)
    assert model._row_keys.keys is not keys
    assert ids(model) == ["1", "2", "0"]


def test_the_model_hands_each_update_with_the_order_before_it(store, model):
    """Alerts read partial fills from these: a row's update, and one of an order waiting to be
    shown while the rows hold still; an addition is no update."""
    seen: list[tuple[str, str, str]] = []
    model.add_update_listener(lambda pairs: seen.extend(
        (after.order_id, str(before.remaining), str(after.remaining)) for before, after in pairs))
    model.sort(Column.CREATED, Qt.SortOrder.DescendingOrder)
    store.apply(Upsert(make_order(1, amount="1")))
    store.flush()
    assert seen == []
    store.apply(Upsert(make_order(1, amount="1", remaining="0.75")))
    store.flush()
    assert seen == [("1", "1", "0.75")]
    model.hold_rows(True)
    store.apply(Upsert(make_order(1, amount="1", remaining="0.5")))
    store.apply(Upsert(make_order(2, amount="2")))
    store.flush()
    store.apply(Upsert(make_order(2, amount="2", remaining="1.5")))
    store.flush()
    assert seen[1:] == [("1", "0.75", "0.5"), ("2", "2", "1.5")]
    assert ids(model) == ["1"]  # order 2 still waits to be shown
    model.hold_rows(False)
    store.apply(Upsert(make_order(2, amount="2", remaining="1")))
    store.flush()
    assert seen[3:] == [("2", "1.5", "1")]


def test_a_row_is_found_when_its_account_is_dropped_and_when_it_closes(store, model):
    for n in range(12):
        store.apply(Upsert(made_at(n, T0, account="ab"[n % 2])))
    store.flush()
    model.sort(Column.CREATED)
    store.drop_account(AccountKey("bitfinex", "a"))  # no close: found by a walk over the rows
    store.flush()
    assert ids(model) == [str(n) for n in range(1, 12, 2)]
    store.apply(Closed(made_at(5, T0, account="b")))
    store.flush()
    assert ids(model) == ["1", "3", "7", "9", "11"]
    assert model.row_of(made_at(5, T0, account="b").key) is None
    every_row_is_found(model)
