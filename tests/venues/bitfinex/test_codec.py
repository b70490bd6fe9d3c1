"""The Bitfinex codec against the exact frames of the protocol notes (tests/fixtures/bitfinex).

Each expectation is spelled out field by field: the recorded frames are the parser's spec.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from blotter.core.notices import Level
from blotter.core.order import (
    FAST_ORDER_BUILD,
    AccountKey,
    Closed,
    Flag,
    Order,
    OrderStatus,
    Side,
    Snapshot,
    Upsert,
)
from blotter.venues.bitfinex import codec
from blotter.venues.bitfinex.codec import (
    AuthReply,
    FrameParser,
    Heartbeat,
    Ignored,
    Info,
    MalformedFrame,
    Notification,
    Pong,
    VenueError,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitfinex"
ACCOUNT = AccountKey("bitfinex", "main")


def frame(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def parser() -> FrameParser:
    return FrameParser(ACCOUNT)


def order(**fields: object) -> Order:
    base: dict[str, object] = {
        "venue": "bitfinex",
        "account": "main",
        "price": None,
        "avg_price": None,
        "client_id": None,
        "client_id_date": None,
        "group_id": None,
        "flags": frozenset(),
    }
    base.update(fields)
    return Order(**base)  # type: ignore[arg-type]


def same(a: Order, b: Order) -> None:
    """Field by field, with the exact Decimal text (so 16673.0 and 16673 are told apart)."""
    for name in Order.__slots__:
        x, y = getattr(a, name), getattr(b, name)
        assert x == y, f"{name}: {x!r} != {y!r}"
        if isinstance(x, Decimal):
            assert str(x) == str(y), f"{name}: {x} != {y} (decimal text)"
    assert a == b


# -- order frames --------------------------------------------------------------------------------
def test_os_snapshot(parser: FrameParser) -> None:
    event = parser.parse(frame("os_snapshot.json"))
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


def test_on_partially_filled_at_birth(parser: FrameParser) -> None:
    event = parser.parse(frame("on_partially_filled.json"))
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


def test_oc_executed_is_filled(parser: FrameParser) -> None:
    event = parser.parse(frame("oc_executed.json"))
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


def test_oc_cancelled_from_the_cancel_docs(parser: FrameParser) -> None:
    event = parser.parse(frame("oc_cancelled.json"))
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


def test_rest_open_orders(parser: FrameParser) -> None:
    orders = parser.parse_orders(orjson.loads(frame("rest_r_orders.json")))
    assert len(orders) == 1
    same(
        orders[0],
        order(
            order_id="95408916206",
            symbol="tDOGE:UST",
            side=Side.SELL,
            order_type="EXCHANGE LIMIT",
            amount=Decimal(10),
            remaining=Decimal(10),
            status=OrderStatus.OPEN,
            status_text="ACTIVE",
            price=Decimal("0.11"),
            client_id="1653322349926",
            client_id_date="2022-05-23",
            created_ms=1653322349926,
            updated_ms=1653322349927,
        ),
    )


# -- notifications -------------------------------------------------------------------------------
def test_n_oc_req_success_from_the_cancel_docs(parser: FrameParser) -> None:
    event = parser.parse(frame("n_oc_req_success.json"))
    assert isinstance(event, Notification)
    assert event.kind == "oc-req"
    assert event.status == "SUCCESS"
    assert event.ok
    assert event.text == "Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    assert event.code is None
    assert event.mts == 1575291219660
    assert event.order_ids == ("1185815100",)
    assert len(event.orders) == 1
    acked = event.orders[0]
    assert acked.order_id == "1185815100"
    assert acked.status is OrderStatus.OPEN  # still ACTIVE: an ack is not a cancel
    assert acked.status_text == "ACTIVE"
    assert acked.side is Side.SELL
    assert acked.amount == Decimal(3)

    notice = codec.notification_notice(event, ACCOUNT, ts_ms=5)
    assert notice.venue == "bitfinex"
    assert notice.account == "main"
    assert notice.level is Level.SUCCESS
    assert notice.status == "SUCCESS"
    assert notice.text == "Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    assert notice.order_ids == ("1185815100",)
    assert notice.ts_ms == 5
    assert notice.line() == (
        "SUCCESS: Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    )


def test_n_oc_multi_req(parser: FrameParser) -> None:
    event = parser.parse(frame("n_oc_multi_req.json"))
    assert isinstance(event, Notification)
    assert event.kind == "oc_multi-req"
    assert event.status == "SUCCESS"
    assert event.text == "Submitting 2 order cancellations."
    assert event.order_ids == ("1187248974", "1187248975")
    assert [o.order_id for o in event.orders] == ["1187248974", "1187248975"]
    assert all(o.symbol == "tBTCUSD" and o.side is Side.BUY for o in event.orders)
    notice = codec.notification_notice(event, ACCOUNT)
    assert notice.line() == "SUCCESS: Submitting 2 order cancellations."
    assert notice.order_ids == ("1187248974", "1187248975")


def test_n_error_order_not_found(parser: FrameParser) -> None:
    event = parser.parse(frame("n_error_not_found.json"))
    assert isinstance(event, Notification)
    assert event.kind == "oc-req"
    assert event.status == "ERROR"
    assert not event.ok
    assert event.text == "Order not found."
    assert event.order_ids == ("1111",)  # the stub keeps the id at [0]
    assert event.orders == ()  # ... and nothing else
    notice = codec.notification_notice(event, ACCOUNT)
    assert notice.level is Level.ERROR
    assert notice.line() == "ERROR: Order not found."
    assert notice.order_ids == ("1111",)
    assert codec.is_not_found(event.text)


def test_rest_cancel_answers_are_bare_notifications(parser: FrameParser) -> None:
    one = parser.parse_notification(orjson.loads(frame("rest_cancel.json")))
    assert (one.kind, one.status, one.order_ids) == ("oc-req", "SUCCESS", ("1185815100",))
    assert one.text == "Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    many = parser.parse_notification(orjson.loads(frame("rest_cancel_multi.json")))
    assert many.kind == "oc_multi-req"
    assert many.order_ids == ("31123704044", "31123725368")
    assert [o.amount for o in many.orders] == [Decimal("0.001"), Decimal("0.001")]
    assert many.text == "Submitting 2 order cancellations."


def test_id_only_success_stub_gives_the_id() -> None:
    stub = [16662905539] + [None] * 31
    n = FrameParser(ACCOUNT).parse_notification(
        [1, "oc-req", None, None, stub, None, "SUCCESS", "Submitted for cancellation"]
    )
    assert n.order_ids == ("16662905539",)
    assert n.orders == ()


# -- control events ------------------------------------------------------------------------------
def test_info(parser: FrameParser) -> None:
    assert parser.parse(frame("info.json")) == Info(
        version=2, code=None, msg="", platform_status=1
    )


def test_info_20051(parser: FrameParser) -> None:
    assert parser.parse(frame("info_20051.json")) == Info(
        version=None, code=20051, msg="Stopping. Please try to reconnect", platform_status=None
    )


def test_auth_ok(parser: FrameParser) -> None:
    assert parser.parse(frame("auth_ok.json")) == AuthReply(
        ok=True, code=None, msg="", user_id=2909250
    )


@pytest.mark.parametrize(
    ("name", "code", "msg"),
    [("auth_failed_apikey.json", 10100, "apikey: invalid"),
     ("auth_failed_nonce.json", 10114, "nonce: small")],
)
def test_auth_failed(parser: FrameParser, name: str, code: int, msg: str) -> None:
    assert parser.parse(frame(name)) == AuthReply(ok=False, code=code, msg=msg, user_id=None)


def test_error_event(parser: FrameParser) -> None:
    event = parser.parse(frame("error_auth_invalid.json"))
    assert event == VenueError(code=10100, msg="auth: invalid")
    notice = codec.error_notice(10100, "auth: invalid", ACCOUNT)
    assert notice.level is Level.ERROR
    assert notice.text == "auth: invalid"
    assert notice.line() == "ERROR 10100: auth: invalid"


def test_heartbeat_pong_and_ignored(parser: FrameParser) -> None:
    assert parser.parse(b'[0,"hb"]') == Heartbeat(0)
    assert parser.parse(b'[17,"hb"]') == Heartbeat(0)
    assert parser.parse(b'{"event":"pong","ts":1511545528111,"cid":1234}') == Pong(
        1234, 1511545528111
    )
    assert parser.parse(b'[0,"ps",[]]') == Ignored("ps")
    assert parser.parse(b'[0,"fos",[]]') == Ignored("fos")
    assert parser.parse(b'{"event":"conf","status":"OK","flags":0}') == Ignored("conf")


def test_rest_error_body() -> None:
    err = codec.parse_rest_error(500, frame("rest_error_nonce.json"))
    assert (err.http_status, err.code, err.text) == (500, 10114, "nonce: small")
    limited = codec.parse_rest_error(429, b'{"error":"ERR_RATE_LIMIT"}')
    assert (limited.http_status, limited.code, limited.text) == (429, None, "ERR_RATE_LIMIT")
    assert codec.parse_rest_error(429, b"").text.startswith("ratelimit")


# -- normalisation rules -------------------------------------------------------------------------
def array(**over: object) -> list[object]:
    a: list[object] = [
        42, None, None, "tBTCUSD", 1700000000000, 1700000000001, 1.5, 1.5, "EXCHANGE LIMIT",
        None, None, None, 0, "ACTIVE", None, None, 100.5, 0, 0, 0, None, None, None, 0, 0,
        None, None, None, "API>BFX", None, None, None,
    ]
    index = {"id": 0, "gid": 1, "cid": 2, "symbol": 3, "created": 4, "amount": 6, "orig": 7,
             "flags": 12, "status": 13, "price": 16, "avg": 17, "hidden": 24}
    for name, value in over.items():
        a[index[name]] = value
    return a


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("EXECUTED @ 107.6(-0.2)", OrderStatus.FILLED),
        ("FORCED EXECUTED", OrderStatus.FILLED),
        ("EXECUTED @ 1.6518(1.0): was PARTIALLY FILLED @ 1.65(6.0)", OrderStatus.FILLED),
        ("EXECUTED @ 16000.0(0.5) was ACTIVE (note:POSCLOSE)", OrderStatus.FILLED),
        ("CANCELED", OrderStatus.CANCELLED),
        ("CANCELED was: PARTIALLY FILLED @ 16673.0(0.09)", OrderStatus.CANCELLED),
        ("POSTONLY CANCELED", OrderStatus.CANCELLED),
        ("IOC CANCELED", OrderStatus.CANCELLED),
        ("FILLORKILL CANCELED", OrderStatus.CANCELLED),
        ("INSUFFICIENT MARGIN was: PARTIALLY FILLED @ 1.0(1.0)", OrderStatus.CANCELLED),
        ("INSUFFICIENT BALANCE (G1)", OrderStatus.CANCELLED),
        ("RSN_DUST", OrderStatus.CANCELLED),
        ("RSN_DUST was: ACTIVE (note: POSCLOSE)", OrderStatus.CANCELLED),
        ("RSN_PAUSE", OrderStatus.CANCELLED),
        ("RSN_BOOK_SLIP was: PARTIALLY FILLED @ 1.0(1.0)", OrderStatus.CANCELLED),
        ("RSN_POS_REDUCE_FLIP", OrderStatus.REJECTED),
        ("RSN_POS_NOTFOUND", OrderStatus.REJECTED),
    ],
)
def test_closed_status_keeps_the_text(parser: FrameParser, status: str, expected: OrderStatus) -> None:
    event = parser.parse_message([0, "oc", array(status=status, amount=0.5)])
    assert isinstance(event, Closed)
    assert event.order.status is expected
    assert event.order.status_text == status


@pytest.mark.parametrize("status", ["ACTIVE", "RSN_PAUSE", "SOMETHING NEW"])
def test_open_frames_are_open_whatever_the_text(parser: FrameParser, status: str) -> None:
    for kind in ("on", "ou"):
        event = parser.parse_message([0, kind, array(status=status)])
        assert isinstance(event, Upsert)
        assert event.order.status is OrderStatus.OPEN
        assert event.order.status_text == status
    snap = parser.parse_message([0, "os", [array(status=status)]])
    assert isinstance(snap, Snapshot)
    assert snap.orders[0].status is OrderStatus.OPEN


def test_partial_fill_from_amounts(parser: FrameParser) -> None:
    event = parser.parse_message([0, "ou", array(amount=-0.5, orig=-2, status="ACTIVE")])
    assert isinstance(event, Upsert)
    assert event.order.status is OrderStatus.PARTIALLY_FILLED
    assert event.order.side is Side.SELL
    assert (event.order.amount, event.order.remaining) == (Decimal(2), Decimal("0.5"))


@pytest.mark.parametrize(
    ("bits", "hidden", "flags"),
    [
        (0, 0, frozenset()),
        (64, 0, {Flag.HIDDEN}),
        (0, 1, {Flag.HIDDEN}),
        (512, 0, {Flag.CLOSE}),
        (1024, 0, {Flag.REDUCE_ONLY}),
        (4096, 0, {Flag.POST_ONLY}),
        (16384, 0, {Flag.OCO}),
        (4160, 0, {Flag.HIDDEN, Flag.POST_ONLY}),
        (64 + 512 + 1024 + 4096 + 16384 + 524288, 0,
         {Flag.HIDDEN, Flag.CLOSE, Flag.REDUCE_ONLY, Flag.POST_ONLY, Flag.OCO}),
        (None, 0, frozenset()),
    ],
)
def test_flags(parser: FrameParser, bits: int | None, hidden: int, flags: set[Flag]) -> None:
    event = parser.parse_message([0, "on", array(flags=bits, hidden=hidden)])
    assert isinstance(event, Upsert)
    assert event.order.flags == frozenset(flags)


def test_ids_are_strings_and_cid_date_is_utc(parser: FrameParser) -> None:
    # 2024-02-29 23:59:59.999 UTC and the next millisecond
    for created, day in ((1709251199999, "2024-02-29"), (1709251200000, "2024-03-01")):
        event = parser.parse_message([0, "on", array(gid=7, cid=99, created=created)])
        assert isinstance(event, Upsert)
        o = event.order
        assert (o.order_id, o.group_id, o.client_id, o.client_id_date) == ("42", "7", "99", day)


@pytest.mark.parametrize("day", [0, 1, 59, 365, 10956, 19782, 20000, 47482])
def test_utc_date_matches_datetime(day: int) -> None:
    from datetime import UTC, datetime

    ms = day * 86_400_000 + 12345
    assert codec.utc_date_of_ms(ms) == datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def test_exact_decimals(parser: FrameParser) -> None:
    frame_ = (
        b'[0,"ou",[1,2,3,"tX",4,5,-0.00000001,-123456.12345678,"LIMIT",null,null,null,0,"ACTIVE",'
        b"null,null,0.1,0.30000000000000004,0,0,null,null,null,0,0,null,null,null,null,null,null,null]]"
    )
    event = parser.parse(frame_)
    assert isinstance(event, Upsert)
    o = event.order
    assert str(o.remaining) == "1E-8"
    assert o.remaining == Decimal("0.00000001")
    assert o.amount == Decimal("123456.12345678")
    assert str(o.price) == "0.1"
    assert o.avg_price == Decimal("0.30000000000000004")
    assert isinstance(o.amount, Decimal)


def test_longer_arrays_are_fine_and_shorter_are_malformed(parser: FrameParser) -> None:
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
def test_garbage_is_malformed(parser: FrameParser, raw: bytes) -> None:
    with pytest.raises(MalformedFrame):
        parser.parse(raw)


@pytest.mark.parametrize(
    "over",
    [
        {"id": "42"}, {"id": None}, {"id": 0}, {"symbol": None}, {"status": 5},
        {"amount": "1.5"}, {"orig": None}, {"price": "1"}, {"avg": [1]}, {"gid": "g"},
        {"cid": 1.5}, {"created": "x"}, {"flags": "x"}, {"orig": True},
    ],
)
def test_bad_fields_are_malformed(parser: FrameParser, over: dict[str, object]) -> None:
    with pytest.raises(MalformedFrame):
        parser.parse_message([0, "ou", array(**over)])


def test_a_snapshot_with_one_bad_order_is_rejected_whole(parser: FrameParser) -> None:
    # Dropping the bad one would hide a live order; the client keeps the rows it has instead.
    with pytest.raises(MalformedFrame):
        parser.parse_message([0, "os", [array(), array(id="x")]])


def test_fast_build_equals_the_constructor(parser: FrameParser) -> None:
    assert FAST_ORDER_BUILD
    event = parser.parse(frame("on_partially_filled.json"))
    assert isinstance(event, Upsert)
    o = event.order
    rebuilt = Order(**{name: getattr(o, name) for name in Order.__slots__})
    assert type(o) is Order
    assert o == rebuilt and hash(o) == hash(rebuilt) and repr(o) == repr(rebuilt)
    with pytest.raises(AttributeError):
        o.symbol = "x"  # type: ignore[misc]  # still frozen


# -- requests ------------------------------------------------------------------------------------
def test_cancel_inputs() -> None:
    assert codec.cancel_input(1185815100) == b'[0,"oc",null,{"id":1185815100}]'
    assert codec.cancel_cid_input(1575289350475, "2019-12-02") == (
        b'[0,"oc",null,{"cid":1575289350475,"cid_date":"2019-12-02"}]'
    )
    assert codec.cancel_multi_input({"id": [1, 2]}) == b'[0,"oc_multi",null,{"id":[1,2]}]'
    assert codec.cancel_multi_input({"gid": [11]}) == b'[0,"oc_multi",null,{"gid":[11]}]'
    assert codec.cancel_multi_input({"all": 1}) == b'[0,"oc_multi",null,{"all":1}]'
    assert codec.chunks(list(range(450))) == [
        list(range(200)), list(range(200, 400)), list(range(400, 450))
    ]


# -- the known-order fast path -----------------------------------------------------------------
def test_numbers_stay_exact_through_the_lazy_decimals(parser: FrameParser) -> None:
    event = parser.parse(orjson.dumps([0, "ou", array(amount=-0.1, orig=-0.3, price=16673,
                                                      avg=0.30000000000000004)]))
    assert isinstance(event, Upsert)
    o = event.order
    for value, text in ((o.amount, "0.3"), (o.remaining, "0.1"), (o.price, "16673"),
                        (o.avg_price, "0.30000000000000004"), (o.filled, "0.2")):
        assert type(value) is Decimal and str(value) == text
    assert o.side is Side.SELL
    assert o == order(order_id="42", symbol="tBTCUSD", side=Side.SELL,
                      order_type="EXCHANGE LIMIT", amount=Decimal("0.3"),
                      remaining=Decimal("0.1"), status=OrderStatus.PARTIALLY_FILLED,
                      status_text="ACTIVE", price=Decimal(16673),
                      avg_price=Decimal("0.30000000000000004"), created_ms=1700000000000,
                      updated_ms=1700000000001)


def test_an_update_of_a_known_order_reuses_its_fixed_fields(parser: FrameParser) -> None:
    first = parser.parse_stream(orjson.dumps([0, "on", array(cid=7, gid=3)]))
    second = parser.parse_stream(orjson.dumps([0, "ou", array(cid=7, gid=3, amount=0.5,
                                                              status="PARTIALLY FILLED")]))
    assert type(first) is Order and type(second) is Order
    assert second.key is first.key and second.client_id is first.client_id
    assert (second.remaining, second.status) == (Decimal("0.5"), OrderStatus.PARTIALLY_FILLED)
    assert second.client_id_date == "2023-11-14" and second.group_id == "3"


@pytest.mark.parametrize(
    "over",
    [{"gid": True}, {"gid": 1.0}, {"cid": 7.0}, {"created": 1700000000000.0}, {"flags": 0.0},
     {"flags": False}, {"orig": True}],
)
def test_a_known_order_with_a_field_of_the_wrong_type_is_still_malformed(
    parser: FrameParser, over: dict[str, object]
) -> None:
    good = {"gid": 1, "cid": 7, "orig": 1}  # values == 1.0 / True, of the right type
    parser.parse_message([0, "on", array(**good)])
    with pytest.raises(MalformedFrame):
        parser.parse_message([0, "ou", array(**{**good, **over})])


def test_a_changed_fixed_field_is_read_again(parser: FrameParser) -> None:
    parser.parse_message([0, "on", array(orig=1.5, flags=0)])
    event = parser.parse_message([0, "ou", array(orig=-2, amount=-2, flags=4096, hidden=1)])
    assert isinstance(event, Upsert)
    o = event.order
    assert (o.side, o.amount, o.flags) == (Side.SELL, Decimal(2), {Flag.POST_ONLY, Flag.HIDDEN})
    assert str(o.amount) == "2"


def test_a_closed_order_is_forgotten(parser: FrameParser) -> None:
    parser.parse_message([0, "on", array()])
    closed = parser.parse_message([0, "oc", array(status="CANCELED")])
    assert isinstance(closed, Closed) and closed.order.status is OrderStatus.CANCELLED
    assert 42 not in parser._known


def test_the_order_key_survives_a_copy() -> None:
    import copy

    o = order(order_id="5", symbol="tX", side=Side.BUY, order_type="LIMIT", amount=Decimal(1),
              remaining=Decimal(1), status=OrderStatus.OPEN, status_text="ACTIVE")
    c = copy.copy(o)
    assert c == o and c.key == o.key == ("bitfinex", "main", "5")
