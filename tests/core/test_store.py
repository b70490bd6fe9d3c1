"""OrderStore: snapshot replace, upserts, closes, batching, cancel-pending marks."""

from decimal import Decimal

import pytest

from blotter.core.cancel import OrderOutcome, Outcome
from blotter.core.closes import ClosedOrder, CloseReason
from blotter.core.order import (
    AccountKey,
    Closed,
    Order,
    OrderKey,
    OrderStatus,
    Side,
    Snapshot,
    Upsert,
)
from blotter.core.store import OrderStore

A = AccountKey("bitfinex", "main")
B = AccountKey("bitfinex", "other")


def order(oid: str, account: AccountKey = A, *, remaining: str = "1", status=OrderStatus.OPEN,
          symbol: str = "tBTCUSD", group: str | None = None, text: str = "ACTIVE") -> Order:
    return Order(
        venue=account.venue, account=account.account, order_id=oid, symbol=symbol,
        side=Side.BUY, order_type="EXCHANGE LIMIT", amount=Decimal(1),
        remaining=Decimal(remaining), status=status, status_text=text,
        price=Decimal(100), group_id=group,
    )


def keys(store: OrderStore) -> set[str]:
    return {o.order_id for o in store}


def test_snapshot_replaces_only_that_account() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"), order("2"))))
    store.apply(Snapshot(B, (order("9", B),)))
    store.apply(Snapshot(A, (order("2"), order("3"))))
    assert keys(store) == {"2", "3", "9"}
    assert {o.order_id for o in store.orders(A)} == {"2", "3"}


def test_snapshot_removal_reports_vanished_orders_to_close_listeners() -> None:
    store = OrderStore()
    seen: list[ClosedOrder] = []
    store.add_close_listener(seen.append)
    store.apply(Snapshot(A, (order("1"), order("2"))))
    store.apply(Snapshot(A, (order("2"),)))
    assert [(c.order.order_id, c.reason) for c in seen] == [("1", CloseReason.VANISHED)]
    assert seen[0].outcome_text() == "closed while unseen (how unknown)"


def test_a_close_listener_that_stopped_hears_no_more() -> None:
    store = OrderStore()
    seen: list[str] = []
    listener = seen.append
    store.add_close_listener(lambda c: listener(c.order.order_id))
    kept: list[ClosedOrder] = []
    store.add_close_listener(kept.append)
    store.apply(Snapshot(A, (order("1"), order("2"))))
    store.apply(Closed(order("1", status=OrderStatus.FILLED, remaining="0")))
    store.remove_close_listener(kept.append)
    store.remove_close_listener(kept.append)  # twice: nothing
    store.apply(Closed(order("2", status=OrderStatus.FILLED, remaining="0")))
    assert seen == ["1", "2"]
    assert [c.order.order_id for c in kept] == ["1"]


def test_upsert_then_close_keeps_final_status_in_history() -> None:
    store = OrderStore()
    store.apply(Upsert(order("1")))
    store.apply(Upsert(order("1", remaining="0.4", status=OrderStatus.PARTIALLY_FILLED)))
    assert store.get(OrderKey("bitfinex", "main", "1")).remaining == Decimal("0.4")
    store.apply(Closed(order("1", remaining="0", status=OrderStatus.FILLED, text="EXECUTED @ 100(1)")))
    assert len(store) == 0
    assert store.closed[-1].order.status_text == "EXECUTED @ 100(1)"
    assert store.closed[-1].reason is CloseReason.FILLED


def test_upsert_of_a_closed_status_closes_the_row() -> None:
    store = OrderStore()
    store.apply(Upsert(order("1")))
    store.apply(Upsert(order("1", status=OrderStatus.CANCELLED)))
    assert len(store) == 0


