"""Which cancel input a Bitfinex acknowledgement answers, and what follows for each asked order,
from the recorded ``n`` frames (tests/fixtures/bitfinex, bitfinex.md §3.4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from blotter.core.cancel import CancelScope, Outcome, plan_cancels
from blotter.core.order import Order, OrderKey, OrderStatus, Side
from blotter.venues.bitfinex.acks import (
    ABSENT_FROM_ACK,
    ACKED_THEN_GONE,
    AckBook,
    Settled,
    after_timeout,
    refusal,
)
from blotter.venues.bitfinex.orders import OrderParser
from blotter.venues.bitfinex.replies import Notification, parse_notification
from blotter.venues.bitfinex.requests import CancelInput, cancel_inputs
from tests.venues.bitfinex.samples import ACCOUNT, array, recorded

VENUE = "bitfinex"


def note(info: Any, status: str = "SUCCESS", text: str = "", kind: str = "oc-req") -> Notification:
    return parse_notification([1, kind, None, None, info, None, status, text],
                              OrderParser(ACCOUNT))


def row(oid: int | str, gid: str | None = None) -> Order:
    return Order("bitfinex", "main", str(oid), "tBTCUSD", Side.BUY, "LIMIT", Decimal(1),
                 Decimal(1), OrderStatus.OPEN, "ACTIVE", group_id=gid)


def key(oid: int | str) -> OrderKey:
    return OrderKey("bitfinex", "main", str(oid))


def sent(scope: CancelScope, *rows: Order) -> CancelInput:
    (plan,) = plan_cancels(scope, rows)
    (one,) = cancel_inputs(plan, plan.orders)
    return one


def one(oid: int | str) -> CancelInput:
    return sent(CancelScope.order(key(oid)), row(oid))


def selected(*oids: int | str) -> CancelInput:
    return sent(CancelScope.selected([key(i) for i in oids]), *(row(i) for i in oids))


def everything(*rows: Order) -> CancelInput:
    return sent(CancelScope.for_account(ACCOUNT), *rows)


def group(gid: str, *rows: Order) -> CancelInput:
    return sent(CancelScope.group(ACCOUNT, gid), *rows)


# -- which input an answer answers ---------------------------------------------------------------
def test_oc_req_answers_the_input_of_its_order() -> None:
    book = AckBook(ACCOUNT)
    other, mine = one(1), one(1185815100)
    book.expect(other)
    book.expect(mine)
    assert book.match(recorded("n_oc_req_success.json")) is mine
    assert book.match(recorded("n_oc_req_success.json")) is None  # answered once
    assert book.drop() == [other]


def test_an_error_stub_with_the_id_answers_that_input() -> None:
    book = AckBook(ACCOUNT)
    first, lost = one(5), one(1111)
    book.expect(first)
    book.expect(lost)
    assert book.match(recorded("n_error_not_found.json")) is lost


def test_an_old_error_stub_without_the_id_answers_the_oldest_single_input() -> None:
    book = AckBook(ACCOUNT)
    first, second = one(5), one(6)
    book.expect(first)
    book.expect(second)
    old = note([0] + [None] * 25, "ERROR", "id: invalid")
    assert book.match(old) is first
    assert book.match(note([0] + [None] * 25, "SUCCESS", "Submitted")) is None  # never a success


def test_a_cid_cancel_is_answered_by_its_cid() -> None:
    book = AckBook(ACCOUNT)
    by_cid = CancelInput(b"", "", {}, (), multi=False, cid="1575289350475")
    book.expect(one(9))
    book.expect(by_cid)
    assert book.match(recorded("n_oc_req_success.json")) is by_cid  # its CID [2]


def test_oc_multi_req_answers_the_oldest_input_it_fits() -> None:
    book = AckBook(ACCOUNT)
    elsewhere = selected(1, 2)
    fits = selected(1187248974, 1187248975, 3)  # 3 was already gone at the venue
    later = selected(1187248974, 1187248975)
    for s in (elsewhere, fits, later):
        book.expect(s)
    assert book.match(recorded("n_oc_multi_req.json")) is fits
    assert book.match(recorded("n_oc_multi_req.json")) is later
    assert book.drop() == [elsewhere]


def test_oc_multi_req_answers_a_group_when_every_listed_order_is_of_it() -> None:
    book = AckBook(ACCOUNT)
    g7, g8 = group("7", row(1, "7")), group("8", row(2, "8"))
    book.expect(g7)
    book.expect(g8)
    answer = note([array(id=2, gid=8), array(id=3, gid=8)], kind="oc_multi-req")
    assert book.match(answer) is g8


def test_everything_fits_any_oc_multi_req() -> None:
    book = AckBook(ACCOUNT)
    cancel_all = everything(row(1))
    book.expect(cancel_all)
    assert book.match(recorded("n_oc_multi_req.json")) is cancel_all


def test_other_notifications_answer_nothing() -> None:
    book = AckBook(ACCOUNT)
    book.expect(one(1))
    assert book.match(note(array(id=1), kind="on-req")) is None
    assert book.match(note([], kind="ucm-test")) is None


def test_a_withdrawn_input_is_not_awaited() -> None:
    book = AckBook(ACCOUNT)
    single, multi = one(1185815100), selected(1187248974, 1187248975)
    book.expect(single)
    book.expect(multi)
    book.withdraw(single)
    book.withdraw(multi)
    book.withdraw(multi)  # twice is harmless
    assert book.match(recorded("n_oc_req_success.json")) is None
    assert book.drop() == []


# -- what follows --------------------------------------------------------------------------------
def test_a_success_acknowledges_the_listed_orders_but_settles_none() -> None:
    book = AckBook(ACCOUNT)
    mine = one(1185815100)
    answer = book.answer(mine, recorded("n_oc_req_success.json"))
    assert answer.text == "Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    assert answer.settled == () and answer.track == ()
    assert answer.error is None and not answer.resync
    assert answer.acknowledged == (key(1185815100),)
    assert book.acknowledged == {key(1185815100)}  # the oc still says how it closed


def test_an_asked_order_missing_from_the_acknowledgement_is_not_found() -> None:
    book = AckBook(ACCOUNT)
    answer = book.answer(selected(1187248974, 1187248975, 3), recorded("n_oc_multi_req.json"))
    assert answer.settled == (Settled(key(3), Outcome.NOT_FOUND, ABSENT_FROM_ACK),)
    assert answer.resync  # the table had a row the venue no longer has
    assert book.acknowledged == {key(1187248974), key(1187248975)}


def test_a_group_or_everything_tracks_orders_the_table_had_not_seen() -> None:
    book = AckBook(ACCOUNT)
    answer = book.answer(everything(row(1187248974)), recorded("n_oc_multi_req.json"))
    assert [o.order_id for o in answer.track] == ["1187248975"]
    assert answer.acknowledged == (key(1187248974), key(1187248975))
    assert answer.settled == ()
    assert book.acknowledged == {key(1187248974), key(1187248975)}
    # a plain selection never tracks what it did not ask
    plain = AckBook(ACCOUNT).answer(selected(1187248974), recorded("n_oc_multi_req.json"))
    assert plain.track == ()


def test_not_found_settles_the_asked_order_and_rereads() -> None:
    book = AckBook(ACCOUNT)
    answer = book.answer(one(1111), recorded("n_error_not_found.json"))
    assert answer.settled == (Settled(key(1111), Outcome.NOT_FOUND, "Order not found."),)
    assert answer.text == "Order not found."
    assert answer.resync and answer.error is None
    assert answer.acknowledged == () and book.acknowledged == set()


def test_any_other_error_rejects_with_the_venues_text() -> None:
    book = AckBook(ACCOUNT)
    answer = book.answer(one(2), note(array(id=2), "ERROR", "Order could not be cancelled."))
    assert answer.settled == (
        Settled(key(2), Outcome.REJECTED, "Order could not be cancelled."),
    )
    assert not answer.resync and answer.error is None


def test_an_error_for_nothing_asked_fails_the_input_itself() -> None:
    answer = AckBook(ACCOUNT).answer(everything(), note([], "ERROR", "", kind="oc_multi-req"))
    assert answer.error == "ERROR"  # the status when the venue gave no text
    assert answer.text == ""  # the result quotes only the venue's own words
    assert answer.settled == ()


@pytest.mark.parametrize(
    ("status", "code", "text", "outcome", "error"),
    [
        (500, 10001, "Order not found.", Outcome.NOT_FOUND, None),
        (0, None, "cannot reach Bitfinex: timed out", Outcome.REJECTED, "cannot reach"),
        (429, None, "ratelimit: too many requests (HTTP 429)", Outcome.REJECTED, "ratelimit"),
        (500, 11010, "ratelimit: error", Outcome.REJECTED, "ratelimit"),
        (500, 10100, "apikey: invalid", Outcome.REJECTED, "apikey"),
        (500, 10020, "id: invalid", Outcome.REJECTED, None),
    ],
)
def test_a_refused_rest_cancel(
    status: int, code: int | None, text: str, outcome: Outcome, error: str | None
) -> None:
    answer = refusal(one(4), text, status=status, code=code)
    assert answer.settled == (Settled(key(4), outcome, text),)
    assert answer.text == text
    assert answer.resync is (outcome is Outcome.NOT_FOUND)
    if error is None:
        assert answer.error is None
    else:
        assert answer.error == text and text.startswith(error)


def test_acknowledged_orders_gone_from_a_fresh_list_are_closed() -> None:
    book = AckBook(ACCOUNT)
    book.answer(everything(), recorded("n_oc_multi_req.json"))
    assert book.gone({"1187248975"}) == [Settled(key(1187248974), Outcome.CLOSED, ACKED_THEN_GONE)]
    assert book.acknowledged == {key(1187248975)}
    book.forget([key(1187248975)])
    assert book.acknowledged == set() and book.gone(set()) == []


def test_after_a_timeout_the_reread_says_what_happened() -> None:
    gone, still = after_timeout([key(1), key(2)], {"2"}, 0.5)
    assert gone == Settled(key(1), Outcome.CLOSED, "no longer open at Bitfinex")
    assert still == Settled(
        key(2), Outcome.TIMED_OUT,
        "no confirmation from Bitfinex within 0.5 s; the order is still open at the venue",
    )
    (unknown,) = after_timeout([key(3)], None, 10.0)
    assert unknown == Settled(
        key(3), Outcome.TIMED_OUT,
        "no confirmation from Bitfinex within 10 s, and the open orders could not be re-read; "
        "state unknown",
    )
