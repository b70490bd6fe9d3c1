"""The B2TRADER requests: paths, headers and bodies as the notes give them, never a token in a
repr, the hub URL and the OpenOrders subscription."""

from __future__ import annotations

import json

import pytest

from blotter.venues.b2trader.replies import DEFAULT_TOKEN_LIFETIME_S
from blotter.venues.b2trader.requests import (
    PATH_ACCESS_TOKEN,
    PATH_ACCOUNTS,
    PATH_ORDER,
    STREAM_OPEN_ORDERS,
    access_token_request,
    accounts_request,
    cancel_request,
    hide_tokens,
    hub_url,
    open_orders_arguments,
    open_orders_subscription,
    order_path,
)
from blotter.venues.b2trader.spec import HUB_PATH, VENUE
from tests.venues.b2trader.samples import ORDER_ID


def test_constants() -> None:
    assert VENUE == "b2trader"
    assert PATH_ACCESS_TOKEN == "/frontoffice/api/v4/access-token"
    assert PATH_ACCOUNTS == "/frontoffice/api/v3/accounts"
    assert PATH_ORDER == "/frontoffice/api/v3/orders/{orderId}"
    assert HUB_PATH == "/frontoffice/ws/v4/account"
    assert STREAM_OPEN_ORDERS == "OpenOrders"
    assert DEFAULT_TOKEN_LIFETIME_S == 3600


def test_access_token_request() -> None:
    req = access_token_request("offline-token-123")
    assert req.method == "POST"
    assert req.path == "/frontoffice/api/v4/access-token"
    assert json.loads(req.body) == {"token": "offline-token-123"}
    assert req.headers == {
        "Content-Type": "application/json; x-api-version=4.0",
        "Accept": "application/json",
    }
    assert "offline-token-123" not in repr(req)
    plain = access_token_request("t", versioned_media_type=False)
    assert plain.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        access_token_request("")


def test_accounts_and_cancel_requests() -> None:
    req = accounts_request("JWT1")
    assert (req.method, req.path, req.body) == ("GET", "/frontoffice/api/v3/accounts", b"")
    assert req.headers == {"Authorization": "Bearer JWT1", "Accept": "*/*"}
    cancel = cancel_request(ORDER_ID, "685a7eaa360f9e7416221a61", "JWT1")
    assert cancel.method == "DELETE"
    assert cancel.path == "/frontoffice/api/v3/orders/01K2PF9XS29WN4JZRHMCTTQYJB"
    assert cancel.headers == {
        "Authorization": "Bearer JWT1",
        "Accept": "*/*",
        "accountId": "685a7eaa360f9e7416221a61",
    }
    assert cancel.body == b""
    assert "JWT1" not in repr(cancel)
    assert order_path("a/b c") == "/frontoffice/api/v3/orders/a%2Fb%20c"
    with pytest.raises(ValueError):
        cancel_request(ORDER_ID, "", "JWT1")


def test_hub_url_and_subscription_arguments() -> None:
    url = hub_url("wss://broker.example/frontoffice/ws/v4/account", "a.b+c")
    assert url == "wss://broker.example/frontoffice/ws/v4/account?access_token=a.b%2Bc"
    again = hub_url("ws://127.0.0.1:5000/frontoffice/ws/v4/account?x=1&access_token=old", "n")
    assert again == "ws://127.0.0.1:5000/frontoffice/ws/v4/account?x=1&access_token=n"
    assert open_orders_arguments("67d0456f8c7b1108e4cf5d46") == ["67d0456f8c7b1108e4cf5d46"]


def test_the_subscription_is_the_venues_example() -> None:
    # §3.6 verbatim: one trading account's OpenOrders stream, its id as the one argument.
    assert open_orders_subscription("0", "67d0456f8c7b1108e4cf5d46") == (
        '{"arguments":["67d0456f8c7b1108e4cf5d46"],"invocationId":"0",'
        '"target":"OpenOrders","type":4}\x1e'
    )
    with pytest.raises(ValueError):
        open_orders_subscription("0", "")


def test_hide_tokens_takes_every_jwt_and_hub_token_out_of_a_text() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln"
    url = hub_url("wss://broker.example/frontoffice/ws/v4/account", "opaque-token")
    text = f"cannot reach {url} (bearer {jwt})"
    assert hide_tokens(text) == (
        "cannot reach wss://broker.example/frontoffice/ws/v4/account?access_token=*** "
        "(bearer ***)"
    )
    assert hide_tokens("nothing secret here") == "nothing secret here"
