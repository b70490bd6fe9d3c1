"""The B2TRADER account hub, sans-I/O: OpenOrders items → orders (the verbatim example, exact
re-reads, malformed items), the per-account parser that reuses unchanged orders, and the
``StreamParser`` from frames to events."""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest

from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader.orders import ORDER_FIELDS
from blotter.venues.b2trader.requests import open_orders_subscription
from blotter.venues.b2trader.signalr import (
    Decoder,
    HandshakeResponse,
    MalformedRecord,
    RecordTooLarge,
    StreamItem,
    parse_message,
)
from blotter.venues.b2trader.stream import (
    HubClosed,
    ListWaiting,
    OpenOrdersParser,
    OrderList,
    StreamEnded,
    StreamParser,
    UnreadableList,
    parse_open_orders,
)
from tests.venues.b2trader.samples import (
    ACCOUNT,
    EXPECTED,
    fields,
    item_record,
    order_json,
    raw,
    stream_item,
)


def test_open_orders_verbatim_example_field_by_field() -> None:
    orders = parse_open_orders(stream_item(), ACCOUNT)
    assert orders == (EXPECTED,)
    o = orders[0]
    assert type(o.amount) is Decimal and str(o.price) == "0.9"
    assert o.group_id is None
    assert o.key == (
        "b2trader", "broker-main/B2TRADER Hedging account", "01JVQBFSTVC40VK03A0AY7K016"
    )
    assert o.account_key == ACCOUNT


def test_open_orders_from_the_decoder_and_from_the_bare_item() -> None:
    d = Decoder()
    d.feed("{}\x1e")
    data = raw("ws_open_orders.txt")
    d.feed(data[:300])
    d.feed(data[300:])
    handshake, item = list(d)
    assert handshake == HandshakeResponse()
    assert isinstance(item, StreamItem)
    assert parse_open_orders(item, ACCOUNT) == (EXPECTED,)
    assert parse_open_orders(item.item, ACCOUNT) == (EXPECTED,)
    assert OpenOrdersParser(ACCOUNT).parse(item) == (EXPECTED,)



def test_empty_open_orders() -> None:
    assert parse_open_orders(parse_message('{"type":2,"invocationId":"0","item":[]}'),
                                   ACCOUNT) == ()

def test_json_numbers_are_re_read_exactly() -> None:
    # P-6: numbers where strings are documented. 21 significant digits do not survive a float.
    item = order_json(requestedAmount=1, remainingAmount=0.5)
    record = json.dumps({"type": 2, "invocationId": "0", "item": [item]}).replace(
        '"requestedPrice": "0.9"', '"requestedPrice": 0.90000000000000000001'
    )
    msg = parse_message(record)
    assert isinstance(msg, StreamItem)
    [o] = parse_open_orders(msg, ACCOUNT)
    assert o.price == Decimal("0.90000000000000000001")
    assert o.amount == Decimal(1) and o.remaining == Decimal("0.5")
    assert o.status is OrderStatus.PARTIALLY_FILLED
    # Without the record (an already parsed item) the float's shortest repr is used.
    [p] = parse_open_orders([order_json(requestedPrice=0.1)], ACCOUNT)
    assert p.price == Decimal("0.1")

@pytest.mark.parametrize("item", [None, {}, "x", 5, [1], [[]], {"item": {}}])
def test_malformed_items(item: Any) -> None:
    with pytest.raises(MalformedFrame):
        parse_open_orders(StreamItem("0", item), ACCOUNT)


def test_nested_item_is_tolerated() -> None:
    assert parse_open_orders({"item": [order_json()]}, ACCOUNT) == (EXPECTED,)


def test_wrong_venue_account_is_refused() -> None:
    with pytest.raises(MalformedFrame):
        parse_open_orders([], AccountKey("bybit", "x"))


