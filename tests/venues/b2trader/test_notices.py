"""B2TRADER's notices: the words and the level the status bar shows for errors, cancel answers,
closed orders, ended streams, unreadable lists and the progress of many single cancels."""

from __future__ import annotations

from blotter.core.cancel import OrderOutcome, Outcome
from blotter.core.notices import Level, Notice
from blotter.core.order import OrderKey
from blotter.venues.b2trader.notices import (
    cancel_failed_notice,
    cancel_notice,
    closed_notice,
    error_notice,
    progress_notice,
    progress_summary_notice,
    stream_error_notice,
)
from blotter.venues.b2trader.replies import parse_cancel_error, parse_cancel_reply
from tests.venues.b2trader.samples import ACCOUNT, ORDER_ID, raw


# -- notices -----------------------------------------------------------------------------------
def test_error_notice() -> None:
    err = parse_cancel_error(404, b"", "123")
    n = error_notice(err, ACCOUNT, ts_ms=5, order_ids=("123",))
    assert (n.venue, n.account, n.level, n.ts_ms) == (
        "b2trader", "broker-main/B2TRADER Hedging account", Level.WARNING, 5
    )
    assert n.line() == "HTTP 404: Order 123: not found"
    assert n.order_ids == ("123",)
    assert error_notice(parse_cancel_error(403, b"", "1"), ACCOUNT).level is Level.ERROR


def test_cancel_and_closed_notices() -> None:
    reply = parse_cancel_reply(raw("rest_cancel_cancelled.json"), ACCOUNT)
    n = cancel_notice(reply, ACCOUNT, 7)
    assert n.level is Level.SUCCESS
    assert n.line() == (
        "HTTP 200: Cancelled: BTC/USDT buy 0.02 @ 115193.35 (01K2PF9XS29WN4JZRHMCTTQYJB)"
    )
    assert n.order_ids == (ORDER_ID,)
    assert reply.order is not None
    closed = closed_notice(reply.order)
    assert closed.level is Level.SUCCESS
    assert closed.line() == "Cancelled: BTC/USDT buy 0.02 @ 115193.35 (spot)"
    filled = parse_cancel_reply(raw("rest_cancel_completed.json"), ACCOUNT)
    assert cancel_notice(filled, ACCOUNT).level is Level.INFO


def test_stream_error_notice() -> None:
    n = stream_error_notice("Unknown account", ACCOUNT, "Main")
    assert n.level is Level.ERROR
    assert n.text == "Order stream for Main ended: Unknown account"
    ended = stream_error_notice(None, ACCOUNT)
    assert (ended.level, ended.text) == (Level.WARNING, "Order stream ended by the venue")


def test_a_cancel_without_an_answer_names_the_order() -> None:
    reply = parse_cancel_reply(raw("rest_cancel_cancelled.json"), ACCOUNT)
    assert reply.order is not None
    n = cancel_failed_notice(reply.order, "Order X: cannot reach Acme: ConnectError", 3)
    assert (n.level, n.text, n.order_ids, n.status) == (
        Level.ERROR, "Order X: cannot reach Acme: ConnectError", (ORDER_ID,), None
    )


def test_progress_of_many_single_cancels_then_how_they_ended() -> None:
    line = progress_notice(ACCOUNT, "Acme Main", 37, 120)
    assert (line.text, line.level, line.transient) == (
        "Cancelling 37/120 on Acme Main…", Level.INFO, True
    )
    key = OrderKey("b2trader", ACCOUNT.account, "1")

    def ended(*outcomes: Outcome) -> Notice:
        return progress_summary_notice(
            ACCOUNT, "Acme Main", [OrderOutcome(key, o) for o in outcomes]
        )

    done = ended(Outcome.CANCELLED, Outcome.CANCELLED)
    assert (done.text, done.level, done.transient) == (
        "Cancelled 2 of 2 on Acme Main", Level.SUCCESS, False
    )
    raced = ended(Outcome.CANCELLED, Outcome.FILLED, Outcome.NOT_FOUND, Outcome.FILLED)
    assert (raced.text, raced.level) == (
        "Cancelled 1 of 4 on Acme Main: 2 filled, 1 not found", Level.WARNING
    )
    refused = ended(Outcome.CANCELLED, Outcome.TIMED_OUT)
    assert (refused.text, refused.level) == (
        "Cancelled 1 of 2 on Acme Main: 1 timed out", Level.ERROR
    )
    assert ended(Outcome.REJECTED).level is Level.ERROR
