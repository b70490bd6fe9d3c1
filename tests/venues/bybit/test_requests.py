"""Bybit requests: signing against every test vector of the protocol notes (§9), REST GET/POST
and WS auth; the request builders (§3); the cancel-all calls per category and scope (§3.4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from blotter.core.order import Order, OrderStatus, Side
from blotter.venues.bybit import requests
from blotter.venues.bybit.requests import BatchItem
from blotter.venues.bybit.spec import CATEGORIES, SETTLE_COINS

KEY = "key"
SECRET = "secret"
TS = 1700000000000

# (exact string signed, lowercase hex HMAC-SHA256) — /work/shared/venues/bybit.md §9
VECTORS = [
    (
        '1700000000000key5000{"category":"linear","symbol":"BTCUSDT","orderId":"abc"}',
        "6abbd46cbb93c45a96a20a387757245b5ba2a8b9502eb45811472b8676d35c72",
    ),
    (
        '1700000000000key5000{"category": "linear", "symbol": "BTCUSDT", "orderId": "abc"}',
        "30bc5f92b34d099e669d26709024fa0e89dbd5730e697a5412fdcc00cc4b608e",
    ),
    (
        "1700000000000key5000category=linear&symbol=BTCUSDT",
        "3906b813750309cce9879a975510651953382a28592d69104d0b599e3d201f40",
    ),
    (
        "1700000000000key5000category=linear&limit=50&settleCoin=USDT",
        "0d014db4b8cb8af3a44a56b26baa4e64fa9124f792a6e064bea8649e0ce63cc3",
    ),
    (
        "1700000000000key5000category=spot",
        "17c2acfe0756d6851d1c5926859c172d8922e199dc9ad0f0b47bce6e00fd1d5e",
    ),
    (
        (
            "1700000000000key5000category=linear&settleCoin=USDT&limit=50"
            "&cursor=page_args%3Dfd4300ae%26symbol%3D6%26"
        ),
        "c5300628bd0da07ed8d0cbfed5897ea50d5bc03927bb6e3c64d4bfcb56359648",
    ),
    (
        '1700000000000key5000{"category":"linear","settleCoin":"USDT"}',
        "d997a87882f15b4f6b61aff7c955ddee129cccea93e822e1f7a6b25f1afc144a",
    ),
    (
        '1700000000000key5000{"category":"spot","orderFilter":"StopOrder"}',
        "8e0a7358479201252dab798cb9cf56bbfe29df0bcabe1010794ff5d85ab773b2",
    ),
    (
        '1700000000000key5000{"category":"spot","request":[{"symbol":"BTCUSDT","orderId":"abc"}]}',
        "b560b9f88f856120097608068141e68fe6d11469d439cefcfcf4e1395f7a46da",
    ),
    (
        "GET/realtime1700000005000",
        "870a92b7592554e69a02b26e07d3cd0f25689e17ef588149eaf04b9c1358a6fa",
    ),
]


@pytest.mark.parametrize(("message", "expected"), VECTORS)
def test_sign_matches_every_vector(message: str, expected: str) -> None:
    assert requests.sign(SECRET, message) == expected
    assert requests.sign(SECRET, message.encode()) == expected


def test_signature_payload_is_ts_key_window_payload() -> None:
    assert (
        requests.signature_payload(TS, KEY, "category=spot")
        == b"1700000000000key5000category=spot"
    )
    assert requests.signature_payload(TS, KEY, b"{}", 10000) == b"1700000000000key10000{}"


def _headers_ok(headers: dict[str, str], sig: str) -> None:
    assert headers["X-BAPI-API-KEY"] == KEY
    assert headers["X-BAPI-TIMESTAMP"] == "1700000000000"
    assert headers["X-BAPI-RECV-WINDOW"] == "5000"
    assert headers["X-BAPI-SIGN"] == sig


def test_post_cancel_request_is_the_notes_example() -> None:
    # §1.4: the full request built from the §9 inputs
    body = requests.cancel_body("linear", "BTCUSDT", order_id="abc")
    req = requests.post_request(requests.PATH_CANCEL, body, KEY, SECRET, TS)
    assert req.method == "POST"
    assert req.path == "/v5/order/cancel"
    assert req.target == "/v5/order/cancel"
    assert req.query == ""
    assert req.body == b'{"category":"linear","symbol":"BTCUSDT","orderId":"abc"}'
    _headers_ok(req.headers, VECTORS[0][1])
    assert req.headers["Content-Type"] == "application/json"
    assert SECRET not in repr(req) and VECTORS[0][1] not in repr(req)


def test_post_signs_the_exact_bytes_given() -> None:
    raw = b'{"category": "linear", "symbol": "BTCUSDT", "orderId": "abc"}'
    req = requests.post_request(requests.PATH_CANCEL, raw, KEY, SECRET, TS)
    assert req.body == raw
    _headers_ok(req.headers, VECTORS[1][1])


@pytest.mark.parametrize(
    ("query", "sig"),
    [(VECTORS[i][0].removeprefix("1700000000000key5000"), VECTORS[i][1]) for i in (2, 3, 4, 5)],
)
def test_get_request_signs_the_query_as_sent(query: str, sig: str) -> None:
    req = requests.get_request(requests.PATH_OPEN_ORDERS, query, KEY, SECRET, TS)
    assert req.method == "GET"
    assert req.query == query
    assert req.body == b""
    assert req.target == f"/v5/order/realtime?{query}"
    _headers_ok(req.headers, sig)
    assert "Content-Type" not in req.headers


def test_open_orders_query_builders_reproduce_the_get_vectors() -> None:
    spot = requests.open_orders_query("spot", limit=50)
    assert spot == "category=spot&limit=50"
    q = requests.open_orders_query(
        "linear", settle_coin="USDT", cursor="page_args%3Dfd4300ae%26symbol%3D6%26"
    )
    assert q == "category=linear&settleCoin=USDT&limit=50&cursor=page_args%3Dfd4300ae%26symbol%3D6%26"
    req = requests.get_request(requests.PATH_OPEN_ORDERS, q, KEY, SECRET, TS)
    assert req.headers["X-BAPI-SIGN"] == VECTORS[5][1]


def test_post_builders_reproduce_the_post_vectors() -> None:
    cases = [
        (requests.cancel_all_body("linear", settle_coin="USDT"), VECTORS[6][1]),
        (requests.cancel_all_body("spot", order_filter="StopOrder"), VECTORS[7][1]),
        (
            requests.cancel_batch_bodies("spot", [requests.BatchItem("BTCUSDT", order_id="abc")])[0],
            VECTORS[8][1],
        ),
    ]
    for body, sig in cases:
        req = requests.post_request(requests.PATH_CANCEL_ALL, body, KEY, SECRET, TS)
        assert req.headers["X-BAPI-SIGN"] == sig


def test_recv_window_is_signed_and_sent() -> None:
    req = requests.post_request(requests.PATH_CANCEL, b"{}", KEY, SECRET, TS, recv_window=8000)
    assert req.headers["X-BAPI-RECV-WINDOW"] == "8000"
    assert req.headers["X-BAPI-SIGN"] == requests.sign(SECRET, "1700000000000key8000{}")
    assert req.headers["X-BAPI-SIGN"] != requests.sign(SECRET, "1700000000000key5000{}")


def test_ws_auth_frame_is_the_notes_frame() -> None:
    frame = requests.ws_auth_message(KEY, SECRET, 1700000005000)
    assert frame == (
        b'{"op":"auth","args":["key",1700000005000,'
        b'"870a92b7592554e69a02b26e07d3cd0f25689e17ef588149eaf04b9c1358a6fa"]}'
    )
    assert requests.ws_auth_signature(SECRET, 1700000005000) == VECTORS[9][1]


def test_ws_auth_with_req_id_and_other_frames() -> None:
    msg = orjson.loads(requests.ws_auth_message(KEY, SECRET, 1700000005000, req_id="a1"))
    assert msg == {"req_id": "a1", "op": "auth", "args": ["key", 1700000005000, VECTORS[9][1]]}
    assert orjson.loads(requests.ws_subscribe_message(req_id="sub-1")) == {
        "req_id": "sub-1",
        "op": "subscribe",
        "args": ["order"],
    }
    assert requests.ws_ping_message() == b'{"op":"ping"}'
    assert orjson.loads(requests.ws_ping_message("7")) == {"req_id": "7", "op": "ping"}


# -- request builders ---------------------------------------------------------------------------
def test_cancel_body() -> None:
    assert requests.cancel_body("linear", "BTCUSDT", order_id="c6f0") == {
        "category": "linear", "symbol": "BTCUSDT", "orderId": "c6f0"
    }
    assert requests.cancel_body("option", "BTC-29JUL22-25000-C", order_link_id="l1") == {
        "category": "option", "symbol": "BTC-29JUL22-25000-C", "orderLinkId": "l1"
    }
    assert requests.cancel_body("spot", "BTCUSDT", order_id="1", order_filter="StopOrder") == {
        "category": "spot", "symbol": "BTCUSDT", "orderId": "1", "orderFilter": "StopOrder"
    }
    for bad in (
        lambda: requests.cancel_body("linear", "BTCUSDT"),
        lambda: requests.cancel_body("linear", "", order_id="1"),
        lambda: requests.cancel_body("futures", "BTCUSDT", order_id="1"),
        lambda: requests.cancel_body("linear", "BTCUSDT", order_id="1", order_filter="StopOrder"),
    ):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize(("category", "n", "sizes"), [
    ("spot", 25, [10, 10, 5]), ("linear", 41, [20, 20, 1]), ("option", 20, [20]),
    ("inverse", 0, []),
])
def test_cancel_batch_chunks(category: str, n: int, sizes: list[int]) -> None:
    items = [BatchItem("BTCUSDT", order_id=str(i)) for i in range(n)]
    bodies = requests.cancel_batch_bodies(category, items)
    assert [len(b["request"]) for b in bodies] == sizes
    assert all(b["category"] == category for b in bodies)
    flat = [r["orderId"] for b in bodies for r in b["request"]]
    assert flat == [str(i) for i in range(n)]  # order kept, so retExtInfo aligns per chunk


def test_batch_item_by_link_id() -> None:
    assert BatchItem("ATOMUSDT", order_link_id="x").as_json() == {
        "symbol": "ATOMUSDT", "orderLinkId": "x"
    }
    with pytest.raises(ValueError):
        requests.cancel_batch_bodies("spot", [BatchItem("ATOMUSDT")])


def test_cancel_all_bodies_per_scope() -> None:
    assert requests.cancel_all_body("linear", settle_coin="USDT") == {
        "category": "linear", "settleCoin": "USDT"
    }
    assert requests.cancel_all_body("linear", symbol="BTCUSDT") == {
        "category": "linear", "symbol": "BTCUSDT"
    }
    assert requests.cancel_all_body("inverse", base_coin="BTC") == {
        "category": "inverse", "baseCoin": "BTC"
    }
    assert requests.cancel_all_body("spot") == {"category": "spot"}
    assert requests.cancel_all_body("spot", symbol="BTCUSDT", order_filter="tpslOrder") == {
        "category": "spot", "symbol": "BTCUSDT", "orderFilter": "tpslOrder"
    }
    assert requests.cancel_all_body("option") == {"category": "option"}
    assert requests.cancel_all_body(
        "linear", settle_coin="USDC", order_filter="StopOrder", stop_order_type="Stop"
    ) == {"category": "linear", "settleCoin": "USDC", "orderFilter": "StopOrder",
          "stopOrderType": "Stop"}
    for bad in (
        lambda: requests.cancel_all_body("linear"),
        lambda: requests.cancel_all_body("inverse", order_filter="Order"),
        lambda: requests.cancel_all_body("spot", settle_coin="USDT"),
        lambda: requests.cancel_all_body("spot", order_filter="StopOrder", stop_order_type="Stop"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_open_orders_query() -> None:
    assert requests.open_orders_query("inverse") == "category=inverse&limit=50"
    assert requests.open_orders_query("option", limit=20) == "category=option&limit=20"
    assert (
        requests.open_orders_query("linear", symbol="BTCUSDT", cursor="a%3Db%26")
        == "category=linear&symbol=BTCUSDT&limit=50&cursor=a%3Db%26"
    )
    assert [s for s in requests.OPEN_ORDER_SCOPES] == [
        ("spot", None), ("linear", "USDT"), ("linear", "USDC"), ("inverse", None), ("option", None)
    ]
    for bad in (
        lambda: requests.open_orders_query("linear"),
        lambda: requests.open_orders_query("spot", settle_coin="USDT"),
        lambda: requests.open_orders_query("spot", limit=51),
        lambda: requests.open_orders_query("spot", cursor="a&b=c"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_open_order_scopes_follow_the_account_options() -> None:
    # the defaults are the notes' list, with the settle coins and categories of spec.py
    assert requests.OPEN_ORDER_SCOPES == requests.open_order_scopes(CATEGORIES, SETTLE_COINS)
    # an account trading linear in USDT only, and options: no USDC query, no spot query
    assert requests.open_order_scopes(("linear", "option"), ("USDT",)) == (
        ("linear", "USDT"), ("option", None)
    )
    assert requests.open_order_scopes(("spot",), ("USDT", "USDC")) == (("spot", None),)


# -- cancel-all per category and scope (§3.4) ----------------------------------------------------
def order(category: str, symbol: str, order_type: str = "Limit", oid: str = "1") -> Order:
    return Order(
        venue="bybit", account="main", order_id=oid, symbol=symbol, side=Side.BUY,
        order_type=order_type, amount=Decimal(1), remaining=Decimal(1),
        status=OrderStatus.OPEN, status_text="New", price=Decimal(100), category=category,
    )


@pytest.mark.parametrize(("order_type", "flt"), [
    ("Limit", "Order"), ("Market", "Order"), ("Stop Limit", "StopOrder"),
    ("StopOrder Market", "StopOrder"), ("tpslOrder Limit", "tpslOrder"),
    ("OcoOrder Limit", "OcoOrder"), ("BidirectionalTpslOrder Limit", "BidirectionalTpslOrder"),
])
def test_spot_filter_names_the_kind_cancel_all_needs(order_type: str, flt: str) -> None:
    assert requests.spot_filter(order("spot", "BTCUSDT", order_type)) == flt


def test_spot_cancel_all_reaches_every_kind_shown_or_not() -> None:
    plain = order("spot", "BTCUSDT")
    oco = order("spot", "BTCUSDT", "OcoOrder Limit")
    # orders, TP/SL and stop orders always: a stop order not shown yet goes too
    assert requests.spot_cancel_all_bodies([plain]) == [
        {"category": "spot"},
        {"category": "spot", "orderFilter": "tpslOrder"},
        {"category": "spot", "orderFilter": "StopOrder"},
    ]
    assert requests.spot_cancel_all_bodies([], "BTCUSDT") == [
        {"category": "spot", "symbol": "BTCUSDT"},
        {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "tpslOrder"},
        {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "StopOrder"},
    ]
    # a rarer kind shown is asked for too
    assert [b.get("orderFilter", "Order") for b in requests.spot_cancel_all_bodies([oco])] == [
        "Order", "tpslOrder", "StopOrder", "OcoOrder"
    ]
    # a kind the blotter does not know: every kind is sent, so none is left open
    odd = order("spot", "BTCUSDT", "Trailing Limit")
    assert [b.get("orderFilter", "Order") for b in requests.spot_cancel_all_bodies([odd])] == [
        "Order", "tpslOrder", "StopOrder", "OcoOrder", "BidirectionalTpslOrder"
    ]


def test_cancel_symbol_is_the_instrument_in_its_own_category() -> None:
    rows = [order("spot", "BTCUSDT", "Stop Limit"), order("linear", "BTCUSDT")]
    # BTCUSDT Linear: the spot BTCUSDT orders stay
    assert requests.symbol_cancel_all_bodies("BTCUSDT", "linear", rows) == [
        {"category": "linear", "symbol": "BTCUSDT"},
    ]
    assert requests.symbol_cancel_all_bodies("BTCUSDT", "inverse", []) == [
        {"category": "inverse", "symbol": "BTCUSDT"},
    ]
    assert requests.symbol_cancel_all_bodies("BTCUSDT", "spot", rows) == [
        {"category": "spot", "symbol": "BTCUSDT"},
        {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "tpslOrder"},
        {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "StopOrder"},
    ]
    # no category named: each category it is open in
    assert requests.symbol_cancel_all_bodies("BTCUSDT", None, rows) == [
        {"category": "spot", "symbol": "BTCUSDT"},
        {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "tpslOrder"},
        {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "StopOrder"},
        {"category": "linear", "symbol": "BTCUSDT"},
    ]
    assert requests.symbol_cancel_all_bodies("ETHUSDT", None, []) == []


def test_cancel_everything_covers_the_whole_account() -> None:
    rows = [order("spot", "ETHUSDT", "tpslOrder Limit"), order("inverse", "ETHUSD"),
            order("inverse", "BTCUSD"), order("inverse", "BTCUSDH26", oid="2")]
    assert requests.account_cancel_all_bodies(CATEGORIES, ("USDT", "USDC"), rows) == [
        {"category": "spot"},
        {"category": "spot", "orderFilter": "tpslOrder"},
        {"category": "spot", "orderFilter": "StopOrder"},
        {"category": "linear", "settleCoin": "USDT"},
        {"category": "linear", "settleCoin": "USDC"},
        # inverse needs a scope: one per coin with open orders (perpetual and futures alike)
        {"category": "inverse", "baseCoin": "BTC"},
        {"category": "inverse", "baseCoin": "ETH"},
        {"category": "option"},
    ]
    # only the categories the account trades; linear in every settle coin all the same
    assert requests.account_cancel_all_bodies(("linear",), ("USDC",), rows) == [
        {"category": "linear", "settleCoin": "USDC"},
        {"category": "linear", "settleCoin": "USDT"},
    ]
    assert requests.everything_settle_coins(("EUR", "USDT")) == ("EUR", "USDT", "USDC")
    assert requests.inverse_coin("XRPUSD") == "XRP" and requests.inverse_coin("odd") is None


@pytest.mark.parametrize(("row", "body", "reached"), [
    (order("linear", "BTCUSDT"), {"category": "linear", "settleCoin": "USDT"}, True),
    (order("linear", "BTCPERP"), {"category": "linear", "settleCoin": "USDT"}, False),
    (order("linear", "BTCPERP"), {"category": "linear", "settleCoin": "USDC"}, True),
    (order("linear", "BTCUSDT"), {"category": "spot"}, False),
    (order("inverse", "BTCUSD"), {"category": "inverse", "symbol": "BTCUSD"}, True),
    (order("inverse", "ETHUSD"), {"category": "inverse", "symbol": "BTCUSD"}, False),
    (order("inverse", "BTCUSDH26"), {"category": "inverse", "baseCoin": "BTC"}, True),
    (order("inverse", "ETHUSD"), {"category": "inverse", "baseCoin": "BTC"}, False),
    (order("spot", "ETHUSDT"), {"category": "spot"}, True),
    (order("spot", "ETHUSDT", "Stop Limit"), {"category": "spot"}, False),
    (order("spot", "ETHUSDT", "Stop Limit"), {"category": "spot", "orderFilter": "StopOrder"},
     True),
    (order("option", "BTC-27DEC24-80000-C"), {"category": "option"}, True),
])
def test_which_orders_a_cancel_all_reaches(row: Order, body: dict[str, str],
                                           reached: bool) -> None:
    assert requests.in_cancel_all_scope(row, body) is reached


@pytest.mark.parametrize(("path", "query", "body", "bucket"), [
    (requests.PATH_OPEN_ORDERS, "category=spot&limit=50", None, (requests.PATH_OPEN_ORDERS, "*")),
    (requests.PATH_OPEN_ORDERS, "category=linear", None, (requests.PATH_OPEN_ORDERS, "*")),
    (requests.PATH_CANCEL, "", {"category": "option"}, (requests.PATH_CANCEL, "option")),
    (requests.PATH_CANCEL_ALL, "", {"category": "linear"}, (requests.PATH_CANCEL_ALL, "linear")),
    ("/v5/other", "x=1&category=inverse", None, ("/v5/other", "inverse")),
    ("/v5/other", "", None, ("/v5/other", "")),
])
def test_rate_budget_per_endpoint_and_category(
    path: str, query: str, body: dict[str, Any] | None, bucket: tuple[str, str]
) -> None:
    assert requests.rate_bucket(path, query, body) == bucket