# -- OpenOrdersParser: one trading account's stream, unchanged orders reused --------------------
def test_parser_reuses_unchanged_orders_and_rebuilds_changed_ones() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    assert parser.account == ACCOUNT and len(parser) == 0
    a, b = order_json(orderId="A"), order_json(orderId="B")
    first = parser.parse(item_record([a, b]))
    assert first == (
        Order(**{**fields(EXPECTED), "order_id": "A"}),
        Order(**{**fields(EXPECTED), "order_id": "B"}),
    )
    assert len(parser) == 2
    # A partial fill of B: A comes back as the very same object, B is a new one.
    b_filled = {**b, "status": "Working", "remainingAmount": "2500", "executionPrice": "0.89",
                "updatedAt": "2025-05-20T17:23:00.5Z"}
    second = parser.parse(item_record([a, b_filled]))
    assert second[0] is first[0]
    assert second[1] == Order(
        **{**fields(EXPECTED), "order_id": "B", "remaining": Decimal(2500),
           "status": OrderStatus.PARTIALLY_FILLED, "status_text": "Working",
           "avg_price": Decimal("0.89"), "updated_ms": 1747761780500}
    )
    assert second == parse_open_orders(item_record([a, b_filled]), ACCOUNT)
    # The same item again (a duplicate snapshot): everything reused.
    third = parser.parse(item_record([a, b_filled]))
    assert third[0] is first[0] and third[1] is second[1]


def test_parser_forgets_orders_that_left_the_list() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    a, b = order_json(orderId="A"), order_json(orderId="B")
    [_, b1] = parser.parse([a, b])
    assert parser.parse([a]) == (Order(**{**fields(EXPECTED), "order_id": "A"}),)
    assert len(parser) == 1
    [_, b2] = parser.parse([a, b])  # B is back: parsed afresh, not served from memory
    assert b2 == b1 and b2 is not b1
    assert parser.parse([]) == () and len(parser) == 0


def test_parser_notices_a_change_in_any_field_it_reads() -> None:
    # Not only the fields that normally change: a same-id order with another side, market or
    # creation time is parsed again (keying on a few "mutable" fields would serve the old one).
    parser = OpenOrdersParser(ACCOUNT)
    [base] = parser.parse([order_json()])
    for changes, field, value in [
        ({"side": "Sell"}, "side", Side.SELL),
        ({"marketDisplayName": "EUR/USD"}, "symbol", "EUR/USD"),
        ({"marketType": "Spot"}, "category", "spot"),
        ({"timeInForce": "Ioc"}, "order_type", "Limit Ioc"),
        ({"reason": "Admin"}, "status_text", "Pending · Admin"),
        ({"rejectDetails": "late"}, "status_text", "Pending · late"),
        ({"createdAt": "2025-05-20T17:22:31Z"}, "created_ms", 1747761751000),
        ({"requestedAmount": "20000"}, "amount", Decimal(20000)),
    ]:
        [changed] = parser.parse([order_json(**changes)])
        assert getattr(changed, field) == value, changes
        assert changed != base
        [again] = parser.parse([order_json()])
        assert again == base


def test_parser_ignores_fields_it_does_not_read_but_still_sees_them_change() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    [base] = parser.parse([order_json()])
    [same] = parser.parse([order_json(commissionAmount="0.5", takeProfit={"price": "1"})])
    assert same == base and same is not base  # the raw object changed: built again, equal


@pytest.mark.parametrize(
    "name", sorted(set(json.loads(raw("ws_open_orders.txt")[:-1])["item"][0])
                   - set(ORDER_FIELDS)),
)
def test_order_fields_lists_every_field_parse_order_reads(name: str) -> None:
    # The parser's type check covers ORDER_FIELDS: a field outside it must not matter.
    for value in (None, 1, 1.5, True, "x", [1], {"a": 1}):
        assert parse_open_orders([order_json(**{name: value})], ACCOUNT) == (EXPECTED,)


def test_parser_numbers_are_never_reused_by_equality() -> None:
    # 1 == 1.0 == True in Python, but they parse differently (True is malformed): an order
    # whose fields are not all strings is parsed every time, like the stateless parser does.
    parser = OpenOrdersParser(ACCOUNT)
    [one] = parser.parse([order_json(requestedAmount=1, remainingAmount=1)])
    assert one.amount == 1 and type(one.amount) is Decimal
    with pytest.raises(MalformedFrame, match="requestedAmount"):
        parser.parse([order_json(requestedAmount=True, remainingAmount=1)])
    [again] = parser.parse([order_json(requestedAmount=1, remainingAmount=1)])
    assert again == one and again is not one