def test_flush_batches_changes_into_one_diff() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"), order("2"))))
    first = store.flush()
    assert {o.order_id for o in first.added} == {"1", "2"}
    assert not first.updated and not first.removed

    store.apply(Upsert(order("1", remaining="0.5", status=OrderStatus.PARTIALLY_FILLED)))
    store.apply(Upsert(order("3")))
    store.apply(Closed(order("2", status=OrderStatus.CANCELLED)))
    store.apply(Upsert(order("4")))
    store.apply(Closed(order("4", status=OrderStatus.CANCELLED)))  # came and went between flushes
    diff = store.flush()
    assert [o.order_id for o in diff.updated] == ["1"]
    assert [o.order_id for o in diff.added] == ["3"]
    assert [k.order_id for k in diff.removed] == ["2"]
    assert not store.flush()


def test_dirty_listener_fires_once_per_batch() -> None:
    store = OrderStore()
    calls = []
    store.add_dirty_listener(lambda: calls.append(1))
    for i in range(100):
        store.apply(Upsert(order(str(i))))
    assert calls == [1]
    store.flush()
    store.apply(Upsert(order("x")))
    assert calls == [1, 1]


def test_diff_listeners_receive_the_flushed_diff() -> None:
    store = OrderStore()
    got = []
    store.add_diff_listener(got.append)
    store.apply(Upsert(order("1")))
    diff = store.flush()
    assert got == [diff]


def test_unchanged_order_in_snapshot_is_not_reported_as_updated() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"),)))
    store.flush()
    store.apply(Snapshot(A, (order("1"),)))
    assert not store.flush()


def test_cancel_pending_marks_rows_and_clears_when_they_close() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"), order("2"))))
    store.flush()
    k1 = OrderKey("bitfinex", "main", "1")
    missing = order("nope")  # not in the table: a ticket, but no row to mark
    tickets = store.begin_cancel([order("1"), missing])
    assert set(tickets) == {k1, missing.key}
    assert store.is_cancel_pending(k1) and not store.is_cancel_pending(missing.key)
    assert store.is_cancel_waiting(k1) and store.is_cancel_waiting(missing.key)
    assert [o.order_id for o in store.flush().updated] == ["1"]
    seen: list[OrderOutcome] = []
    tickets[k1].add_callback(seen.append)
    store.apply(Closed(order("1", status=OrderStatus.CANCELLED, text="CANCELED")))
    assert not store.is_cancel_pending(k1) and not store.is_cancel_waiting(k1)
    assert [k.order_id for k in store.flush().removed] == ["1"]
    assert seen == [OrderOutcome(k1, Outcome.CANCELLED, "CANCELED")]


def test_a_fill_that_beats_the_cancel_settles_it_as_filled() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"),)))
    ticket = store.begin_cancel([order("1")])[order("1").key]
    store.apply(Closed(order("1", status=OrderStatus.FILLED, text="EXECUTED @ 1.0")))
    assert ticket.outcome == OrderOutcome(order("1").key, Outcome.FILLED, "EXECUTED @ 1.0")


def test_an_order_missing_from_a_fresh_snapshot_settles_its_cancel_as_closed() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"), order("2"))))
    ticket = store.begin_cancel([order("1")])[order("1").key]
    store.apply(Snapshot(A, (order("2"),)))
    assert ticket.outcome is not None and ticket.outcome.outcome is Outcome.CLOSED


def test_a_refused_cancel_puts_the_row_back_and_a_second_settle_is_ignored() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"),)))
    store.flush()
    key = order("1").key
    ticket = store.begin_cancel([order("1")])[key]
    assert store.begin_cancel([order("1")])[key] is ticket  # one cancel in flight per order
    store.flush()
    assert store.end_cancel(key, Outcome.REJECTED, "ERROR: Order not found.")
    assert not store.is_cancel_pending(key) and key in store
    assert [o.order_id for o in store.flush().updated] == ["1"]  # the row is redrawn as it was
    assert not store.end_cancel(key, Outcome.CANCELLED)
    assert ticket.outcome == OrderOutcome(key, Outcome.REJECTED, "ERROR: Order not found.")


def test_drop_account_forgets_its_rows() -> None:
    store = OrderStore()
    store.apply(Snapshot(A, (order("1"),)))
    store.apply(Snapshot(B, (order("2", B),)))
    store.drop_account(A)
    assert keys(store) == {"2"}
    assert store.accounts() == [B]


