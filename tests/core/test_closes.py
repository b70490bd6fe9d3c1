"""Why rows leave: the store's close records, resync diffs and corrected receipts."""

from decimal import Decimal

from blotter.core.cancel import Outcome
from blotter.core.closes import ClosedOrder, CloseReason, ResyncDiff
from blotter.core.order import AccountKey, Closed, Order, OrderStatus, Side, Snapshot, Upsert
from blotter.core.store import OrderStore

A = AccountKey("bybit", "main")


def order(oid: str, *, remaining: str = "0.1", status: OrderStatus = OrderStatus.OPEN,
          text: str = "New", avg: str | None = None, price: str = "95130") -> Order:
    return Order(
        venue=A.venue, account=A.account, order_id=oid, symbol="BTCUSDT", side=Side.BUY,
        order_type="Limit", amount=Decimal("0.1"), remaining=Decimal(remaining), status=status,
        status_text=text, price=Decimal(price), avg_price=Decimal(avg) if avg else None,
        updated_ms=1_700_000_000_000 if status is not OrderStatus.OPEN else None,
    )


def store_with(*ids: str) -> tuple[OrderStore, list[ClosedOrder], list[ResyncDiff]]:
    store = OrderStore(clock=lambda: 42)
    closes: list[ClosedOrder] = []
    diffs: list[ResyncDiff] = []
    store.add_close_listener(closes.append)
    store.add_resync_listener(diffs.append)
    store.apply(Snapshot(A, tuple(order(i) for i in ids)))
    diffs.clear()
    return store, closes, diffs


def test_a_fill_says_filled_at_its_average_price() -> None:
    store, closes, _ = store_with("1")
    store.apply(Closed(order("1", remaining="0", status=OrderStatus.FILLED, text="Filled",
                             avg="95120.5")))
    assert [c.reason for c in closes] == [CloseReason.FILLED]
    assert closes[0].line() == "BTCUSDT buy 0.1 @ 95,130 filled at 95,120.5"
    assert closes[0].closed_ms == 1_700_000_000_000  # the venue's time, not ours
    assert list(store.closed) == closes


def test_a_cancel_nobody_here_asked_for_is_cancelled_at_the_venue_with_its_words() -> None:
    store, closes, _ = store_with("1")
    store.apply(Closed(order("1", status=OrderStatus.CANCELLED, text="Cancelled (CancelByAdmin)")))
    assert closes[0].reason is CloseReason.CANCELLED_AT_VENUE
    assert closes[0].outcome_text() == "cancelled at the venue (Cancelled (CancelByAdmin))"
    assert not closes[0].reason.asked_for


def test_a_cancel_of_the_trader_names_the_action() -> None:
    store, closes, _ = store_with("1", "2")
    rows = store.orders(A)
    store.name_cancel([o.key for o in rows], "Cancel Group 7")
    tickets = store.begin_cancel(rows)
    store.apply(Closed(order("1", status=OrderStatus.CANCELLED, text="Cancelled")))
    store.apply(Closed(order("2", remaining="0", status=OrderStatus.FILLED, text="Filled")))
    assert [(c.reason, c.detail) for c in closes] == [
        (CloseReason.CANCELLED_BY_YOU, "Cancel Group 7"), (CloseReason.FILLED, "Filled")]
    assert {k.order_id: t.outcome.outcome for k, t in tickets.items()} == {
        "1": Outcome.CANCELLED, "2": Outcome.FILLED}


def test_expired_and_rejected_keep_their_reason() -> None:
    store, closes, _ = store_with("1", "2")
    store.apply(Closed(order("1", status=OrderStatus.EXPIRED, text="Expired")))
    store.apply(Closed(order("2", status=OrderStatus.REJECTED, text="Rejected")))
    assert [c.reason for c in closes] == [CloseReason.EXPIRED, CloseReason.REJECTED]