def test_parser_reads_json_numbers_exactly() -> None:
    # P-6: a float in a money field sends the whole item back to the record, as the stateless
    # parser does; the string-only orders of that item are still reused.
    parser = OpenOrdersParser(ACCOUNT)
    a = order_json(orderId="A")
    [a1] = parser.parse(item_record([a]))
    record = json.dumps({"type": 2, "invocationId": "0", "item": [
        a, order_json(orderId="N", requestedPrice="@@")]}).replace('"@@"', "0.90000000000000000001")
    msg = parse_message(record)
    assert isinstance(msg, StreamItem)
    a2, n = parser.parse(msg)
    assert a2 is a1
    assert n.price == Decimal("0.90000000000000000001")
    assert (a2, n) == parse_open_orders(msg, ACCOUNT)
    [p] = parser.parse([order_json(requestedPrice=0.1)])  # no record: the float's repr
    assert p.price == Decimal("0.1")


def test_parser_malformed_item_raises_and_keeps_what_it_knew() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    [a] = parser.parse([order_json(orderId="A")])
    for bad in ([order_json(orderId="A"), order_json(side="Long")], [order_json(), None],
                [order_json(), {"orderId": ["x"]}], {"item": 5}, "x"):
        with pytest.raises(MalformedFrame):
            parser.parse(bad)
    assert len(parser) == 1
    assert parser.parse([order_json(orderId="A")])[0] is a


def test_parser_refuses_mappings_that_are_not_plain_objects() -> None:
    # A dict subclass compares equal to a kept dict, but no JSON parser makes one and the
    # stateless parser refuses it: so does the parser, even when it knows an equal order.
    parser = OpenOrdersParser(ACCOUNT)
    parser.parse([order_json()])
    with pytest.raises(MalformedFrame, match="not an object"):
        parse_open_orders([OrderedDict(order_json())], ACCOUNT)
    with pytest.raises(MalformedFrame, match="not an object"):
        parser.parse([OrderedDict(order_json())])


def test_parser_copies_what_it_remembers() -> None:
    # A caller changing the object it passed cannot make the parser serve a stale order.
    parser = OpenOrdersParser(ACCOUNT)
    item = order_json()
    [before] = parser.parse([item])
    item["remainingAmount"] = "4000"
    [after] = parser.parse([item])
    assert before.remaining == 10000 and after.remaining == 4000
    assert after.status is OrderStatus.PARTIALLY_FILLED


def test_parser_survives_deeply_nested_fields_it_never_reads() -> None:
    # orjson reads up to 1024 levels; comparing two such values (not the same object) with the
    # remembered one overflows Python's recursion limit: parse without reuse instead.
    def deep() -> Any:
        value: Any = "x"
        for _ in range(1020):
            value = [value]
        return value

    parser = OpenOrdersParser(ACCOUNT)
    assert parser.parse([order_json(takeProfit=deep())]) == (EXPECTED,)
    assert len(parser) == 1
    assert parser.parse([order_json(takeProfit=deep())]) == (EXPECTED,)
    assert len(parser) == 0  # that item was parsed without the memory


def test_parser_duplicate_ids_wrapped_items_and_reset() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    sell = order_json(side="Sell")
    both = parser.parse({"item": [order_json(), sell]})
    assert [o.side for o in both] == [Side.BUY, Side.SELL]
    assert len(parser) == 1  # kept by orderId: the last of the duplicates
    again = parser.parse([sell, order_json()])  # swapped: the kept one is found by id
    assert again == (both[1], both[0])
    assert again[0] is both[1]
    parser.reset()
    assert len(parser) == 0
    assert parser.parse([order_json()]) == (EXPECTED,)


def test_parser_refuses_another_venue() -> None:
    with pytest.raises(ValueError):
        OpenOrdersParser(AccountKey("bybit", "x"))


# -- StreamParser: one login's hub connection, frames in, events out ----------------------------
LOGIN = AccountKey("b2trader", "broker-main")
NETTING = AccountKey("b2trader", "broker-main/B2TRADER Netting account")
KEYS = {"685a": ACCOUNT, "6891": NETTING}


