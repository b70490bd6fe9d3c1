"""The Bitfinex stream parser against the exact frames of the protocol notes (tests/fixtures/bitfinex).

Each expectation is spelled out field by field: the recorded frames are the parser's spec.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import orjson
import pytest

from blotter.core.order import (
    FAST_ORDER_BUILD,
    Closed,
    Order,
    OrderStatus,
    Side,
    Snapshot,
    Upsert,
)
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex import stream
from blotter.venues.bitfinex.replies import Notification
from blotter.venues.bitfinex.stream import (
    AuthReply,
    Heartbeat,
    Ignored,
    Info,
    Pong,
    StreamParser,
    VenueError,
    excerpt,
)
from tests.helpers import fixture_bytes
from tests.venues.bitfinex.samples import ACCOUNT, array, order, recorded, same

VENUE = "bitfinex"


@pytest.fixture
def parser() -> StreamParser:
    return StreamParser(ACCOUNT)


# -- order frames --------------------------------------------------------------------------------
def test_os_snapshot(parser: StreamParser) -> None:
    event = parser.parse(fixture_bytes(VENUE, "os_snapshot.json"))
    assert isinstance(event, Snapshot)
    assert event.account == ACCOUNT
    assert len(event.orders) == 1
    same(
        event.orders[0],
        order(
            order_id="34930659963",
            symbol="tETHUSD",
            side=Side.BUY,
            order_type="EXCHANGE LIMIT",
            amount=Decimal("0.201104"),
            remaining=Decimal("0.201104"),
            status=OrderStatus.OPEN,
            status_text="ACTIVE",
            price=Decimal(120),
            avg_price=None,  # PRICE_AVG 0: not filled yet
            client_id="1574955083558",
            client_id_date="2019-11-28",  # UTC day of MTS_CREATE 1574955083558
            created_ms=1574955083558,
            updated_ms=1574955083573,
        ),
    )


def test_on_partially_filled_at_birth(parser: StreamParser) -> None:
    event = parser.parse(fixture_bytes(VENUE, "on_partially_filled.json"))
    assert isinstance(event, Upsert)
    same(
        event.order,
        order(
            order_id="1151374313",
            symbol="tBTCUSD",
            side=Side.BUY,
            order_type="EXCHANGE LIMIT",
            amount=Decimal(1),
            remaining=Decimal("0.91"),
            status=OrderStatus.PARTIALLY_FILLED,
            status_text="PARTIALLY FILLED @ 16673.0(0.09)",
            price=Decimal(16680),
            avg_price=Decimal(16673),
            client_id="1545233699192",
            client_id_date="2018-12-19",
            created_ms=1545233698372,
            updated_ms=1545233698404,
        ),
    )
    assert event.order.filled == Decimal("0.09")


def test_oc_executed_is_filled(parser: StreamParser) -> None:
    event = parser.parse(fixture_bytes(VENUE, "oc_executed.json"))
    assert isinstance(event, Closed)
    same(
        event.order,
        order(
            order_id="1151374309",
            symbol="tBTCUSD",
            side=Side.SELL,  # AMOUNT_ORIG -1
            order_type="EXCHANGE MARKET",
            amount=Decimal(1),
            remaining=Decimal(0),
            status=OrderStatus.FILLED,
            status_text="EXECUTED @ 16571.0(-1.0)",
            price=Decimal(16571),
            avg_price=Decimal(16571),
            client_id="1545233252044",
            client_id_date="2018-12-19",
            created_ms=1545233251229,
            updated_ms=1545233251250,
        ),
    )


def test_oc_cancelled_from_the_cancel_docs(parser: StreamParser) -> None:
    event = parser.parse(fixture_bytes(VENUE, "oc_cancelled.json"))
    assert isinstance(event, Closed)
    same(
        event.order,
        order(
            order_id="1185815100",
            symbol="tETHUSD",
            side=Side.SELL,
            order_type="LIMIT",
            amount=Decimal(3),
            remaining=Decimal(3),
            status=OrderStatus.CANCELLED,
            status_text="CANCELED",
            price=Decimal(240),
            client_id="1575289350475",
            client_id_date="2019-12-02",
            created_ms=1575289351944,
            updated_ms=1575291219663,
        ),
    )



# -- notifications -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["n_oc_req_success.json", "n_oc_multi_req.json",
                                  "n_error_not_found.json"])
def test_n_frames_are_the_notifications_they_carry(parser: StreamParser, name: str) -> None:
    event = parser.parse(fixture_bytes(VENUE, name))
    assert isinstance(event, Notification)
    assert event == recorded(name)


# -- control events ------------------------------------------------------------------------------
def test_info(parser: StreamParser) -> None:
    assert parser.parse(fixture_bytes(VENUE, "info.json")) == Info(
        version=2, code=None, msg="", platform_status=1
    )


def test_info_20051(parser: StreamParser) -> None:
    assert parser.parse(fixture_bytes(VENUE, "info_20051.json")) == Info(
        version=None, code=20051, msg="Stopping. Please try to reconnect", platform_status=None
    )


def test_auth_ok(parser: StreamParser) -> None:
    assert parser.parse(fixture_bytes(VENUE, "auth_ok.json")) == AuthReply(
        ok=True, code=None, msg="", user_id=2909250
    )


@pytest.mark.parametrize(
    ("name", "code", "msg"),
    [("auth_failed_apikey.json", 10100, "apikey: invalid"),
     ("auth_failed_nonce.json", 10114, "nonce: small")],
)
def test_auth_failed(parser: StreamParser, name: str, code: int, msg: str) -> None:
    assert parser.parse(fixture_bytes(VENUE, name)) == AuthReply(ok=False, code=code, msg=msg, user_id=None)


def test_error_event(parser: StreamParser) -> None:
    event = parser.parse(fixture_bytes(VENUE, "error_auth_invalid.json"))
    assert event == VenueError(code=10100, msg="auth: invalid")


def test_heartbeat_pong_and_ignored(parser: StreamParser) -> None:
    assert parser.parse(b'[0,"hb"]') == Heartbeat(0)
    assert parser.parse(b'[17,"hb"]') == Heartbeat(0)
    assert parser.parse(b'{"event":"pong","ts":1511545528111,"cid":1234}') == Pong(
        1234, 1511545528111
    )
    assert parser.parse(b'[0,"ps",[]]') == Ignored("ps")
    assert parser.parse(b'[0,"fos",[]]') == Ignored("fos")
    assert parser.parse(b'{"event":"conf","status":"OK","flags":0}') == Ignored("conf")



# -- malformed input -----------------------------------------------------------------------------
def test_longer_arrays_are_fine_and_shorter_are_malformed(parser: StreamParser) -> None:
    event = parser.parse_message([0, "ou", [*array(), "extra", 1, {"new": True}]])
    assert isinstance(event, Upsert)
    assert event.order.order_id == "42"
    with pytest.raises(MalformedFrame):
        parser.parse_message([0, "ou", array()[:26]])  # a 2017-era 26-field order


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b"[0]",
        b"[0,\"ou\"]",
        b"[0,\"ou\",null]",
        b"[0,\"ou\",[1,2,3]]",
        b"[\"x\",\"hb\"]",
        b"{}",
        b"{\"event\":7}",
        b"{\"event\":\"info\"}",
        b"{\"event\":\"auth\"}",
        b"42",
        b"\"text\"",
        b"[0,\"os\",{}]",
        b"[0,\"n\",[1,2]]",
    ],
)
def test_garbage_is_malformed(parser: StreamParser, raw: bytes) -> None:
    with pytest.raises(MalformedFrame):
        parser.parse(raw)



def test_a_snapshot_with_one_bad_order_is_rejected_whole(parser: StreamParser) -> None:
    # Dropping the bad one would hide a live order; the client keeps the rows it has instead.
    with pytest.raises(MalformedFrame):
        parser.parse_message([0, "os", [array(), array(id="x")]])


def test_fast_build_equals_the_constructor(parser: StreamParser) -> None:
    assert FAST_ORDER_BUILD
    event = parser.parse(fixture_bytes(VENUE, "on_partially_filled.json"))
    assert isinstance(event, Upsert)
    o = event.order
    rebuilt = Order(**{f.name: getattr(o, f.name) for f in dataclasses.fields(Order)})
    assert type(o) is Order
    assert o == rebuilt and hash(o) == hash(rebuilt) and repr(o) == repr(rebuilt)
    with pytest.raises(AttributeError):
        o.symbol = "x"  # type: ignore[misc]  # still frozen



def test_excerpts_for_the_log_are_short() -> None:
    assert excerpt(b'[0,"hb"]') == "'[0,\"hb\"]'"
    long = excerpt("x" * 500)
    assert long == repr("x" * 120) + "…"


# -- the known-order fast path -----------------------------------------------------------------
def test_an_update_of_a_known_order_reuses_its_fixed_fields(parser: StreamParser) -> None:
    first = parser.parse_stream(orjson.dumps([0, "on", array(cid=7, gid=3)]))
    second = parser.parse_stream(orjson.dumps([0, "ou", array(cid=7, gid=3, amount=0.5,
                                                              status="PARTIALLY FILLED")]))
    assert type(first) is Order and type(second) is Order
    assert second.key is first.key and second.client_id is first.client_id
    assert (second.remaining, second.status) == (Decimal("0.5"), OrderStatus.PARTIALLY_FILLED)
    assert second.client_id_date == "2023-11-14" and second.group_id == "3"



def test_a_closed_order_is_forgotten(parser: StreamParser) -> None:
    parser.parse_message([0, "on", array()])
    assert parser.orders.knows(42)
    closed = parser.parse_message([0, "oc", array(status="CANCELED")])
    assert isinstance(closed, Closed) and closed.order.status is OrderStatus.CANCELLED
    assert not parser.orders.knows(42)


def test_an_order_not_seen_for_long_is_read_in_full_again_and_reads_the_same() -> None:
    # the parser remembers the orders seen lately, not every open order: one that many others
    # pushed out of its memory is read in full at its next update, to the same Order
    parser = StreamParser(ACCOUNT, recent_orders=4)
    first = parser.parse_stream(orjson.dumps([0, "on", array(cid=7, gid=3)]))
    for oid in range(100, 110):
        parser.parse_stream(orjson.dumps([0, "on", array(id=oid)]))
    assert not parser.orders.knows(42)
    again = parser.parse_stream(orjson.dumps([0, "ou", array(cid=7, gid=3, amount=0.5,
                                                             status="PARTIALLY FILLED")]))
    assert type(first) is Order and type(again) is Order
    assert again.fixed == first.fixed and again.fixed is not first.fixed
    assert (again.remaining, again.status) == (Decimal("0.5"), OrderStatus.PARTIALLY_FILLED)
    assert parser.orders.knows(42)
    # one seen within the last generation is recalled, not read again
    recalled = parser.parse_stream(orjson.dumps([0, "ou", array(id=108, amount=0.25)]))
    assert type(recalled) is Order and parser.orders.knows(108)




@pytest.mark.parametrize("name", ["on_partially_filled.json", "oc_cancelled.json",
                                  "oc_executed.json"])
def test_recorded_order_frames_are_read_by_the_typed_decode(name: str) -> None:
    # the venue's own on/ou/oc frames decode straight into an OrderArray (the hot path), to
    # the event the general reading makes of them
    frame = fixture_bytes(VENUE, name)
    framed = stream._order_frame(frame)
    assert framed.kind == orjson.loads(frame)[1]
    general = StreamParser(ACCOUNT).parse_message(orjson.loads(frame))
    assert StreamParser(ACCOUNT).parse(frame) == general