def test_a_fresh_list_reports_what_it_closed_added_and_changed() -> None:
    store, closes, diffs = store_with("1", "2", "3")
    store.apply(Snapshot(A, (order("2", remaining="0.04"), order("3"), order("4"))))
    (diff,) = diffs
    assert [c.order.order_id for c in diff.closed] == ["1"]
    assert [o.order_id for o in diff.added] == ["4"]
    assert [(b.remaining, a.remaining) for b, a in diff.changed] == [
        (Decimal("0.1"), Decimal("0.04"))]
    assert diff.summary() == "1 closed while unseen, 1 new, 1 changed"
    assert "order 1 (BTCUSDT buy 0.1 @ 95,130) was closed at the venue" in diff.details()
    assert "order 2: remaining 0.04 at the venue, 0.1 in the table" in diff.details()
    assert [(c.reason, c.closed_ms) for c in closes] == [(CloseReason.VANISHED, 42)]


def test_a_fresh_list_with_the_venues_records_of_what_it_lacks_says_how_each_ended() -> None:
    store, closes, diffs = store_with("1", "2", "3", "4", "5")
    rows = {o.order_id: o for o in store.orders(A)}
    store.name_cancel([rows["5"].key], "Cancel Order")
    (ticket,) = store.begin_cancel([rows["5"]]).values()
    finals = (
        order("1", remaining="0", status=OrderStatus.FILLED, text="Filled", avg="95120.5"),
        order("2", status=OrderStatus.CANCELLED, text="CancelByAdmin"),
        order("4", remaining="0.1", status=OrderStatus.OPEN),  # open: the list is wrong, not it
        order("5", status=OrderStatus.CANCELLED, text="Cancelled"),
        order("9", status=OrderStatus.FILLED, text="Filled"),  # not a row: nothing to say
    )
    store.apply(Snapshot(A, (order("3"),), finals=finals))
    (diff,) = diffs
    assert {c.order.order_id: c.reason for c in diff.closed} == {
        "1": CloseReason.FILLED, "2": CloseReason.CANCELLED_AT_VENUE,
        "4": CloseReason.VANISHED, "5": CloseReason.CANCELLED_BY_YOU}
    assert diff.summary() == ("1 filled, 1 cancelled by you, 1 cancelled at the venue, "
                              "1 closed while unseen")
    assert all(c.unseen for c in closes)
    assert ("order 1 (BTCUSDT buy 0.1 @ 95,130) was closed at the venue (filled at 95,120.5) "
            "but no close arrived on the stream") in diff.details()
    assert ("order 4 (BTCUSDT buy 0.1 @ 95,130) was closed at the venue but no close arrived "
            "on the stream") in diff.details()
    # the trader's cancel learns it was cancelled, from the venue's own record
    assert ticket.outcome is not None and ticket.outcome.outcome is Outcome.CANCELLED
    assert [c.detail for c in closes if c.order.order_id == "5"] == ["Cancel Order"]


def test_an_unchanged_list_is_an_empty_diff() -> None:
    store, _, diffs = store_with("1", "2")
    store.apply(Snapshot(A, (order("1"), order("2"))))
    assert diffs == [ResyncDiff(A, (), (), ())] and not diffs[0]
    assert diffs[0].summary() == ""


def test_a_receipt_that_said_closed_how_unknown_is_corrected_by_the_venues_close() -> None:
    store, closes, _ = store_with("1")
    (ticket,) = store.begin_cancel(store.orders(A)).values()
    # the repeated request found the order gone: the receipt can only say "closed, how unknown"
    store.end_cancel(ticket.key, Outcome.CLOSED, "gone when the request was repeated")
    assert ticket.outcome.outcome is Outcome.CLOSED
    assert store.is_cancel_pending(ticket.key)  # still marked: the close has not come
    store.apply(Closed(order("1", remaining="0", status=OrderStatus.FILLED, text="Filled")))
    assert [(c.reason, c.corrects) for c in closes] == [(CloseReason.FILLED, True)]


def test_a_close_of_a_row_not_in_the_table_still_settles_its_cancel() -> None:
    store, closes, _ = store_with()
    ghost = order("9")
    (ticket,) = store.begin_cancel([ghost]).values()
    store.apply(Closed(order("9", status=OrderStatus.CANCELLED, text="Cancelled")))
    assert ticket.outcome.outcome is Outcome.CANCELLED and closes == []


def test_upsert_then_fill_via_put_is_one_close() -> None:
    store, closes, _ = store_with()
    store.put(order("5"))
    store.put(order("5", remaining="0", status=OrderStatus.FILLED, text="Filled"))
    assert [c.reason for c in closes] == [CloseReason.FILLED] and len(store) == 0
    store.apply(Upsert(order("6")))
    assert len(store) == 1