def hub(*, delta: bool = False) -> StreamParser:
    """A connected parser past the handshake, both trading accounts subscribed ("0", "1")."""
    parser = StreamParser(LOGIN, delta=delta)
    parser.use_accounts(KEYS)
    parser.start()
    assert parser.subscribe("685a") == open_orders_subscription("0", "685a")
    assert parser.subscribe("6891") == open_orders_subscription("1", "6891")
    parser.feed("{}\x1e")
    assert parser.next_event() == HandshakeResponse()
    assert parser.handshake == HandshakeResponse()
    return parser


def item(invocation: str, *orders: dict[str, Any]) -> str:
    return json.dumps({"type": 2, "invocationId": invocation, "item": list(orders)}) + "\x1e"


def events(parser: StreamParser) -> list[Any]:
    out = []
    while (event := parser.next_event()) is not None:
        out.append(event)
    return out


def listed(parser: StreamParser, *orders: dict[str, Any]) -> None:
    """Both accounts' first lists read ("685a" lists ``orders``, "6891" nothing)."""
    parser.feed(item("0", *orders) + item("1"))
    firsts = events(parser)
    assert [(type(e), e.trading_id, e.first, e.complete) for e in firsts] == [
        (OrderList, "685a", True, True), (OrderList, "6891", True, True)
    ]
    assert parser.all_listed


def test_first_lists_are_read_at_once_then_only_the_newest_list_is_read() -> None:
    parser = hub()
    assert not parser.all_listed
    a, b = order_json(orderId="A"), order_json(orderId="B")
    # The first list of each subscription is the venue's truth of that moment: each is read
    # as it comes, never folded into a later one.
    parser.feed(item("0", a) + item("0", a, b))
    first, waiting = events(parser)
    assert (first.account, first.complete, first.first) == (ACCOUNT, True, True)
    assert [o.order_id for o in first.orders] == ["A"]
    assert waiting == ListWaiting("685a")
    second = parser.take_list("685a")
    assert second is not None and (second.complete, second.first) == (True, False)
    assert [o.order_id for o in second.orders] == ["A", "B"]
    assert not parser.all_listed
    parser.feed(item("1", b))
    (netting,) = events(parser)
    assert netting.first and netting.orders[0].account_key == NETTING
    assert parser.all_listed
    # Then three lists of one account back to back, one of the other: one wait each.
    parser.feed(item("0", a) + item("0", a, b) + item("1", b))
    parser.feed(item("0", b))
    assert events(parser) == [ListWaiting("685a"), ListWaiting("6891")]
    main = parser.take_list("685a")
    assert main is not None
    assert (main.complete, main.first) == (True, False)
    assert [o.order_id for o in main.orders] == ["B"]  # the newest list, not the first
    assert parser.take_list("685a") is None  # read once
    assert parser.take_list("6891") is not None


def test_a_check_asks_again_without_a_gap_and_the_old_stream_counts_until_then() -> None:
    parser = hub()
    a, b = order_json(orderId="A"), order_json(orderId="B")
    listed(parser, a)
    parser.feed(item("0", a, b))
    assert events(parser) == [ListWaiting("685a")]  # waits: not read yet
    assert parser.resubscribe("685a") == [
        open_orders_subscription("2", "685a"), '{"type":5,"invocationId":"0"}\x1e'
    ]
    assert parser.all_listed  # the old stream still vouches for the account
    # The old stream's last list (sent before the hub took the new subscription), then the
    # new first list: read in that order, the waiting one before both.
    parser.feed(item("0", b) + item("2", b) + item("0", a))
    lists = events(parser)
    assert [(e.first, [o.order_id for o in e.orders]) for e in lists] == [
        (False, ["A", "B"]), (False, ["B"]), (True, ["B"])
    ]
    assert parser.take_list("685a") is None
    # The old stream said its last word: its later items and its end are no news.
    parser.feed('{"type":3,"invocationId":"0"}\x1e' + item("2", a))
    assert events(parser) == [ListWaiting("685a")]
    assert parser.subscribed("685a") and parser.all_listed


