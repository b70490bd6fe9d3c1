"""The B2TRADER codec against the protocol notes' examples (tests/fixtures/b2trader): token
exchange, accounts, OpenOrders items, cancel replies and every kind of error body.

Expectations are spelled out field by field: the recorded payloads are the parser's spec.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from blotter.core.cancel import Outcome
from blotter.core.notices import Level
from blotter.core.order import AccountKey, Closed, Order, OrderStatus, Side, Upsert
from blotter.venues.b2trader import codec
from blotter.venues.b2trader.codec import (
    MalformedFrame,
    OpenOrdersParser,
    TradingAccount,
    parse_timestamp,
)
from blotter.venues.b2trader.signalr import (
    Completion,
    Decoder,
    HandshakeResponse,
    StreamItem,
    parse_message,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "b2trader"
# One trading account of the configured account "broker-main" (the lead's account model).
ACCOUNT = AccountKey("b2trader", "broker-main/B2TRADER Hedging account")
ORDER_ID = "01K2PF9XS29WN4JZRHMCTTQYJB"
NOW_MS = 1_656_067_154_000  # the fixture JWT's iat


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def stream_item() -> StreamItem:
    msg = parse_message(raw("ws_open_orders.txt")[:-1])
    assert isinstance(msg, StreamItem)
    return msg


def order_json(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = dict(stream_item().item[0])
    item.update(changes)
    return item


def jwt(claims: Any) -> str:
    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(claims)}.c2ln"


# -- constants and requests --------------------------------------------------------------------
def test_constants() -> None:
    assert codec.VENUE == "b2trader"
    assert codec.PATH_ACCESS_TOKEN == "/frontoffice/api/v4/access-token"
    assert codec.PATH_ACCOUNTS == "/frontoffice/api/v3/accounts"
    assert codec.PATH_ORDER == "/frontoffice/api/v3/orders/{orderId}"
    assert codec.HUB_PATH == "/frontoffice/ws/v4/account"
    assert codec.STREAM_OPEN_ORDERS == "OpenOrders"
    assert codec.DEFAULT_TOKEN_LIFETIME_S == 3600


def test_access_token_request() -> None:
    req = codec.access_token_request("offline-token-123")
    assert req.method == "POST"
    assert req.path == "/frontoffice/api/v4/access-token"
    assert json.loads(req.body) == {"token": "offline-token-123"}
    assert req.headers == {
        "Content-Type": "application/json; x-api-version=4.0",
        "Accept": "application/json",
    }
    assert "offline-token-123" not in repr(req)
    plain = codec.access_token_request("t", versioned_media_type=False)
    assert plain.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        codec.access_token_request("")


def test_accounts_and_cancel_requests() -> None:
    req = codec.accounts_request("JWT1")
    assert (req.method, req.path, req.body) == ("GET", "/frontoffice/api/v3/accounts", b"")
    assert req.headers == {"Authorization": "Bearer JWT1", "Accept": "*/*"}
    cancel = codec.cancel_request(ORDER_ID, "685a7eaa360f9e7416221a61", "JWT1")
    assert cancel.method == "DELETE"
    assert cancel.path == "/frontoffice/api/v3/orders/01K2PF9XS29WN4JZRHMCTTQYJB"
    assert cancel.headers == {
        "Authorization": "Bearer JWT1",
        "Accept": "*/*",
        "accountId": "685a7eaa360f9e7416221a61",
    }
    assert cancel.body == b""
    assert "JWT1" not in repr(cancel)
    assert codec.order_path("a/b c") == "/frontoffice/api/v3/orders/a%2Fb%20c"
    with pytest.raises(ValueError):
        codec.cancel_request(ORDER_ID, "", "JWT1")


def test_hub_url_and_subscription_arguments() -> None:
    url = codec.hub_url("wss://broker.example/frontoffice/ws/v4/account", "a.b+c")
    assert url == "wss://broker.example/frontoffice/ws/v4/account?access_token=a.b%2Bc"
    again = codec.hub_url("ws://127.0.0.1:5000/frontoffice/ws/v4/account?x=1&access_token=old", "n")
    assert again == "ws://127.0.0.1:5000/frontoffice/ws/v4/account?x=1&access_token=n"
    assert codec.open_orders_arguments("67d0456f8c7b1108e4cf5d46") == ["67d0456f8c7b1108e4cf5d46"]


# -- token -------------------------------------------------------------------------------------
def test_parse_access_token_reads_exp_without_verifying() -> None:
    token = codec.parse_access_token(raw("rest_access_token.json"), NOW_MS)
    assert token.jwt.startswith("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.")
    assert token.from_claim
    lifetime_ms = (1656103154 - 1656067154) * 1000  # exp - iat: 10 h
    assert token.expires_ms == NOW_MS + lifetime_ms
    assert token.renew_at_ms == NOW_MS + lifetime_ms * 8 // 10
    assert not token.needs_renewal(token.renew_at_ms - 1)
    assert token.needs_renewal(token.renew_at_ms)
    assert token.jwt not in repr(token)


def test_lifetime_is_skew_free_with_iat() -> None:
    # Our clock an hour ahead of the venue's: exp - iat still gives the 60 min it granted.
    token = codec.parse_access_token(
        json.dumps({"accessToken": jwt({"iat": 1000, "exp": 4600})}), now_ms=4_600_000 + 3_600_000
    )
    assert token.expires_ms - (4_600_000 + 3_600_000) == 3_600_000


def test_token_without_exp_gets_the_default_hour() -> None:
    token = codec.parse_access_token(b'{"accessToken": "opaque-token", "tokenType": "x"}', 5000)
    assert not token.from_claim
    assert token.expires_ms == 5000 + 3_600_000
    assert token.renew_at_ms == 5000 + 2_880_000


def test_expired_claim_without_iat_falls_back_to_the_default() -> None:
    token = codec.parse_access_token(json.dumps({"accessToken": jwt({"exp": 10})}), 50_000)
    assert not token.from_claim
    assert token.expires_ms == 50_000 + 3_600_000


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"accessToken": ""}', b'{"accessToken": 5}', b"[]", b"<html>"]
)
def test_bad_access_token_replies(body: bytes) -> None:
    with pytest.raises(MalformedFrame):
        codec.parse_access_token(body, 0)


def test_jwt_expiry() -> None:
    token = json.loads(raw("rest_access_token.json"))["accessToken"]
    assert codec.jwt_expiry(token) == 1656103154
    # every padding length: payloads of 1, 2 and 3 bytes mod 3
    for pad in ("", "x", "xx"):
        assert codec.jwt_expiry(jwt({"exp": 1700000000, "p": pad})) == 1700000000
    assert codec.jwt_expiry(jwt({"exp": 1700000000.9})) == 1700000000


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a..c",
        "a.b.c.d",
        "a.!!!!.c",
        "a." + base64.urlsafe_b64encode(b"not json").decode() + ".c",
        "a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c",
        "a." + base64.urlsafe_b64encode(b'{"exp":"1700000000"}').decode() + ".c",
        "a." + base64.urlsafe_b64encode(b'{"exp":true}').decode() + ".c",
        "a." + base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".c",
        "a.\u00e9\u00e9.c",
    ],
)
def test_jwt_expiry_of_bad_tokens_is_none(token: str) -> None:
    assert codec.jwt_expiry(token) is None


# -- accounts ----------------------------------------------------------------------------------
def test_parse_accounts_verbatim_example() -> None:
    accounts = codec.parse_accounts(raw("rest_accounts.json"))
    assert accounts == (
        TradingAccount(
            "685a7eaa360f9e7416221a61", "B2TRADER Hedging account", "Hedging",
            Decimal("6020.12"), False,
        ),
        TradingAccount(
            "6891e70db552ff9c6fbbccf5", "B2TRADER Netting account", "Netting",
            Decimal("10987.39"), False,
        ),
    )
    assert codec.account_labels(accounts) == {
        "685a7eaa360f9e7416221a61": "B2TRADER Hedging account",
        "6891e70db552ff9c6fbbccf5": "B2TRADER Netting account",
    }
    assert codec.trading_account_keys("broker-main", accounts) == {
        "685a7eaa360f9e7416221a61": ACCOUNT,
        "6891e70db552ff9c6fbbccf5": AccountKey("b2trader", "broker-main/B2TRADER Netting account"),
    }


def test_trading_account_key() -> None:
    key = codec.trading_account_key("acme", "Main …0002")
    assert key == AccountKey("b2trader", "acme/Main …0002")
    assert str(key) == "b2trader:acme/Main …0002"
    with pytest.raises(ValueError):
        codec.trading_account_key("", "Main")
    with pytest.raises(ValueError):
        codec.trading_account_key("acme", "")


def test_accounts_b2prime_fields_and_duplicate_names() -> None:
    body = json.dumps([
        {"accountId": "aaaa0001", "accountName": "Main", "publicAccountId": 1234567,
         "accountType": "Netting", "totalBalanceInRAT": 12.5, "isCopyTradingAccount": True},
        {"accountId": "bbbb0002", "accountName": "Main"},
        {"accountId": "cccc0003"},
    ])
    accounts = codec.parse_accounts(body)
    assert accounts[0].public_account_id == 1234567
    assert accounts[0].total_balance == Decimal("12.5")  # a JSON number, read exactly
    assert accounts[0].is_copy_trading
    assert accounts[1] == TradingAccount("bbbb0002", "Main", "", None, False)
    assert codec.account_labels(accounts) == {
        "aaaa0001": "Main …0001",
        "bbbb0002": "Main …0002",
        "cccc0003": "cccc0003",
    }
    assert codec.trading_account_keys("acme", accounts) == {
        "aaaa0001": AccountKey("b2trader", "acme/Main …0001"),
        "bbbb0002": AccountKey("b2trader", "acme/Main …0002"),
        "cccc0003": AccountKey("b2trader", "acme/cccc0003"),
    }


@pytest.mark.parametrize(
    "body", [b"{}", b"[1]", b'[{"accountName": "x"}]', b'[{"accountId": 5}]', b"nope"]
)
def test_bad_accounts_replies(body: bytes) -> None:
    with pytest.raises(MalformedFrame):
        codec.parse_accounts(body)


# -- timestamps --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, ms",
    [
        ("2025-05-20T17:22:31Z", 1747761751000),
        ("2025-05-20T17:22:31.8Z", 1747761751800),
        ("2025-05-20T17:22:31.89Z", 1747761751890),
        ("2025-05-20T17:22:31.899Z", 1747761751899),
        ("2025-05-20T17:22:31.8999Z", 1747761751899),
        ("2025-05-20T17:22:31.89999Z", 1747761751899),
        ("2025-05-20T17:22:31.900121Z", 1747761751900),
        ("2025-05-20T17:22:31.9001213Z", 1747761751900),
        ("2025-05-20T17:22:31.900121399Z", 1747761751900),
        ("2025-05-20T17:22:31.9001213", 1747761751900),  # no zone: UTC, as documented
        ("2025-05-20T19:22:31.9001213+02:00", 1747761751900),
        ("2025-05-20T12:52:31.899-0430", 1747761751899),
        ("2025-05-20T17:22:31.899+00:00", 1747761751899),
        ("1970-01-01T00:00:00.000Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-02-29T00:00:00Z", 1709164800000),
    ],
)
def test_timestamps(text: str, ms: int) -> None:
    assert parse_timestamp(text) == ms


@pytest.mark.parametrize(
    "text",
    ["", "2025-05-20", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-05-20T24:00:00Z",
     "2025-05-20T17:22:31.Z", "2025-05-20T17:22:31.1234567890Z", "2025-05-20T17:22:31+25:00",
     "20250520T172231Z", "yesterday"],
)
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(MalformedFrame):
        parse_timestamp(text)


# -- OpenOrders (§3.6) -------------------------------------------------------------------------
EXPECTED = Order(
    venue="b2trader",
    account="broker-main/B2TRADER Hedging account",
    order_id="01JVQBFSTVC40VK03A0AY7K016",
    symbol="EUR/CHF",
    side=Side.BUY,
    order_type="Limit",
    amount=Decimal(10000),
    remaining=Decimal(10000),
    status=OrderStatus.OPEN,
    status_text="Pending",
    price=Decimal("0.9"),
    avg_price=None,
    group_id=None,  # B2TRADER has no order groups; the trading account is the AccountKey
    created_ms=1747761751899,
    updated_ms=1747761751900,
    category="cfd",
)


def test_open_orders_verbatim_example_field_by_field() -> None:
    orders = codec.parse_open_orders(stream_item(), ACCOUNT)
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
    assert codec.parse_open_orders(item, ACCOUNT) == (EXPECTED,)
    assert codec.parse_open_orders(item.item, ACCOUNT) == (EXPECTED,)
    assert OpenOrdersParser(ACCOUNT).parse(item) == (EXPECTED,)


def _fields(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in Order.__dataclass_fields__}


def test_empty_open_orders() -> None:
    assert codec.parse_open_orders(parse_message('{"type":2,"invocationId":"0","item":[]}'),
                                   ACCOUNT) == ()


def test_decimals_stay_exact() -> None:
    a, b = codec.parse_open_orders(
        [order_json(orderId="A", requestedAmount="0.1", remainingAmount="0.1"),
         order_json(orderId="B", requestedAmount="0.2", remainingAmount="0.2")],
        ACCOUNT,
    )
    assert a.amount + b.amount == Decimal("0.3")
    assert str(a.amount + b.amount) == "0.3"
    [c] = codec.parse_open_orders([order_json(requestedPrice="0.123456789012345678901234")],
                                  ACCOUNT)
    assert c.price == Decimal("0.123456789012345678901234")


def test_json_numbers_are_re_read_exactly() -> None:
    # P-6: numbers where strings are documented. 21 significant digits do not survive a float.
    item = order_json(requestedAmount=1, remainingAmount=0.5)
    record = json.dumps({"type": 2, "invocationId": "0", "item": [item]}).replace(
        '"requestedPrice": "0.9"', '"requestedPrice": 0.90000000000000000001'
    )
    msg = parse_message(record)
    assert isinstance(msg, StreamItem)
    [o] = codec.parse_open_orders(msg, ACCOUNT)
    assert o.price == Decimal("0.90000000000000000001")
    assert o.amount == Decimal(1) and o.remaining == Decimal("0.5")
    assert o.status is OrderStatus.PARTIALLY_FILLED
    # Without the record (an already parsed item) the float's shortest repr is used.
    [p] = codec.parse_open_orders([order_json(requestedPrice=0.1)], ACCOUNT)
    assert p.price == Decimal("0.1")


def test_market_order_statuses_and_texts() -> None:
    [o] = codec.parse_open_orders(
        [order_json(
            orderType="Market", timeInForce="Ioc", requestedPrice=None, status="Working",
            remainingAmount="2500", executionPrice="0.90125", reason="StopOut", side="Sell",
            marketType=None, marketDisplayName=None, createdAt=None,
        )],
        ACCOUNT,
    )
    assert o.order_type == "Market Ioc"
    assert o.price is None
    assert o.avg_price == Decimal("0.90125")
    assert o.status is OrderStatus.PARTIALLY_FILLED
    assert o.status_text == "Working · StopOut"
    assert o.side is Side.SELL
    assert o.symbol == "cfd.eur_chf"  # no display name: the market id
    assert o.category == "cfd"  # from the market id's prefix
    assert o.created_ms is None
    assert o.filled == Decimal(7500)


@pytest.mark.parametrize(
    "status, expected",
    [("Started", OrderStatus.OPEN), ("Pending", OrderStatus.OPEN), ("Working", OrderStatus.OPEN),
     ("Completed", OrderStatus.FILLED), ("Cancelled", OrderStatus.CANCELLED),
     ("Expired", OrderStatus.EXPIRED), ("Rejected", OrderStatus.REJECTED)],
)
def test_status_map(status: str, expected: OrderStatus) -> None:
    assert codec.map_status(status, Decimal(1), Decimal(1)) is expected
    [o] = codec.parse_open_orders([order_json(status=status)], ACCOUNT)
    assert o.status is expected and o.status_text == status


def test_unknown_status_in_the_open_list_stays_open_and_verbatim() -> None:
    assert codec.map_status("Suspended", Decimal(1), Decimal(1)) is None
    [o] = codec.parse_open_orders([order_json(status="Suspended")], ACCOUNT)
    assert o.status is OrderStatus.OPEN
    assert o.status_text == "Suspended"


def test_unknown_fields_are_ignored() -> None:
    [o] = codec.parse_open_orders([order_json(comment="hi", newField={"a": [1]})], ACCOUNT)
    assert o == EXPECTED


def test_order_events() -> None:
    [o] = codec.parse_open_orders([order_json()], ACCOUNT)
    assert codec.order_event(o) == Upsert(o)
    [c] = codec.parse_open_orders([order_json(status="Cancelled")], ACCOUNT)
    assert codec.order_event(c) == Closed(c)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"orderId": None}, "orderId"),
        ({"orderId": 17}, "orderId"),
        ({"side": "Long"}, "side"),
        ({"side": ["Buy"]}, "side"),
        ({"requestedAmount": "1e5"}, "requestedAmount"),
        ({"requestedAmount": None}, "requestedAmount"),
        ({"requestedAmount": "-1", "remainingAmount": "-1"}, "negative"),
        ({"remainingAmount": "NaN"}, "remainingAmount"),
        ({"requestedPrice": True}, "requestedPrice"),
        ({"createdAt": "yesterday"}, "timestamp"),
        ({"createdAt": 1747761751899}, "timestamp"),
        ({"marketId": None, "marketDisplayName": None}, "marketDisplayName"),
        ({"status": 3}, "status"),
    ],
)
def test_malformed_orders(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        codec.parse_open_orders([order_json(**changes)], ACCOUNT)


@pytest.mark.parametrize("item", [None, {}, "x", 5, [1], [[]], {"item": {}}])
def test_malformed_items(item: Any) -> None:
    with pytest.raises(MalformedFrame):
        codec.parse_open_orders(StreamItem("0", item), ACCOUNT)


def test_nested_item_is_tolerated() -> None:
    assert codec.parse_open_orders({"item": [order_json()]}, ACCOUNT) == (EXPECTED,)


def test_wrong_venue_account_is_refused() -> None:
    with pytest.raises(MalformedFrame):
        codec.parse_open_orders([], AccountKey("bybit", "x"))


# -- OpenOrdersParser: one trading account's stream, unchanged orders reused --------------------
def item_record(orders: list[dict[str, Any]]) -> StreamItem:
    msg = parse_message(json.dumps({"type": 2, "invocationId": "0", "item": orders}))
    assert isinstance(msg, StreamItem)
    return msg


def test_parser_reuses_unchanged_orders_and_rebuilds_changed_ones() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    assert parser.account == ACCOUNT and len(parser) == 0
    a, b = order_json(orderId="A"), order_json(orderId="B")
    first = parser.parse(item_record([a, b]))
    assert first == (
        Order(**{**_fields(EXPECTED), "order_id": "A"}),
        Order(**{**_fields(EXPECTED), "order_id": "B"}),
    )
    assert len(parser) == 2
    # A partial fill of B: A comes back as the very same object, B is a new one.
    b_filled = {**b, "status": "Working", "remainingAmount": "2500", "executionPrice": "0.89",
                "updatedAt": "2025-05-20T17:23:00.5Z"}
    second = parser.parse(item_record([a, b_filled]))
    assert second[0] is first[0]
    assert second[1] == Order(
        **{**_fields(EXPECTED), "order_id": "B", "remaining": Decimal(2500),
           "status": OrderStatus.PARTIALLY_FILLED, "status_text": "Working",
           "avg_price": Decimal("0.89"), "updated_ms": 1747761780500}
    )
    assert second == codec.parse_open_orders(item_record([a, b_filled]), ACCOUNT)
    # The same item again (a duplicate snapshot): everything reused.
    third = parser.parse(item_record([a, b_filled]))
    assert third[0] is first[0] and third[1] is second[1]


def test_parser_forgets_orders_that_left_the_list() -> None:
    parser = OpenOrdersParser(ACCOUNT)
    a, b = order_json(orderId="A"), order_json(orderId="B")
    [_, b1] = parser.parse([a, b])
    assert parser.parse([a]) == (Order(**{**_fields(EXPECTED), "order_id": "A"}),)
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
                   - set(codec._ORDER_FIELDS)),
)
def test_order_fields_lists_every_field_the_codec_reads(name: str) -> None:
    # The parser's type check covers codec._ORDER_FIELDS: a field outside it must not matter.
    for value in (None, 1, 1.5, True, "x", [1], {"a": 1}):
        assert codec.parse_open_orders([order_json(**{name: value})], ACCOUNT) == (EXPECTED,)


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
    assert (a2, n) == codec.parse_open_orders(msg, ACCOUNT)
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
        codec.parse_open_orders([OrderedDict(order_json())], ACCOUNT)
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

# -- cancel replies (§2.4) ---------------------------------------------------------------------
def test_cancel_reply_cancelled() -> None:
    reply = codec.parse_cancel_reply(raw("rest_cancel_cancelled.json"), ACCOUNT, ORDER_ID)
    assert reply.outcome is Outcome.CANCELLED
    assert reply.order_id == ORDER_ID
    assert reply.venue_status == "Cancelled"
    assert reply.text == "Cancelled: BTC/USDT buy 0.02 @ 115193.35 (01K2PF9XS29WN4JZRHMCTTQYJB)"
    assert reply.order == Order(
        venue="b2trader",
        account="broker-main/B2TRADER Hedging account",
        order_id=ORDER_ID,
        symbol="BTC/USDT",
        side=Side.BUY,
        order_type="Limit",
        amount=Decimal("0.02"),
        remaining=Decimal("0.02"),
        status=OrderStatus.CANCELLED,
        status_text="Cancelled",
        price=Decimal("115193.35"),
        created_ms=parse_timestamp("2025-08-14T09:12:03.117Z"),
        updated_ms=parse_timestamp("2025-08-14T09:15:41.502Z"),
        category="spot",
    )


def test_cancel_reply_filled_race() -> None:
    reply = codec.parse_cancel_reply(raw("rest_cancel_completed.json"), ACCOUNT, ORDER_ID)
    assert reply.outcome is Outcome.FILLED
    assert reply.order is not None
    assert reply.order.status is OrderStatus.FILLED
    assert reply.order.avg_price == Decimal("115190.5")
    assert reply.order.filled == Decimal("0.02")


def test_cancel_reply_still_working_is_reported_not_settled() -> None:
    reply = codec.parse_cancel_reply(raw("rest_cancel_working.json"), ACCOUNT, ORDER_ID)
    assert reply.outcome is None
    assert reply.text == (
        "Working (still open, cancel requested): BTC/USDT buy 0.02 @ 115193.35 "
        "(01K2PF9XS29WN4JZRHMCTTQYJB)"
    )
    assert reply.order is not None and reply.order.status is OrderStatus.PARTIALLY_FILLED


@pytest.mark.parametrize(
    "status, outcome", [("Expired", Outcome.CLOSED), ("Rejected", Outcome.CLOSED),
                        ("Frozen", None), ("Pending", None)],
)
def test_cancel_reply_other_statuses(status: str, outcome: Outcome | None) -> None:
    body = json.loads(raw("rest_cancel_cancelled.json"))
    body["order"]["status"] = status
    body["order"]["rejectDetails"] = "Insufficient\nmargin" if status == "Rejected" else None
    reply = codec.parse_cancel_reply(json.dumps(body), ACCOUNT, ORDER_ID)
    assert reply.outcome is outcome
    assert reply.text.startswith(status)
    if status == "Frozen":
        assert reply.order is None  # an unknown status is no Order, the reply still reads
    if status == "Rejected":
        assert reply.order is not None
        assert reply.order.status_text == "Rejected · Insufficient margin"


def test_cancel_reply_minimal_echo() -> None:
    reply = codec.parse_cancel_reply(
        b'{"order":{"orderId":"X1","status":"Cancelled"}}', ACCOUNT, "X1"
    )
    assert (reply.outcome, reply.order, reply.text) == (Outcome.CANCELLED, None, "Cancelled: (X1)")


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"order": null}', b'{"order": {"orderId": "X1"}}',
     b'{"order": {"orderId": "OTHER", "status": "Cancelled"}}', b"[]", b"{bad"],
)
def test_malformed_cancel_replies(body: bytes) -> None:
    with pytest.raises(MalformedFrame):
        codec.parse_cancel_reply(body, ACCOUNT, "X1")


# -- error replies (§2.7, §2.8) ----------------------------------------------------------------
def test_404_problem_details() -> None:
    err = codec.parse_cancel_error(404, raw("rest_error_404_problem.json"), ORDER_ID)
    assert err.text == (
        "Order 01K2PF9XS29WN4JZRHMCTTQYJB: Not Found: Order 01K2PF9XS29WN4JZRHMCTTQYJB was not "
        "found. (HTTP 404)"
    )
    assert err.outcome is Outcome.NOT_FOUND and err.order_gone
    assert not err.retryable and not err.auth_failed


def test_404_empty_body() -> None:
    err = codec.parse_cancel_error(404, b"", "123")
    assert err.text == "Order 123: not found (HTTP 404)"
    assert err.summary == "Order 123: not found"
    assert err.message == ""
    assert err.outcome is Outcome.NOT_FOUND


def test_400_problem_details_and_validation() -> None:
    err = codec.parse_cancel_error(400, raw("rest_error_400_problem.json"), "123")
    assert err.text == (
        "Order 123: Bad Request: Order is already Completed and cannot be cancelled. (HTTP 400)"
    )
    assert err.outcome is Outcome.NOT_FOUND
    val = codec.parse_cancel_error(400, raw("rest_error_400_validation.json"), "123")
    assert val.message == (
        "One or more validation errors occurred. (accountId: The accountId header is required.)"
    )
    assert codec.parse_cancel_error(400, None, "9").text == (
        "Order 9: cannot be cancelled (already finished?) (HTTP 400)"
    )


def test_401_empty_body_uses_www_authenticate() -> None:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token", '
                                   'error_description="The token expired at \'08/14/2025\'"'}
    err = codec.parse_cancel_error(401, b"", "123", headers=headers)
    assert err.text == "Order 123: The token expired at '08/14/2025' (HTTP 401)"
    assert err.auth_failed and not err.retryable
    assert err.outcome is Outcome.REJECTED
    bare = codec.parse_cancel_error(401, b"", "123")
    assert bare.text == "Order 123: not authorised (access token invalid or expired) (HTTP 401)"


def test_403_other_json_and_plain_text() -> None:
    err = codec.parse_cancel_error(403, raw("rest_error_403_message.json"), "123")
    assert err.text == "Order 123: forbidden: Account does not belong to the user (HTTP 403)"
    assert err.outcome is Outcome.REJECTED and not err.order_gone
    assert codec.parse_cancel_error(403, b"", "1").text == (
        "Order 1: forbidden (account or permission) (HTTP 403)"
    )
    assert codec.parse_cancel_error(403, b'{"message": "Denied"}', "1").message == "Denied"
    assert codec.parse_cancel_error(403, b'"Denied."', "1").message == "Denied."
    assert codec.parse_cancel_error(403, b'{"foo": [1, 2]}', "1").message == '{"foo":[1,2]}'


def test_429_retry_after_seconds_and_date() -> None:
    err = codec.parse_cancel_error(429, b"", "123", headers={"retry-after": "5"})
    assert err.text == "Order 123: rate limited; retry in 5 s (HTTP 429)"
    assert err.retry_after_s == 5.0 and err.retryable
    dated = codec.parse_cancel_error(
        429, b"Too Many Requests", "123",
        headers={"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}, now_ms=784111767000,
    )
    assert dated.retry_after_s == 10.0
    assert dated.text == "Order 123: Too Many Requests; retry in 10 s (HTTP 429)"


def test_5xx_bodies() -> None:
    legacy = codec.parse_cancel_error(500, raw("rest_error_500_legacy.json"), "123")
    assert legacy.text == "Order 123: Unexpected error occurred (HTTP 500)"
    assert legacy.retryable and legacy.outcome is Outcome.REJECTED
    plain = codec.parse_cancel_error(503, raw("rest_error_503_plain.txt"), "123")
    assert plain.text == "Order 123: Service Unavailable (HTTP 503)"
    html = codec.parse_cancel_error(502, raw("rest_error_502_html.html"), "123",
                                    headers={"Content-Type": "text/html"})
    assert html.text == "Order 123: 502 Bad Gateway (HTTP 502)"
    empty = codec.parse_cancel_error(504, b"  ", "123")
    assert empty.text == "Order 123: venue error (HTTP 504)"


def test_error_texts_stay_short_and_single_line() -> None:
    err = codec.parse_cancel_error(500, ("x\n" * 100_000).encode(), "123")
    assert len(err.summary) <= 200 and "\n" not in err.summary
    bad = codec.parse_cancel_error(400, b"\xff\xfe broken", "123")
    assert bad.message == "\ufffd\ufffd broken"
    generic = codec.parse_error(401, b"", "API token")
    assert generic.text == "API token: not authorised (access token invalid or expired) (HTTP 401)"
    assert generic.outcome is Outcome.REJECTED
    assert codec.parse_error(404, b"", "Accounts").outcome is Outcome.REJECTED  # not a cancel


@pytest.mark.parametrize(
    "value, now_ms, expected",
    [
        ("120", 0, 120.0),
        (" 0 ", 0, 0.0),
        ("1.5", 0, 1.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470000, 10.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490000, 0.0),  # in the past
        ("Wed, 21 Oct 2015 07:28:00 GMT", None, None),  # no clock here
        ("soon", 0, None),
        ("-5", 0, None),
        ("", 0, None),
        (None, 0, None),
    ],
)
def test_retry_after(value: str | None, now_ms: int | None, expected: float | None) -> None:
    assert codec.retry_after(value, now_ms) == expected


# -- notices -----------------------------------------------------------------------------------
def test_error_notice() -> None:
    err = codec.parse_cancel_error(404, b"", "123")
    n = codec.error_notice(err, ACCOUNT, ts_ms=5, order_ids=("123",))
    assert (n.venue, n.account, n.level, n.ts_ms) == (
        "b2trader", "broker-main/B2TRADER Hedging account", Level.WARNING, 5
    )
    assert n.line() == "HTTP 404: Order 123: not found"
    assert n.order_ids == ("123",)
    assert codec.error_notice(codec.parse_cancel_error(403, b"", "1"), ACCOUNT).level is Level.ERROR


def test_cancel_and_closed_notices() -> None:
    reply = codec.parse_cancel_reply(raw("rest_cancel_cancelled.json"), ACCOUNT)
    n = codec.cancel_notice(reply, ACCOUNT, 7)
    assert n.level is Level.SUCCESS
    assert n.line() == (
        "HTTP 200: Cancelled: BTC/USDT buy 0.02 @ 115193.35 (01K2PF9XS29WN4JZRHMCTTQYJB)"
    )
    assert n.order_ids == (ORDER_ID,)
    assert reply.order is not None
    closed = codec.closed_notice(reply.order)
    assert closed.level is Level.SUCCESS
    assert closed.line() == "Cancelled: BTC/USDT buy 0.02 @ 115193.35 (spot)"
    filled = codec.parse_cancel_reply(raw("rest_cancel_completed.json"), ACCOUNT)
    assert codec.cancel_notice(filled, ACCOUNT).level is Level.INFO


def test_stream_error_notice() -> None:
    n = codec.stream_error_notice(Completion("0", error="Unknown account"), ACCOUNT, "Main")
    assert n.level is Level.ERROR
    assert n.text == "Order stream for Main ended: Unknown account"
    ended = codec.stream_error_notice(Completion("0"), ACCOUNT)
    assert (ended.level, ended.text) == (Level.WARNING, "Order stream ended by the venue")