def test_snapshot_with_a_foreign_order_is_refused() -> None:
    store = OrderStore()
    with pytest.raises(ValueError):
        store.apply(Snapshot(A, (order("1", B),)))


def test_put_is_apply_of_an_upsert() -> None:
    via_put, via_apply = OrderStore(), OrderStore()
    steps = [order("1"), order("2"), order("1", remaining="0.5"),
             order("2", status=OrderStatus.CANCELLED, text="CANCELED")]
    closed: list[str] = []
    via_put.add_close_listener(lambda c: closed.append(c.order.order_id))
    for o in steps[:2]:
        via_put.put(o)
        via_apply.apply(Upsert(o))
    assert via_put.flush() == via_apply.flush()
    for o in steps[2:]:
        via_put.put(o)
        via_apply.apply(Upsert(o))
    diff = via_put.flush()
    assert diff == via_apply.flush()
    assert [o.remaining for o in diff.updated] == [Decimal("0.5")]
    assert diff.removed == (OrderKey("bitfinex", "main", "2"),) and closed == ["2"]


def test_a_refused_cancel_marks_the_row_until_the_venue_changes_it() -> None:
    store = OrderStore()
    first = order("1")
    store.put(first)
    store.flush()
    store.begin_cancel([first])
    store.end_cancel(first.key, Outcome.REJECTED, "Order not found")
    assert store.refusal(first.key) == "rejected: Order not found"
    assert first.key in {o.key for o in store.flush().updated}  # the row repaints
    store.put(first)  # the same record again is not a change
    assert store.refusal(first.key) == "rejected: Order not found"
    store.put(order("1", remaining="0.5", status=OrderStatus.PARTIALLY_FILLED))
    assert store.refusal(first.key) is None


def test_a_timed_out_cancel_is_marked_and_a_new_cancel_clears_the_mark() -> None:
    store = OrderStore()
    first = order("1")
    store.put(first)
    store.begin_cancel([first])
    store.end_cancel(first.key, Outcome.TIMED_OUT)
    assert store.refusal(first.key) == "timed out"
    store.begin_cancel([first])
    assert store.refusal(first.key) is None


def test_a_close_on_a_busy_book_leaves_every_other_mark_as_it_was() -> None:
    # the close of a row nobody is cancelling takes the short path: the row, its account's
    # count and its marks go; the rows with a cancel in flight or a refusal keep theirs
    store = OrderStore()
    seen: list[ClosedOrder] = []
    store.add_close_listener(seen.append)
    store.apply(Snapshot(A, (order("1"), order("2"), order("3"))))
    store.apply(Snapshot(B, (order("9", B),)))
    store.begin_cancel([order("2")])
    store.begin_cancel([order("3")])
    store.end_cancel(order("3").key, Outcome.REJECTED, "Order not found")
    store.begin_cancel([order("1")])
    store.end_cancel(order("1").key, Outcome.REJECTED, "busy")
    store.put(order("1", remaining="0.4", text="PARTIALLY FILLED"))  # a fill: the mark goes
    assert store.refusal(order("1").key) is None
    store.flush()
    store.apply(Closed(order("1", status=OrderStatus.FILLED, text="EXECUTED @ 100(1)")))
    store.apply(Closed(order("9", B, status=OrderStatus.CANCELLED, text="CANCELED")))
    assert [(c.order.order_id, c.reason, c.detail) for c in seen] == [
        ("1", CloseReason.FILLED, "EXECUTED @ 100(1)"),
        ("9", CloseReason.CANCELLED_AT_VENUE, "CANCELED"),
    ]
    assert keys(store) == {"2", "3"}
    assert store.accounts() == [A]
    assert store.is_cancel_pending(order("2").key) and store.cancel_pending_count == 1
    assert store.refusal(order("3").key) == "rejected: Order not found"
    diff = store.flush()
    assert set(diff.removed) == {order("1").key, order("9", B).key}
    assert not diff.added and not diff.updated