def test_checks_that_overlap_each_get_a_list_asked_for_no_earlier_than_they_asked() -> None:
    parser = hub()
    listed(parser, order_json(orderId="A"))
    parser.resubscribe("685a")  # "2"
    parser.resubscribe("685a")  # "3": "0" and "2" retire
    assert parser.newest("685a") == "3"
    parser.feed(item("2", order_json(orderId="B")))  # the first list of "2"
    (second,) = events(parser)
    assert (second.first, second.invocation) == (True, "2")
    # "2" still counts, read as it comes (a first list is still due); "0" is older than the
    # list "2" gave, so it says nothing more
    parser.feed(item("2") + item("0", order_json(orderId="C")))
    assert [(e.invocation, e.first) for e in events(parser)] == [("2", False)]
    parser.feed(item("3") + item("2", order_json(orderId="D")) + item("0"))
    (third,) = events(parser)
    assert (third.first, third.invocation, third.orders) == (True, "3", ())
    assert parser.newest("685a") == "3" and parser.all_listed  # "0" and "2" are no news


def test_delta_streams_read_every_item_at_once_and_count_every_change_after_the_first() -> None:
    parser = hub(delta=True)
    # the first list and the changes after it, in one frame: nothing waits
    parser.feed(item("0", order_json(orderId="A")) + item("0", order_json(
        orderId="A", status="Cancelled")) + item("0"))
    first, *changes = events(parser)
    assert (first.complete, first.first) == (True, True)
    assert [(type(e), e.complete, len(e.orders)) for e in changes] == [
        (OrderList, False, 1), (OrderList, False, 0)
    ]
    assert changes[0].orders[0].status is OrderStatus.CANCELLED


def read(parser: StreamParser, trading_id: str = "685a") -> list[str]:
    """The ids the account's next complete list shows open."""
    assert events(parser) == [ListWaiting(trading_id)]
    listed = parser.take_list(trading_id)
    assert listed is not None
    return [o.order_id for o in listed.orders if o.status.is_open]


def test_a_list_sent_before_a_cancel_was_answered_does_not_bring_the_row_back() -> None:
    # The hub sends a list after every change; when a DELETE's 200 (Cancelled) is read before
    # a list the hub sent earlier, that list still shows the order open. It is not.
    parser = hub()
    a, b = order_json(orderId="A"), order_json(orderId="B")
    listed(parser, a, b)
    parser.closed("685a", "A")  # the cancel's answer: Cancelled
    parser.feed(item("0", a, b))  # sent before the cancel took effect
    assert read(parser) == ["B"]
    parser.feed(item("0", b))  # the hub caught up: A is forgotten
    assert read(parser) == ["B"]
    parser.feed(item("0", a, b))  # from now on a listed A is the venue's word again
    assert read(parser) == ["A", "B"]


def test_a_confirmed_cancel_is_kept_per_account_and_forgotten_on_a_new_connection() -> None:
    parser = hub()
    a = order_json(orderId="A")
    parser.feed(item("0", a) + item("1", a))
    assert len(events(parser)) == 2
    parser.closed("685a", "A")
    parser.feed(item("1", a))
    assert read(parser, "6891") == ["A"]  # another trading account's A is another order
    parser.start()  # reconnected: the new lists are the venue's truth of now
    assert parser.subscribe("685a") == open_orders_subscription("0", "685a")
    parser.feed("{}\x1e" + item("0", a))
    assert parser.next_event() == HandshakeResponse()
    (first,) = events(parser)
    assert first.first and [o.order_id for o in first.orders] == ["A"]


def test_a_change_from_before_a_confirmed_cancel_does_not_reopen_the_order() -> None:
    parser = hub(delta=True)
    listed(parser, order_json(orderId="A"))
    parser.closed("685a", "A")
    parser.feed(item("0", order_json(orderId="A", filledQuantity="0.001")))  # an older change
    (change,) = events(parser)
    assert change.orders == ()
    parser.feed(item("0", order_json(orderId="A", status="Cancelled")))  # the stream catches up
    (closing,) = events(parser)
    assert [o.status for o in closing.orders] == [OrderStatus.CANCELLED]


