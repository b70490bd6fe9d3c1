"""What the trader reads from Bybit: the venue's words verbatim (error codes, the closed order's
status), and the blotter's own sentences about cancels (one line for a bulk cancel, rate-limit
waits, what a cancel-all left, a cancel without confirmation, a fill that won the race)."""

from __future__ import annotations

import pytest

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome, ScopeKind
from blotter.core.notices import Level
from blotter.core.order import AccountKey, OrderKey
from blotter.venues.bybit import notices
from blotter.venues.bybit.orders import parse_order
from blotter.venues.bybit.replies import VenueReply, parse_cancel
from tests.helpers import fixture_bytes, fixture_json

ACCOUNT = AccountKey("bybit", "main")


def test_closed_notice_is_the_venues_status_and_the_order() -> None:
    item = fixture_json("bybit", "ws_order_cancelled.json")["data"][0]
    order = parse_order(item, ACCOUNT, item["category"])
    n = notices.closed_notice(order)
    assert n.level is Level.SUCCESS
    assert n.line() == "Cancelled · CancelByUser · EC_PerCancelRequest: SOLUSDT buy 0.1 @ 99 (linear)"
    assert n.order_ids == ("f38c5e38-46ef-4a8a-b115-fd3392d4f144",)
    filled = parse_order(dict(item, orderStatus="Filled", cancelType="UNKNOWN",
                              rejectReason="EC_NoError", price="0", orderType="Market"),
                          ACCOUNT, "linear")
    n = notices.closed_notice(filled, ts_ms=7)
    assert (n.level, n.ts_ms) == (Level.INFO, 7)
    assert n.line() == "Filled: SOLUSDT buy 0.1 (linear)"  # no price: a market order
    rejected = parse_order(dict(item, orderStatus="Rejected"), ACCOUNT, "linear")
    assert notices.closed_notice(rejected).level is Level.WARNING


def test_error_notice_texts() -> None:
    gone = parse_cancel(fixture_bytes("bybit", "rest_cancel_110001.json"))
    assert isinstance(gone, VenueReply)
    n = notices.error_notice(gone, ACCOUNT, ts_ms=5, order_ids=("a",))
    assert (n.venue, n.account, n.level, n.status, n.ts_ms, n.order_ids) == (
        "bybit", "main", Level.WARNING, "110001", 5, ("a",)
    )
    assert n.line() == "110001: Order does not exist"
    ws = VenueReply(110001, "order not exists or too late to cancel")
    assert notices.error_notice(ws, ACCOUNT).line() == (
        "110001: order not exists or too late to cancel"
    )
    rate = notices.error_notice(VenueReply(10006, "Too many visits!"), ACCOUNT)
    assert rate.level is Level.ERROR and rate.line() == "10006: Too many visits!"
    assert notices.error_notice(VenueReply(10003, ""), ACCOUNT).line() == (
        "10003: API key is invalid."
    )
    assert notices.error_notice(VenueReply(0, "OK"), ACCOUNT).level is Level.SUCCESS


def result_of(*outcomes: Outcome) -> CancelResult:
    result = CancelResult(CancelPlan(ACCOUNT, ScopeKind.ACCOUNT, ()))
    for n, outcome in enumerate(outcomes):
        key = OrderKey("bybit", "main", str(n))
        result.outcomes[key] = OrderOutcome(key, outcome)
    return result


@pytest.mark.parametrize(("outcomes", "line", "level"), [
    ((Outcome.CANCELLED,) * 40, "Cancelled 40 of 40 on main", Level.SUCCESS),
    ((Outcome.CANCELLED, Outcome.FILLED, Outcome.FILLED, Outcome.NOT_FOUND),
     "Cancelled 1 of 4 on main: 2 filled, 1 not found", Level.WARNING),
    ((Outcome.CANCELLED, Outcome.REJECTED), "Cancelled 1 of 2 on main: 1 rejected", Level.ERROR),
    ((Outcome.TIMED_OUT, Outcome.CLOSED), "Cancelled 0 of 2 on main: 1 timed out, 1 closed, how unknown",
     Level.ERROR),
])
def test_a_bulk_cancel_is_one_line(
    outcomes: tuple[Outcome, ...], line: str, level: Level
) -> None:
    n = notices.bulk_cancel_notice(result_of(*outcomes), ACCOUNT, 9)
    assert n is not None
    assert (n.line(), n.level, n.ts_ms, n.venue, n.account) == (line, level, 9, "bybit", "main")
    assert notices.bulk_cancel_notice(result_of(), ACCOUNT, 9) is None


def test_a_rate_limit_wait_is_said_with_the_venues_code() -> None:
    n = notices.rate_limit_notice(ACCOUNT, "/v5/order/cancel", "10006: Too many visits!", 0.75, 3)
    assert (n.level, n.status, n.ts_ms) == (Level.INFO, "10006", 3)
    assert n.line() == ("10006: Too many visits!: rate limit reached on /v5/order/cancel; "
                        "sending again in 0.8 s")
    http = notices.rate_limit_notice(ACCOUNT, "/v5/order/cancel", "HTTP 429 (system busy)", 1, 3)
    assert http.status is None
    assert http.line() == ("HTTP 429 (system busy): rate limit reached on /v5/order/cancel; "
                           "sending again in 1.0 s")


def test_what_a_cancel_all_left_open() -> None:
    body = {"category": "linear", "settleCoin": "USDT"}
    assert notices.cancel_all_left_text(body, 200, 1) == (
        "200 linear orders (USDT) still open at Bybit after 1 cancel-all rounds of 500; "
        "cancel again"
    )
    assert notices.cancel_all_left_text({"category": "inverse"}, 3, 5) == (
        "3 inverse orders still open at Bybit after 5 cancel-all rounds of 500; cancel again"
    )


def test_a_cancel_without_confirmation() -> None:
    assert notices.no_confirmation_text(0.5, reread=True) == (
        "no confirmation from Bybit within 0.5 s; the order is still open at the venue"
    )
    assert notices.no_confirmation_text(10.0, reread=False) == (
        "no confirmation from Bybit within 10 s, and the open orders could not be re-read; "
        "state unknown"
    )


def test_a_fill_that_won_the_race_is_a_warning() -> None:
    key = OrderKey("bybit", "main", "123")
    n = notices.filled_first_notice(OrderOutcome(key, Outcome.FILLED, "Filled"), 4)
    assert (n.level, n.order_ids, n.ts_ms, n.account) == (Level.WARNING, ("123",), 4, "main")
    assert n.line() == "Order 123 was filled before the cancel: Filled"
