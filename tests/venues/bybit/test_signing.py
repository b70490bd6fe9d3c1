"""Bybit signing against every test vector of the protocol notes (§9), REST GET/POST and WS auth."""

from __future__ import annotations

import orjson
import pytest

from blotter.venues.bybit import codec

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
    assert codec.sign(SECRET, message) == expected
    assert codec.sign(SECRET, message.encode()) == expected


def test_signature_payload_is_ts_key_window_payload() -> None:
    assert (
        codec.signature_payload(TS, KEY, "category=spot")
        == b"1700000000000key5000category=spot"
    )
    assert codec.signature_payload(TS, KEY, b"{}", 10000) == b"1700000000000key10000{}"


def _headers_ok(headers: dict[str, str], sig: str) -> None:
    assert headers["X-BAPI-API-KEY"] == KEY
    assert headers["X-BAPI-TIMESTAMP"] == "1700000000000"
    assert headers["X-BAPI-RECV-WINDOW"] == "5000"
    assert headers["X-BAPI-SIGN"] == sig


def test_post_cancel_request_is_the_notes_example() -> None:
    # §1.4: the full request built from the §9 inputs
    body = codec.cancel_body("linear", "BTCUSDT", order_id="abc")
    req = codec.post_request(codec.PATH_CANCEL, body, KEY, SECRET, TS)
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
    req = codec.post_request(codec.PATH_CANCEL, raw, KEY, SECRET, TS)
    assert req.body == raw
    _headers_ok(req.headers, VECTORS[1][1])


@pytest.mark.parametrize(
    ("query", "sig"),
    [(VECTORS[i][0].removeprefix("1700000000000key5000"), VECTORS[i][1]) for i in (2, 3, 4, 5)],
)
def test_get_request_signs_the_query_as_sent(query: str, sig: str) -> None:
    req = codec.get_request(codec.PATH_OPEN_ORDERS, query, KEY, SECRET, TS)
    assert req.method == "GET"
    assert req.query == query
    assert req.body == b""
    assert req.target == f"/v5/order/realtime?{query}"
    _headers_ok(req.headers, sig)
    assert "Content-Type" not in req.headers


def test_open_orders_query_builders_reproduce_the_get_vectors() -> None:
    spot = codec.open_orders_query("spot", limit=50)
    assert spot == "category=spot&limit=50"
    q = codec.open_orders_query(
        "linear", settle_coin="USDT", cursor="page_args%3Dfd4300ae%26symbol%3D6%26"
    )
    assert q == "category=linear&settleCoin=USDT&limit=50&cursor=page_args%3Dfd4300ae%26symbol%3D6%26"
    req = codec.get_request(codec.PATH_OPEN_ORDERS, q, KEY, SECRET, TS)
    assert req.headers["X-BAPI-SIGN"] == VECTORS[5][1]


def test_post_builders_reproduce_the_post_vectors() -> None:
    cases = [
        (codec.cancel_all_body("linear", settle_coin="USDT"), VECTORS[6][1]),
        (codec.cancel_all_body("spot", order_filter="StopOrder"), VECTORS[7][1]),
        (
            codec.cancel_batch_bodies("spot", [codec.BatchItem("BTCUSDT", order_id="abc")])[0],
            VECTORS[8][1],
        ),
    ]
    for body, sig in cases:
        req = codec.post_request(codec.PATH_CANCEL_ALL, body, KEY, SECRET, TS)
        assert req.headers["X-BAPI-SIGN"] == sig


def test_recv_window_is_signed_and_sent() -> None:
    req = codec.post_request(codec.PATH_CANCEL, b"{}", KEY, SECRET, TS, recv_window=8000)
    assert req.headers["X-BAPI-RECV-WINDOW"] == "8000"
    assert req.headers["X-BAPI-SIGN"] == codec.sign(SECRET, "1700000000000key8000{}")
    assert req.headers["X-BAPI-SIGN"] != codec.sign(SECRET, "1700000000000key5000{}")


def test_ws_auth_frame_is_the_notes_frame() -> None:
    frame = codec.ws_auth_message(KEY, SECRET, 1700000005000)
    assert frame == (
        b'{"op":"auth","args":["key",1700000005000,'
        b'"870a92b7592554e69a02b26e07d3cd0f25689e17ef588149eaf04b9c1358a6fa"]}'
    )
    assert codec.ws_auth_signature(SECRET, 1700000005000) == VECTORS[9][1]


def test_ws_auth_with_req_id_and_other_frames() -> None:
    msg = orjson.loads(codec.ws_auth_message(KEY, SECRET, 1700000005000, req_id="a1"))
    assert msg == {"req_id": "a1", "op": "auth", "args": ["key", 1700000005000, VECTORS[9][1]]}
    assert orjson.loads(codec.ws_subscribe_message(req_id="sub-1")) == {
        "req_id": "sub-1",
        "op": "subscribe",
        "args": ["order"],
    }
    assert codec.ws_ping_message() == b'{"op":"ping"}'
    assert orjson.loads(codec.ws_ping_message("7")) == {"req_id": "7", "op": "ping"}