def test_an_ended_stream_is_reported_and_waits_for_a_first_list_again() -> None:
    parser = hub()
    listed(parser)
    parser.feed('{"type":3,"invocationId":"1","error":"Stream failed: boom"}\x1e')
    assert events(parser) == [StreamEnded("6891", NETTING.account, "Stream failed: boom")]
    assert not parser.subscribed("6891") and not parser.all_listed
    parser.feed(item("1", order_json()))  # the ended stream's late item: ignored
    assert events(parser) == []
    assert parser.subscribe("6891") == open_orders_subscription("2", "6891")
    parser.feed(item("2", order_json()))
    (first,) = events(parser)
    assert first.first and first.trading_id == "6891" and parser.all_listed


def test_an_unsubscribed_stream_is_silent_and_its_end_is_no_news() -> None:
    parser = hub()
    assert parser.unsubscribe("685a") == ['{"type":5,"invocationId":"0"}\x1e']
    assert parser.unsubscribe("685a") == []
    parser.feed(item("0", order_json()) + '{"type":3,"invocationId":"0"}\x1e{"type":6}\x1e')
    assert events(parser) == []
    assert parser.subscribed("6891") and not parser.subscribed("685a")


def test_the_hub_closing_says_why_and_whether_the_token_was_refused() -> None:
    parser = hub()
    parser.feed('{"type":7,"error":"Unauthorized: the access token has expired.",'
                '"allowReconnect":true}\x1e{"type":7}\x1e')
    expired, bare = events(parser)
    assert expired == HubClosed("Unauthorized: the access token has expired.", True)
    assert expired.token_refused
    assert expired.reason == (
        "the account hub closed the connection: Unauthorized: the access token has expired."
    )
    assert not bare.token_refused and not bare.allow_reconnect
    assert bare.reason == "the account hub closed the connection: no reason given"


def test_a_bad_record_costs_only_itself() -> None:
    parser = hub()
    listed(parser)
    parser.feed('{"type":2,"invocationId":\x1e' + item("0", order_json()))
    with pytest.raises(MalformedRecord):
        parser.next_event()
    assert events(parser) == [ListWaiting("685a")]
    with pytest.raises(RecordTooLarge):
        StreamParser(LOGIN, max_partial=8).feed("x" * 10)


# -- a list with unreadable orders: the readable ones count, the list is not complete ----------
def test_a_list_with_an_unreadable_order_is_not_complete_and_keeps_the_readable_ones() -> None:
    parser = hub()
    good, other = order_json(orderId="A"), order_json(orderId="B")
    listed(parser, good, other)
    # B filled (gone from the list), next to an order that cannot be read
    parser.feed(item("0", order_json(orderId="A", remainingAmount="4000", status="Working"),
                     order_json(orderId="C", side="Long")))
    assert events(parser) == [ListWaiting("685a")]
    partial = parser.take_list("685a")
    assert partial is not None
    assert (partial.complete, partial.first) == (False, False)
    assert partial.unreadable == ("order 'C': side is not Buy/Sell: 'Long'",)
    assert not partial.due_first  # the stream going on, not the answer to a subscription
    assert [(o.order_id, o.remaining) for o in partial.orders] == [("A", Decimal(4000))]
    # an implausible record is unreadable too
    parser.feed(item("0", good, order_json(orderId="D", remainingAmount="20000")))
    events(parser)
    partial = parser.take_list("685a")
    assert partial is not None and not partial.complete
    assert partial.unreadable == (
        "order 'D': implausible order 'D': remaining 20000 is above the amount 10000",
    )
    # the next readable list is complete again
    parser.feed(item("0", good))
    assert read(parser) == ["A"]


def test_a_first_list_with_an_unreadable_order_leaves_the_account_waiting() -> None:
    parser = hub()
    parser.feed(item("0", order_json(orderId="A"), order_json(orderId="C", side="Long")))
    (partial,) = events(parser)
    assert (partial.complete, partial.first, len(partial.unreadable)) == (False, False, 1)
    assert partial.due_first  # the answer to the subscription: ask again
    assert not parser.all_listed  # no list of it has been read whole yet
    parser.feed(item("0", order_json(orderId="A")))
    (first,) = events(parser)
    assert first.first and first.complete


