"""The B2TRADER REST replies against the notes' examples (tests/fixtures/b2trader): the token
exchange, the accounts, cancel answers and every kind of error body.

Expectations are spelled out field by field: the recorded payloads are the parser's spec."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from decimal import Decimal

import pytest

from blotter.core.cancel import Outcome
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader.orders import account_labels, parse_timestamp, trading_account_keys
from blotter.venues.b2trader.replies import (
    RETRY_WAIT_CAP,
    CancelRetries,
    CancelStep,
    TradingAccount,
    gone_outcome,
    jwt_expiry,
    parse_access_token,
    parse_accounts,
    parse_cancel_error,
    parse_cancel_reply,
    parse_error,
    retry_after,
    select_accounts,
)
from tests.venues.b2trader.samples import ACCOUNT, NOW_MS, ORDER_ID, jwt, raw


# -- token -------------------------------------------------------------------------------------
def test_parse_access_token_reads_exp_without_verifying() -> None:
    token = parse_access_token(raw("rest_access_token.json"), NOW_MS)
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
    token = parse_access_token(
        json.dumps({"accessToken": jwt({"iat": 1000, "exp": 4600})}), now_ms=4_600_000 + 3_600_000
    )
    assert token.expires_ms - (4_600_000 + 3_600_000) == 3_600_000


def test_token_without_exp_gets_the_default_hour() -> None:
    token = parse_access_token(b'{"accessToken": "opaque-token", "tokenType": "x"}', 5000)
    assert not token.from_claim
    assert token.expires_ms == 5000 + 3_600_000
    assert token.renew_at_ms == 5000 + 2_880_000


def test_expired_claim_without_iat_falls_back_to_the_default() -> None:
    token = parse_access_token(json.dumps({"accessToken": jwt({"exp": 10})}), 50_000)
    assert not token.from_claim
    assert token.expires_ms == 50_000 + 3_600_000


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"accessToken": ""}', b'{"accessToken": 5}', b"[]", b"<html>"]
)
def test_bad_access_token_replies(body: bytes) -> None:
    with pytest.raises(MalformedFrame):
        parse_access_token(body, 0)


def test_jwt_expiry() -> None:
    token = json.loads(raw("rest_access_token.json"))["accessToken"]
    assert jwt_expiry(token) == 1656103154
    # every padding length: payloads of 1, 2 and 3 bytes mod 3
    for pad in ("", "x", "xx"):
        assert jwt_expiry(jwt({"exp": 1700000000, "p": pad})) == 1700000000
    assert jwt_expiry(jwt({"exp": 1700000000.9})) == 1700000000


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
    assert jwt_expiry(token) is None

# -- accounts ----------------------------------------------------------------------------------
def test_parse_accounts_verbatim_example() -> None:
    accounts = parse_accounts(raw("rest_accounts.json"))
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
    assert account_labels(accounts) == {
        "685a7eaa360f9e7416221a61": "B2TRADER Hedging account",
        "6891e70db552ff9c6fbbccf5": "B2TRADER Netting account",
    }
    assert trading_account_keys("broker-main", accounts) == {
        "685a7eaa360f9e7416221a61": ACCOUNT,
        "6891e70db552ff9c6fbbccf5": AccountKey("b2trader", "broker-main/B2TRADER Netting account"),
    }

def test_accounts_b2prime_fields_and_duplicate_names() -> None:
    body = json.dumps([
        {"accountId": "aaaa0001", "accountName": "Main", "publicAccountId": 1234567,
         "accountType": "Netting", "totalBalanceInRAT": 12.5, "isCopyTradingAccount": True},
        {"accountId": "bbbb0002", "accountName": "Main"},
        {"accountId": "cccc0003"},
    ])
    accounts = parse_accounts(body)
    assert accounts[0].public_account_id == 1234567
    assert accounts[0].total_balance == Decimal("12.5")  # a JSON number, read exactly
    assert accounts[0].is_copy_trading
    assert accounts[1] == TradingAccount("bbbb0002", "Main", "", None, False)
    assert account_labels(accounts) == {
        "aaaa0001": "Main …0001",
        "bbbb0002": "Main …0002",
        "cccc0003": "cccc0003",
    }
    assert trading_account_keys("acme", accounts) == {
        "aaaa0001": AccountKey("b2trader", "acme/Main …0001"),
        "bbbb0002": AccountKey("b2trader", "acme/Main …0002"),
        "cccc0003": AccountKey("b2trader", "acme/cccc0003"),
    }


@pytest.mark.parametrize(
    "body", [b"{}", b"[1]", b'[{"accountName": "x"}]', b'[{"accountId": 5}]', b"nope"]
)
def test_bad_accounts_replies(body: bytes) -> None:
    with pytest.raises(MalformedFrame):
        parse_accounts(body)

# -- cancel replies (§2.4) ---------------------------------------------------------------------
def test_cancel_reply_cancelled() -> None:
    reply = parse_cancel_reply(raw("rest_cancel_cancelled.json"), ACCOUNT, ORDER_ID)
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
        category="spot", instrument_id="spot.btc_usdt", time_in_force="Gtc",
    )


def test_cancel_reply_filled_race() -> None:
    reply = parse_cancel_reply(raw("rest_cancel_completed.json"), ACCOUNT, ORDER_ID)
    assert reply.outcome is Outcome.FILLED
    assert reply.order is not None
    assert reply.order.status is OrderStatus.FILLED
    assert reply.order.avg_price == Decimal("115190.5")
    assert reply.order.filled == Decimal("0.02")


def test_cancel_reply_still_working_is_reported_not_settled() -> None:
    reply = parse_cancel_reply(raw("rest_cancel_working.json"), ACCOUNT, ORDER_ID)
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
    reply = parse_cancel_reply(json.dumps(body), ACCOUNT, ORDER_ID)
    assert reply.outcome is outcome
    assert reply.text.startswith(status)
    if status == "Frozen":
        assert reply.order is None  # an unknown status is no Order, the reply still reads
    if status == "Rejected":
        assert reply.order is not None
        assert reply.order.status_text == "Rejected · Insufficient margin"


def test_cancel_reply_minimal_echo() -> None:
    reply = parse_cancel_reply(
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
        parse_cancel_reply(body, ACCOUNT, "X1")


# -- error replies (§2.7, §2.8) ----------------------------------------------------------------
def test_404_problem_details() -> None:
    err = parse_cancel_error(404, raw("rest_error_404_problem.json"), ORDER_ID)
    assert err.text == (
        "Order 01K2PF9XS29WN4JZRHMCTTQYJB: Not Found: Order 01K2PF9XS29WN4JZRHMCTTQYJB was not "
        "found. (HTTP 404)"
    )
    assert err.outcome is Outcome.NOT_FOUND and err.order_gone
    assert not err.retryable and not err.auth_failed


def test_404_empty_body() -> None:
    err = parse_cancel_error(404, b"", "123")
    assert err.text == "Order 123: not found (HTTP 404)"
    assert err.summary == "Order 123: not found"
    assert err.message == ""
    assert err.outcome is Outcome.NOT_FOUND


def test_400_problem_details_and_validation() -> None:
    err = parse_cancel_error(400, raw("rest_error_400_problem.json"), "123")
    assert err.text == (
        "Order 123: Bad Request: Order is already Completed and cannot be cancelled. (HTTP 400)"
    )
    assert err.outcome is Outcome.NOT_FOUND
    val = parse_cancel_error(400, raw("rest_error_400_validation.json"), "123")
    assert val.message == (
        "One or more validation errors occurred. (accountId: The accountId header is required.)"
    )
    assert parse_cancel_error(400, None, "9").text == (
        "Order 9: cannot be cancelled (already finished?) (HTTP 400)"
    )


def test_401_empty_body_uses_www_authenticate() -> None:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token", '
                                   'error_description="The token expired at \'08/14/2025\'"'}
    err = parse_cancel_error(401, b"", "123", headers=headers)
    assert err.text == "Order 123: The token expired at '08/14/2025' (HTTP 401)"
    assert err.auth_failed and not err.retryable
    assert err.outcome is Outcome.REJECTED
    bare = parse_cancel_error(401, b"", "123")
    assert bare.text == "Order 123: not authorised (access token invalid or expired) (HTTP 401)"


def test_403_other_json_and_plain_text() -> None:
    err = parse_cancel_error(403, raw("rest_error_403_message.json"), "123")
    assert err.text == "Order 123: forbidden: Account does not belong to the user (HTTP 403)"
    assert err.outcome is Outcome.REJECTED and not err.order_gone
    assert parse_cancel_error(403, b"", "1").text == (
        "Order 1: forbidden (account or permission) (HTTP 403)"
    )
    assert parse_cancel_error(403, b'{"message": "Denied"}', "1").message == "Denied"
    assert parse_cancel_error(403, b'"Denied."', "1").message == "Denied."
    assert parse_cancel_error(403, b'{"foo": [1, 2]}', "1").message == '{"foo":[1,2]}'


def test_429_retry_after_seconds_and_date() -> None:
    err = parse_cancel_error(429, b"", "123", headers={"retry-after": "5"})
    assert err.text == "Order 123: rate limited; retry in 5 s (HTTP 429)"
    assert err.retry_after_s == 5.0 and err.retryable
    dated = parse_cancel_error(
        429, b"Too Many Requests", "123",
        headers={"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}, now_ms=784111767000,
    )
    assert dated.retry_after_s == 10.0
    assert dated.text == "Order 123: Too Many Requests; retry in 10 s (HTTP 429)"


def test_5xx_bodies() -> None:
    legacy = parse_cancel_error(500, raw("rest_error_500_legacy.json"), "123")
    assert legacy.text == "Order 123: Unexpected error occurred (HTTP 500)"
    assert legacy.retryable and legacy.outcome is Outcome.REJECTED
    plain = parse_cancel_error(503, raw("rest_error_503_plain.txt"), "123")
    assert plain.text == "Order 123: Service Unavailable (HTTP 503)"
    html = parse_cancel_error(502, raw("rest_error_502_html.html"), "123",
                                    headers={"Content-Type": "text/html"})
    assert html.text == "Order 123: 502 Bad Gateway (HTTP 502)"
    empty = parse_cancel_error(504, b"  ", "123")
    assert empty.text == "Order 123: venue error (HTTP 504)"


def test_error_texts_stay_short_and_single_line() -> None:
    err = parse_cancel_error(500, ("x\n" * 100_000).encode(), "123")
    assert len(err.summary) <= 200 and "\n" not in err.summary
    bad = parse_cancel_error(400, b"\xff\xfe broken", "123")
    assert bad.message == "\ufffd\ufffd broken"
    generic = parse_error(401, b"", "API token")
    assert generic.text == "API token: not authorised (access token invalid or expired) (HTTP 401)"
    assert generic.outcome is Outcome.REJECTED
    assert parse_error(404, b"", "Accounts").outcome is Outcome.REJECTED  # not a cancel


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
    assert retry_after(value, now_ms) == expected


# -- what a cancel's answer means for the order ------------------------------------------------
def test_a_cancelled_reply_closes_the_row_as_the_venue_returned_it() -> None:
    reply = parse_cancel_reply(raw("rest_cancel_cancelled.json"), ACCOUNT, ORDER_ID)
    assert reply.closed_status is OrderStatus.CANCELLED
    assert reply.order is not None
    row = replace(reply.order, status=OrderStatus.OPEN, status_text="Pending")
    assert reply.closed_order(row) is reply.order
    # A minimal echo holds no whole order: the row closes with the reply's status word.
    echo = parse_cancel_reply(b'{"order":{"orderId":"X1","status":"Completed"}}', ACCOUNT, "X1")
    row = replace(row, order_id="X1")
    closed = echo.closed_order(row)
    assert (closed.status, closed.status_text) == (OrderStatus.FILLED, "Completed")
    assert closed.amount == row.amount and closed.key == row.key


def test_select_accounts_by_id_or_name() -> None:
    accounts = parse_accounts(raw("rest_accounts.json"))
    assert select_accounts(accounts, ()) == accounts
    assert select_accounts(accounts, ["B2TRADER Netting account"]) == accounts[1:]
    assert select_accounts(accounts, ["685a7eaa360f9e7416221a61", "nope"]) == accounts[:1]
    assert select_accounts(accounts, ["nope"]) == ()


def test_a_401_renews_the_token_once_then_stands() -> None:
    retries = CancelRetries("123")
    error = parse_cancel_error(401, b"", "123")
    assert retries.after_error(error) == (CancelStep.RENEW, 0.0)
    assert retries.after_error(error) == (CancelStep.REFUSED, 0.0)


def test_429_waits_for_retry_after_capped_five_times() -> None:
    retries = CancelRetries("123")
    waits = [retries.after_error(parse_cancel_error(429, b"", "123", headers={"Retry-After": s}))
             for s in ("2", "60", "", "0", "1")]
    assert waits == [(CancelStep.RETRY, 2.0), (CancelStep.RETRY, RETRY_WAIT_CAP),
                     (CancelStep.RETRY, 1.0), (CancelStep.RETRY, 0.0), (CancelStep.RETRY, 1.0)]
    assert retries.after_error(parse_cancel_error(429, b"", "123"))[0] is CancelStep.REFUSED


def test_5xx_and_no_answer_are_sent_again_twice_in_all() -> None:
    retries = CancelRetries("123")
    assert retries.after_error(parse_cancel_error(503, b"", "123")) == (CancelStep.RETRY, 0.25)
    assert retries.after_unreachable() == 0.4
    assert retries.after_unreachable() is None
    assert retries.after_error(parse_cancel_error(500, b"", "123"))[0] is CancelStep.REFUSED


def test_a_repeated_delete_that_finds_the_order_gone_never_says_cancelled() -> None:
    gone = parse_cancel_error(404, b"", "123")
    assert CancelRetries("123").after_error(gone) == (CancelStep.REFUSED, 0.0)  # first answer
    retries = CancelRetries("123")
    retries.after_error(parse_cancel_error(502, b"", "123"))
    assert retries.repeated
    assert retries.after_error(gone) == (CancelStep.GONE, 0.0)
    # gone, and the venue did not say how: closed, how unknown (a fill may have won)
    unknown = gone_outcome(gone, "123", repeated=True)
    assert (unknown.outcome, unknown.status) == (Outcome.CLOSED, None)
    assert unknown.text == "Order 123: closed, how unknown (the repeated request found it gone)"
    assert "cancelled" not in unknown.text
    # A refusal that leaves the order open is never read as gone.
    assert retries.after_error(parse_cancel_error(403, b"", "123"))[0] is CancelStep.REFUSED


PROBLEM_400 = (b'{"title":"Bad Request","status":400,"detail":"Order \'123\' cannot be '
               b'cancelled in status Completed."}')


@pytest.mark.parametrize(
    ("body", "outcome", "status", "text"),
    [
        (PROBLEM_400, Outcome.FILLED, OrderStatus.FILLED,
         "Order 123: filled (the repeated request found it Completed)"),
        (b'{"message":"cannot be cancelled: it is Completed"}', Outcome.FILLED,
         OrderStatus.FILLED, "Order 123: filled (the repeated request found it Completed)"),
        (b'{"detail":"Order 123 cannot be cancelled in status Cancelled."}', Outcome.CANCELLED,
         OrderStatus.CANCELLED, "Order 123: cancelled (the repeated request found it Cancelled)"),
        (b'{"detail":"cannot be cancelled in status Expired."}', Outcome.CLOSED,
         OrderStatus.EXPIRED, "Order 123: expired (the repeated request found it Expired)"),
        (b'{"detail":"cannot be cancelled: it is finished"}', Outcome.CLOSED, None,
         ("Order 123: closed, how unknown (the repeated request found it gone: cannot be "
          "cancelled: it is finished)")),
        (b'{"detail":"neither Completed nor Cancelled"}', Outcome.CLOSED, None, None),
    ],
)
def test_the_status_a_finished_orders_400_names_is_its_outcome(
    body: bytes, outcome: Outcome, status: OrderStatus | None, text: str | None
) -> None:
    error = parse_cancel_error(400, body, "123")
    gone = gone_outcome(error, "123", repeated=True)
    assert (gone.outcome, gone.status) == (outcome, status)
    if text is not None:
        assert gone.text == text
    # the first DELETE's own answer says the same, in its own words
    first = gone_outcome(error, "123", repeated=False)
    assert first.outcome is outcome and "the repeated request" not in first.text
    if status is not None:
        assert first.text.endswith(f"(the venue says {status_word(status)})")


def status_word(status: OrderStatus) -> str:
    return {OrderStatus.FILLED: "Completed", OrderStatus.CANCELLED: "Cancelled",
            OrderStatus.EXPIRED: "Expired"}[status]


def test_only_a_cancel_reads_a_status_from_an_error() -> None:
    assert parse_error(400, b'{"detail":"in status Completed"}', "Accounts").order_status == ""
    assert parse_cancel_error(500, b'{"detail":"in status Completed"}', "1").order_status == ""
