"""Bitfinex's answers to our requests, from the recorded frames: cancel acknowledgements (``n``,
on the socket or as a REST body) and REST errors (bitfinex.md §3.4, §5.4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from blotter.core.order import OrderStatus, Side
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex.orders import OrderParser
from blotter.venues.bitfinex.replies import as_text, parse_notification, parse_rest_error
from tests.helpers import fixture_bytes, fixture_json
from tests.venues.bitfinex.samples import ACCOUNT, recorded

VENUE = "bitfinex"


def test_n_oc_req_success_from_the_cancel_docs() -> None:
    event = recorded("n_oc_req_success.json")
    assert event.kind == "oc-req"
    assert event.status == "SUCCESS"
    assert event.ok
    assert event.text == "Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    assert event.code is None
    assert event.mts == 1575291219660
    assert event.order_ids == ("1185815100",)
    assert event.client_ids == ("1575289350475",)
    assert len(event.orders) == 1
    acked = event.orders[0]
    assert acked.order_id == "1185815100"
    assert acked.status is OrderStatus.OPEN  # still ACTIVE: an ack is not a cancel
    assert acked.status_text == "ACTIVE"
    assert acked.side is Side.SELL
    assert acked.amount == Decimal(3)


def test_n_oc_multi_req() -> None:
    event = recorded("n_oc_multi_req.json")
    assert event.kind == "oc_multi-req"
    assert event.status == "SUCCESS"
    assert event.text == "Submitting 2 order cancellations."
    assert event.order_ids == ("1187248974", "1187248975")
    assert [o.order_id for o in event.orders] == ["1187248974", "1187248975"]
    assert all(o.symbol == "tBTCUSD" and o.side is Side.BUY for o in event.orders)


def test_n_error_order_not_found() -> None:
    event = recorded("n_error_not_found.json")
    assert event.kind == "oc-req"
    assert event.status == "ERROR"
    assert not event.ok
    assert event.text == "Order not found."
    assert event.order_ids == ("1111",)  # the stub keeps the id at [0]
    assert event.orders == ()  # ... and nothing else


def test_rest_cancel_answers_are_bare_notifications() -> None:
    orders = OrderParser(ACCOUNT)
    one = parse_notification(fixture_json(VENUE, "rest_cancel.json"), orders)
    assert (one.kind, one.status, one.order_ids) == ("oc-req", "SUCCESS", ("1185815100",))
    assert one.text == "Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    many = parse_notification(fixture_json(VENUE, "rest_cancel_multi.json"), orders)
    assert many.kind == "oc_multi-req"
    assert many.order_ids == ("31123704044", "31123725368")
    assert [o.amount for o in many.orders] == [Decimal("0.001"), Decimal("0.001")]
    assert many.text == "Submitting 2 order cancellations."


def test_id_only_success_stub_gives_the_id() -> None:
    stub = [16662905539] + [None] * 31
    n = parse_notification(
        [1, "oc-req", None, None, stub, None, "SUCCESS", "Submitted for cancellation"],
        OrderParser(ACCOUNT),
    )
    assert n.order_ids == ("16662905539",)
    assert n.orders == ()


def test_an_old_error_stub_without_the_id_names_nothing() -> None:
    # before 2019 an oc-req ERROR stub did not echo the order (bitfinex.md §3.4)
    n = parse_notification(
        [1, "oc-req", None, None, [0] + [None] * 25, None, "ERROR", "id: invalid"],
        OrderParser(ACCOUNT),
    )
    assert (n.status, n.text, n.order_ids, n.client_ids, n.orders) == (
        "ERROR", "id: invalid", (), (), ()
    )


@pytest.mark.parametrize(
    "data",
    [None, [], [1, "oc-req"], [1, None, None, None, [], None, "ERROR", "x"],
     [1, "oc-req", None, None, [], None, 7, "x"]],
)
def test_a_notification_without_its_fields_is_malformed(data: Any) -> None:
    with pytest.raises(MalformedFrame):
        parse_notification(data, OrderParser(ACCOUNT))


def test_rest_error_body() -> None:
    err = parse_rest_error(500, fixture_bytes(VENUE, "rest_error_nonce.json"))
    assert (err.http_status, err.code, err.text) == (500, 10114, "nonce: small")
    limited = parse_rest_error(429, b'{"error":"ERR_RATE_LIMIT"}')
    assert (limited.http_status, limited.code, limited.text) == (429, None, "ERR_RATE_LIMIT")
    assert parse_rest_error(429, b"").text.startswith("ratelimit")


def test_a_rest_error_that_is_not_the_venues_shape_is_quoted() -> None:
    assert parse_rest_error(502, b"<html>Bad Gateway</html>").text == "<html>Bad Gateway</html>"
    assert parse_rest_error(503, b"").text == "HTTP 503"
    assert as_text(None) == "" and as_text(12) == "12"