def test_a_delta_streams_unreadable_first_list_mutes_it_until_asked_again() -> None:
    parser = hub(delta=True)
    parser.feed(item("0", order_json(side="Long")))
    (partial,) = events(parser)
    assert partial.unreadable == (
        "order '01JVQBFSTVC40VK03A0AY7K016': side is not Buy/Sell: 'Long'",
    )
    assert partial.orders == () and not partial.first and not partial.complete
    assert not parser.all_listed  # still waiting for a readable first list
    # its changes would build on a list never read: they are not taken as a first list
    parser.feed(item("0", order_json()))
    assert events(parser) == []
    records = parser.resubscribe("685a")
    assert records[0] == open_orders_subscription("2", "685a")
    parser.feed(item("2", order_json()))
    (first,) = events(parser)
    assert first.orders == (EXPECTED,) and first.first and first.complete
    # a first list that is no list at all says so whole, and mutes its stream the same way
    parser.feed(item("1"))
    assert events(parser)[0].first
    assert parser.resubscribe("6891")[0] == open_orders_subscription("3", "6891")
    parser.feed('{"type":2,"invocationId":"3","item":7}\x1e')
    with pytest.raises(UnreadableList, match="not an array") as caught:
        events(parser)
    assert (caught.value.trading_id, caught.value.account) == ("6891", NETTING)
    assert caught.value.due_first
    assert isinstance(caught.value, MalformedFrame)
    parser.feed(item("3"))
    assert events(parser) == []


def test_a_delta_change_with_an_unreadable_order_applies_the_readable_ones() -> None:
    parser = hub(delta=True)
    listed(parser, order_json(orderId="X"), order_json(orderId="Y"))
    parser.feed(item("0", order_json(orderId="X", status="Completed", remainingAmount="0"),
                     order_json(orderId="Y", status="Working", requestedPrice="-1")))
    (change,) = events(parser)
    assert [(o.order_id, o.status) for o in change.orders] == [("X", OrderStatus.FILLED)]
    assert change.unreadable == (
        "order 'Y': implausible order 'Y': price -1 is not a positive number",
    )
    parser.feed(item("0", order_json(orderId="Y", status="Working")))  # the stream goes on
    (later,) = events(parser)
    assert [o.order_id for o in later.orders] == ["Y"] and not later.unreadable


def test_a_list_that_is_not_a_list_is_unreadable_whole() -> None:
    parser = hub()
    listed(parser)
    parser.feed('{"type":2,"invocationId":"0","item":{"orders":[]}}\x1e')
    assert events(parser) == [ListWaiting("685a")]
    with pytest.raises(UnreadableList, match="not an array"):
        parser.take_list("685a")


def test_a_new_connection_starts_over_and_refuses_another_venue() -> None:
    parser = hub()
    listed(parser, order_json())
    parser.feed(item("0", order_json()))
    events(parser)
    parser.use_accounts({"6891": NETTING})  # a trading account went away
    parser.start()
    assert parser.handshake is None and not parser.subscribed("685a")
    assert parser.take_list("685a") is None  # the old connection's list is gone
    assert parser.subscribe("6891") == open_orders_subscription("0", "6891")  # ids from 0
    with pytest.raises(ValueError):
        StreamParser(AccountKey("bybit", "x"))


# -- the record's text: orders read from a compact record, as the hub sends it ------------------
def compact(orders: list[Any], binary: bool = False) -> StreamItem:
    text = json.dumps({"type": 2, "invocationId": "0", "item": orders}, separators=(",", ":"))
    msg = parse_message(text.encode() if binary else text)
    assert isinstance(msg, StreamItem)
    return msg


