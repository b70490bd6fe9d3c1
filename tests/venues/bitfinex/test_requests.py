"""Bitfinex requests: the signing test vectors of bitfinex.md §7, the auth event, signed REST calls,
and the cancel inputs for each scope a trader can pick (§4)."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from blotter.core.cancel import CancelScope, plan_cancels
from blotter.core.order import Order, OrderStatus, Side
from blotter.venues.bitfinex import requests
from blotter.venues.bitfinex.requests import CancelInput, cancel_inputs

SECRET = "secret"
NONCE = 1700000000000000


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        (  # WS auth (docs / py lib)
            "AUTH1700000000000000",
            ("972fdb5f9dd2676d1d363fff221e4db3f14cf7a1bd7cf5c2baae317251d6aca9"
            "f1412106221dbac44d35ce125fbf4840"),
        ),
        (  # REST cancel, compact body
            '/api/v2/auth/w/order/cancel1700000000000000{"id":123}',
            ("06a58367ea8fc68d720bf6e47e3c8ae6791b03fe62e215e420db2dc6ba797a34"
            "3e330e75bb079e62b8a7db0133b4b66e"),
        ),
        (  # WS auth, node-lib style (nonce twice)
            "AUTH17000000000000001700000000000000",
            ("9988d19ed872ea5c2339d1cbdedbb0d9f5122c4469c2691c927c41cf4df9fdc2"
            "1404cef06924e21f5c333d4922ab9912"),
        ),
        (  # REST cancel, py-lib body (json.dumps adds a space)
            '/api/v2/auth/w/order/cancel1700000000000000{"id": 123}',
            ("82c4b5eb290e5dda3c72fa09123211084bf25bd1ed415b42ad9bd714b27406dc"
            "ea8dc93013a65fbe8b0172724e9eda2f"),
        ),
        (  # REST open orders, body {}
            "/api/v2/auth/r/orders1700000000000000{}",
            ("409e248105be171c488ac1970f247035b11a07e5f7a7ebdbd71242060fc0456d"
            "76e36b4b29baa4851411eff28b2dfd1f"),
        ),
        (  # REST cancel multi
            '/api/v2/auth/w/order/cancel/multi1700000000000000{"id":[123,456]}',
            ("8abb1f3c07b17f73fd3f74a8700592eeb9fd6483b5b4e761c38300e963ac39ba"
            "00da4e9ed4f8a6e2de812b9c0070e6ac"),
        ),
    ],
)
def test_vectors(message: str, signature: str) -> None:
    assert requests.sign(SECRET, message) == signature
    assert requests.sign(SECRET, message.encode()) == signature


def test_ws_auth_message() -> None:
    raw = requests.auth_message("KEY", SECRET, NONCE)
    msg = orjson.loads(raw)
    assert msg == {
        "event": "auth",
        "apiKey": "KEY",
        "authSig": "972fdb5f9dd2676d1d363fff221e4db3f14cf7a1bd7cf5c2baae317251d6aca9"
        "f1412106221dbac44d35ce125fbf4840",
        "authPayload": "AUTH1700000000000000",
        "authNonce": 1700000000000000,  # a JSON number, as the official libraries send it
        "filter": ["trading", "notify"],
    }
    assert "dms" not in msg  # dms:4 would cancel every order whenever the socket drops
    with_dms = orjson.loads(requests.auth_message("KEY", SECRET, NONCE, dead_man_switch=True))
    assert with_dms["dms"] == 4


def test_rest_request_cancel_matches_the_notes() -> None:
    req = requests.rest_request(requests.PATH_CANCEL, {"id": 123}, "KEY", SECRET, NONCE)
    assert req.path == "/v2/auth/w/order/cancel"
    assert req.body == b'{"id":123}'  # the exact bytes signed are the bytes sent
    assert req.headers == {
        "content-type": "application/json",
        "bfx-nonce": "1700000000000000",
        "bfx-apikey": "KEY",
        "bfx-signature": "06a58367ea8fc68d720bf6e47e3c8ae6791b03fe62e215e420db2dc6ba797a34"
        "3e330e75bb079e62b8a7db0133b4b66e",
    }
    assert "KEY" not in repr(req) and SECRET not in repr(req)


def test_rest_request_orders_and_multi() -> None:
    orders = requests.rest_request(requests.PATH_ORDERS, {}, "KEY", SECRET, NONCE)
    assert orders.body == b"{}"
    assert orders.headers["bfx-signature"].startswith("409e248105be171c")
    multi = requests.rest_request(requests.PATH_CANCEL_MULTI, {"id": [123, 456]}, "KEY", SECRET, NONCE)
    assert multi.path == "/v2/auth/w/order/cancel/multi"
    assert multi.body == b'{"id":[123,456]}'
    assert multi.headers["bfx-signature"].startswith("8abb1f3c07b17f73")


# -- cancel inputs -------------------------------------------------------------------------------
def test_cancel_inputs() -> None:
    assert requests.cancel_input(1185815100) == b'[0,"oc",null,{"id":1185815100}]'
    assert requests.cancel_cid_input(1575289350475, "2019-12-02") == (
        b'[0,"oc",null,{"cid":1575289350475,"cid_date":"2019-12-02"}]'
    )
    assert requests.cancel_multi_input({"id": [1, 2]}) == b'[0,"oc_multi",null,{"id":[1,2]}]'
    assert requests.cancel_multi_input({"gid": [11]}) == b'[0,"oc_multi",null,{"gid":[11]}]'
    assert requests.cancel_multi_input({"all": 1}) == b'[0,"oc_multi",null,{"all":1}]'


def row(oid: int, gid: str | None = None, symbol: str = "tBTCUSD") -> Order:
    return Order("bitfinex", "main", str(oid), symbol, Side.BUY, "EXCHANGE LIMIT", Decimal(1),
                 Decimal(1), OrderStatus.OPEN, "ACTIVE", group_id=gid)


def inputs(scope: CancelScope, rows: list[Order]) -> tuple[CancelInput, ...]:
    (plan,) = plan_cancels(scope, rows)
    return cancel_inputs(plan, plan.orders)


def wire(sent: CancelInput) -> tuple[object, str, bytes]:
    return orjson.loads(sent.frame), sent.path, orjson.dumps(sent.body)


def test_one_order_is_one_oc() -> None:
    a = row(7)
    (sent,) = inputs(CancelScope.order(a.key), [a, row(8)])
    assert wire(sent) == ([0, "oc", None, {"id": 7}], "auth/w/order/cancel", b'{"id":7}')
    assert (sent.asked, sent.multi, sent.track_new, sent.order_id) == ((a,), False, False, "7")


def test_everything_is_one_oc_multi_all_that_also_takes_unseen_orders() -> None:
    rows = [row(1), row(2)]
    (sent,) = inputs(CancelScope.for_account(rows[0].account_key), rows)
    assert wire(sent) == ([0, "oc_multi", None, {"all": 1}], "auth/w/order/cancel/multi",
                          b'{"all":1}')
    assert sent.multi and sent.track_new and sent.gid is None
    assert set(sent.asked) == set(rows)


def test_a_group_is_one_oc_multi_gid() -> None:
    rows = [row(1, "11"), row(2, "11"), row(3, "12")]
    (sent,) = inputs(CancelScope.group(rows[0].account_key, "11"), rows)
    assert wire(sent)[0] == [0, "oc_multi", None, {"gid": [11]}]
    assert sent.track_new and sent.gid == "11" and set(sent.asked) == set(rows[:2])


def test_a_group_id_that_is_not_a_number_is_refused() -> None:
    rows = [row(1, "abc")]
    (plan,) = plan_cancels(CancelScope.group(rows[0].account_key, "abc"), rows)
    with pytest.raises(ValueError, match="not a group id: 'abc'"):
        cancel_inputs(plan, plan.orders)


def test_selections_go_in_chunks_of_200_ids() -> None:
    rows = [row(i) for i in range(1, 451)]
    sent = inputs(CancelScope.selected([r.key for r in rows]), rows)
    assert [len(s.body["id"]) for s in sent] == [200, 200, 50]
    assert sorted(i for s in sent for i in s.body["id"]) == list(range(1, 451))
    assert all(s.multi and not s.track_new and s.path == "auth/w/order/cancel/multi"
               for s in sent)
    assert [orjson.loads(s.frame)[3] for s in sent] == [s.body for s in sent]
    assert [o.order_id for s in sent for o in s.asked] == [str(i) for i in range(1, 451)]


def test_a_symbol_is_oc_multi_by_ids() -> None:
    rows = [row(1), row(2, symbol="tETHUSD"), row(3)]
    (sent,) = inputs(CancelScope.for_symbol(rows[0].account_key, "tBTCUSD"), rows)
    assert sorted(orjson.loads(sent.frame)[3]["id"]) == [1, 3]


def test_each_input_is_its_own() -> None:
    a = row(7)
    first, second = (inputs(CancelScope.order(a.key), [a])[0] for _ in range(2))
    assert first != second and len({first, second}) == 2