@pytest.mark.parametrize("binary", [False, True])
def test_orders_of_a_compact_record_are_reused_from_their_text(binary: bool) -> None:
    parser = OpenOrdersParser(ACCOUNT)
    a, b, c, d = (order_json(orderId=i) for i in "ABCD")
    first = parser.parse(compact([a, b, c, d], binary))
    assert len(parser) == 4
    b_filled = {**b, "status": "Working", "remainingAmount": "2500"}
    e = order_json(orderId="E")
    # B filled in part, C left, E came in at the front, D and A swapped places
    lists = [[a, b_filled, c, d], [a, b_filled, d], [e, d, b_filled, a]]
    for orders in lists:
        got = parser.parse(compact(orders, binary))
        assert got == parse_open_orders(orders, ACCOUNT)
    assert got[3] is first[0] and got[1] is first[3]  # unchanged orders: the same objects
    assert got[2].remaining == Decimal(2500) and got[2] is not first[1]
    assert len(parser) == 4
    # equal texts are equal orders, JSON numbers and all (``==`` on the decoded objects would
    # take 1.0 or True for 1, so that way numbers are never reused)
    n = order_json(orderId="N", requestedAmount=5, remainingAmount=5)
    [n1] = parser.parse(compact([n], binary))
    [n2] = parser.parse(compact([n], binary))
    assert n2 is n1 and n1.amount == Decimal(5)


def test_a_text_that_is_no_order_on_its_own_is_read_from_the_decoded_item() -> None:
    # "},{" inside a string or between the objects of a nested array cuts an order in two:
    # the pieces are not objects on their own, so the item is read the other way, rightly
    parser = OpenOrdersParser(ACCOUNT)
    tricky = [order_json(orderId="A", rejectDetails='x},{"orderId":"B"'),
              order_json(orderId="C", takeProfit=[{"p": "1"}, {"q": "2"}])]
    for _ in range(2):
        got = parser.parse(compact(tricky))
        assert got == parse_open_orders(tricky, ACCOUNT)
        assert [o.order_id for o in got] == ["A", "C"]
        assert got[0].status_text == 'Pending · x},{"orderId":"B"'


def test_numbers_in_a_compact_record_read_exactly() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    text = json.dumps({"type": 2, "invocationId": "0", "item": [order_json(requestedPrice="@@")]},
                      separators=(",", ":")).replace('"@@"', "0.90000000000000000001")
    msg = parse_message(text)
    assert isinstance(msg, StreamItem)
    [order] = parser.parse(msg)
    assert order.price == Decimal("0.90000000000000000001")


def test_a_malformed_order_of_a_compact_record_says_what_is_wrong() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    parser.parse(compact([order_json(orderId="A")]))
    with pytest.raises(MalformedFrame, match="side"):
        parser.parse(compact([order_json(orderId="A"), order_json(orderId="B", side="Long")]))
    with pytest.raises(MalformedFrame, match="not JSON"):
        parser.parse(parse_message('{"type":2,"invocationId":"0","item":[{"orderId":]}'))
    assert parser.parse(compact([])) == ()


def test_a_list_of_the_hub_is_read_from_its_record_when_first_asked_for() -> None:
    # the next list replaces one not read yet: the one replaced is never decoded at all
    parser = StreamParser(AccountKey("b2trader", "broker-main"))
    parser.use_accounts({"main": ACCOUNT})
    parser.start()
    parser.subscribe("main")
    parser.feed("{}\x1e")
    assert isinstance(parser.next_event(), HandshakeResponse)
    first = json.dumps({"type": 2, "invocationId": "0", "item": [order_json(orderId="A")]},
                       separators=(",", ":"))
    parser.feed(first + "\x1e")
    event = parser.next_event()
    assert isinstance(event, OrderList) and event.first
    broken = '{"type":2,"invocationId":"0","item":[{"orderId":]}'  # never read: replaced
    parser.feed(broken + "\x1e" + first.replace('"A"', '"B"') + "\x1e")
    waiting = parser.next_event()
    assert isinstance(waiting, ListWaiting) and parser.next_event() is None
    taken = parser.take_list(waiting.trading_id)
    assert taken is not None and [o.order_id for o in taken.orders] == ["B"]
    parser.feed(broken + "\x1e")
    waiting = parser.next_event()
    assert isinstance(waiting, ListWaiting)
    with pytest.raises(UnreadableList, match="not JSON"):
        parser.take_list(waiting.trading_id)
