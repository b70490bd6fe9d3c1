"""The receipt of a cancel: one true line (counts, the venue's words, a fill that beat the
cancel, what a fresh read found left) with every order's outcome behind it; and what an action
that matches nothing says."""

from __future__ import annotations

from decimal import Decimal

from blotter.core.cancel import (
    CancelPlan,
    CancelResult,
    CancelScope,
    OrderOutcome,
    Outcome,
    ScopeKind,
)
from blotter.core.notices import Level
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.core.receipts import (
    Proof,
    cancel_receipt,
    nothing_to_cancel,
    open_instruments,
    short_id,
)

BYBIT = AccountKey("bybit", "bybit-main")
BFX = AccountKey("bitfinex", "bfx-main")
ACME = AccountKey("b2trader", "acme/Acme Main")
TITLES = {"bybit": "Bybit", "bitfinex": "Bitfinex", "b2trader": "Acme"}
ULID = "01M9ZX4Y2K7Q8R0T1V3W5X6Y7Z"


def label(account: AccountKey) -> str:
    return TITLES[account.venue]


def order(oid: str, account: AccountKey = BYBIT, symbol: str = "BTCUSDT", side: Side = Side.BUY,
          amount: str = "0.01", price: str = "97100", category: str | None = "linear") -> Order:
    return Order(venue=account.venue, account=account.account, order_id=oid, symbol=symbol,
                 side=side, order_type="Limit", amount=Decimal(amount),
                 remaining=Decimal(amount), status=OrderStatus.OPEN, status_text="New",
                 price=Decimal(price), category=category)


def result(account: AccountKey, *outcomes: tuple[Order, Outcome, str],
           error: str | None = None) -> CancelResult:
    plan = CancelPlan(account, ScopeKind.SELECTED, tuple(o for o, _, _ in outcomes))
    r = CancelResult(plan, error=error)
    for o, kind, text in outcomes:
        r.outcomes[o.key] = OrderOutcome(o.key, kind, text)
    return r


def receipt(*results: CancelResult, proof: Proof | None = None):
    known = {o.key: o for r in results for o in r.plan.orders}
    return cancel_receipt(results, label, known, proof)


def test_every_order_cancelled_on_one_account():
    r = result(BFX, *((order(str(n), BFX), Outcome.CANCELLED, "CANCELED") for n in range(3)))
    made = receipt(r)
    assert made.text == "Cancelled 3 of 3 on bfx-main"
    assert made.level is Level.SUCCESS
    assert made.details == tuple(
        f"bfx-main · order {n} (BTCUSDT buy 0.01 @ 97,100): cancelled: CANCELED"
        for n in range(3)
    )


def test_one_order_cancelled_names_it():
    made = receipt(result(BYBIT, (order("7"), Outcome.CANCELLED, "Cancelled")))
    assert made.text == "Cancelled 1 of 1 on bybit-main (BTCUSDT buy 0.01 @ 97,100)"


def test_one_refused_order_carries_the_venues_words_and_its_id():
    refused = order(ULID, ACME, symbol="EUR/CHF", category="cfd")
    made = receipt(result(ACME, (refused, Outcome.REJECTED, "HTTP 500 Internal Server Error")))
    assert made.text == (
        "Cancelled 0 of 1 on acme/Acme Main: HTTP 500 Internal Server Error (order 01M9ZX4Y…)"
    )
    assert made.level is Level.ERROR
    assert made.details == (
        (f"acme/Acme Main · order {ULID} (EUR/CHF buy 0.01 @ 97,100): rejected: "
        "HTTP 500 Internal Server Error"),
    )


def test_words_that_name_the_order_are_not_followed_by_its_id_again():
    words = f"HTTP 404: Order {ULID}: not found"
    made = receipt(result(ACME, (order(ULID, ACME), Outcome.NOT_FOUND, words)))
    assert made.text == f"Cancelled 0 of 1 on acme/Acme Main: not found: {words}"
    assert made.level is Level.WARNING


def test_a_failed_request_gives_its_error_for_an_order_without_words():
    made = receipt(result(BYBIT, (order("9"), Outcome.REJECTED, ""),
                          error="10003: API key is invalid."))
    assert made.text == "Cancelled 0 of 1 on bybit-main: 10003: API key is invalid. (order 9)"
    assert made.details[0] == "bybit-main: the request failed: 10003: API key is invalid."


def test_a_fill_that_beat_the_cancel_is_named_with_its_price():
    made = receipt(result(BYBIT, (order("1"), Outcome.CANCELLED, ""),
                          (order("2", price="97101"), Outcome.CANCELLED, ""),
                          (order("3"), Outcome.FILLED, "Filled")))
    assert made.text == "Cancelled 2 of 3 on bybit-main; 1 filled first (BTCUSDT buy 0.01 @ 97,100)"
    assert made.level is Level.WARNING
    single = receipt(result(BYBIT, (order("3", amount="0.5"), Outcome.FILLED, "Filled")))
    assert single.text == "Cancelled 0 of 1 on bybit-main: filled first (BTCUSDT buy 0.5 @ 97,100)"


def test_many_outcomes_give_the_counts_and_the_first_reason_of_each():
    made = receipt(result(
        ACME,
        (order("a", ACME), Outcome.CANCELLED, ""),
        (order("b", ACME), Outcome.REJECTED, "HTTP 500: busy"),
        (order("c", ACME), Outcome.REJECTED, "HTTP 503: later"),
        (order("d", ACME), Outcome.REJECTED, "HTTP 500: busy"),
        (order("e", ACME), Outcome.TIMED_OUT, ""),
        (order("f", ACME, price="1"), Outcome.FILLED, ""),
        (order("g", ACME, price="2"), Outcome.FILLED, ""),
    ))
    assert made.text == (
        "Cancelled 1 of 7 on acme/Acme Main; 2 filled first (BTCUSDT buy 0.01 @ 1, …); "
        "3 rejected: HTTP 500: busy (order b) and 1 other reason; 1 timed out"
    )
    assert made.level is Level.ERROR
    # the trouble first, in the order of the line, what was cancelled last
    assert [d.split(": ", 1)[1].split(" ")[0] for d in made.details] == [
        "filled", "filled", "rejected:", "rejected:", "rejected:", "timed", "cancelled"]


def test_a_long_reason_is_cut_in_the_line_and_kept_whole_in_the_details():
    words = "HTTP 502: " + "the upstream gateway said something very long " * 4
    made = receipt(result(ACME, (order("a", ACME), Outcome.REJECTED, words),
                          (order("b", ACME), Outcome.CANCELLED, "")))
    assert made.text == (f"Cancelled 1 of 2 on acme/Acme Main; 1 rejected: {words[:79]}… "
                         "(order a)")
    assert made.details[0].endswith(words)


def test_several_venues_are_counted_each():
    made = receipt(
        result(BFX, *((order(f"b{n}", BFX), Outcome.CANCELLED, "") for n in range(2))),
        result(BYBIT, (order("y"), Outcome.CANCELLED, "")),
        result(ACME, (order("m", ACME), Outcome.CANCELLED, "")),
        result(AccountKey("b2trader", "acme/Acme Margin"),
               (order("n", ACME), Outcome.CANCELLED, "")),
    )
    assert made.text == "Cancelled 5 of 5: Bitfinex 2, Bybit 1, Acme 2"


def test_an_account_whose_request_failed_as_a_whole_is_named():
    made = receipt(result(BFX, (order("1", BFX), Outcome.CANCELLED, "")),
                   result(BYBIT, error="bybit-main is not connected"))
    assert made.text == (
        "Cancelled 1 of 1: Bitfinex 1, Bybit 0; bybit-main: bybit-main is not connected"
    )
    assert made.level is Level.ERROR


def test_the_proof_completes_the_receipt():
    done = result(BFX, (order("1", BFX), Outcome.CANCELLED, ""),
                  (order("2", BFX), Outcome.CANCELLED, ""))
    assert receipt(done, proof=Proof()).text == "Cancelled 2 of 2 on bfx-main; 0 left"
    left = tuple(order(f"L{n}", BFX, side=Side.SELL, price=str(100 + n)) for n in range(4))
    made = receipt(done, proof=Proof(left))
    assert made.text == (
        "Cancelled 2 of 2 on bfx-main; 4 left: BTCUSDT sell 0.01 @ 100 (order L0), "
        "BTCUSDT sell 0.01 @ 101 (order L1), BTCUSDT sell 0.01 @ 102 (order L2), …"
    )
    assert made.level is Level.WARNING
    # what is still open comes first in the details, then the outcomes
    assert made.details[3] == (
        "bfx-main · order L3 (BTCUSDT sell 0.01 @ 103): still open at the venue after the cancel"
    )
    assert made.details[4:] == (
        "bfx-main · order 1 (BTCUSDT buy 0.01 @ 97,100): cancelled",
        "bfx-main · order 2 (BTCUSDT buy 0.01 @ 97,100): cancelled",
    )
    unread = receipt(done, proof=Proof((), ("bybit-main",)))
    assert unread.text == "Cancelled 2 of 2 on bfx-main; could not re-read bybit-main to prove it"
    assert unread.level is Level.WARNING


def test_orders_that_arrived_since_are_told_apart_from_those_left():
    done = result(BFX, (order("1", BFX), Outcome.CANCELLED, ""))
    new = order("N", BFX, side=Side.SELL, price="99")
    made = receipt(done, proof=Proof(arrived=(new,)))
    assert made.text == (
        "Cancelled 1 of 1 on bfx-main (BTCUSDT buy 0.01 @ 97,100); 0 left; "
        "1 arrived since: BTCUSDT sell 0.01 @ 99 (order N)"
    )
    assert Proof(arrived=(new,)).rest == (new,)
    assert made.level is Level.WARNING


def test_short_ids():
    assert short_id("190649378748") == "190649378748"
    assert short_id(ULID) == "01M9ZX4Y…"


def test_a_scope_that_matches_nothing_says_what_is_open_there():
    book = [order("1", side=Side.SELL), order("2", side=Side.SELL),
            order("3", symbol="ETHUSDT"), order("4", BFX, symbol="tBTCUSD", category=None)]
    buys = CancelScope.for_instrument(book[0], Side.BUY)
    assert nothing_to_cancel(buys, book) == (
        "Nothing to cancel: no open buys of BTCUSDT Linear on bybit-main. "
        "Open there: BTCUSDT Linear (2 sells), ETHUSDT Linear (1 buy)."
    )
    assert nothing_to_cancel(CancelScope.for_account(AccountKey("bybit", "idle")), book) == (
        "Nothing to cancel: no open orders on idle. Nothing is open there."
    )
    assert nothing_to_cancel(CancelScope.everything(Side.SELL), book[2:]) == (
        "Nothing to cancel: no open sells on any account. "
        "Open there: ETHUSDT Linear (1 buy), tBTCUSD (1 buy)."
    )
    everywhere = CancelScope.symbol_everywhere("bybit", "SOLUSDT", "spot")
    assert nothing_to_cancel(everywhere, book) == (
        "Nothing to cancel: no open SOLUSDT Spot on any bybit account. "
        "Open there: BTCUSDT Linear (2 sells), ETHUSDT Linear (1 buy)."
    )
    assert nothing_to_cancel(CancelScope.order(book[0].key), []) == (
        "Order 1 is no longer open; nothing to cancel."
    )


def test_many_instruments_are_cut_short():
    book = [order(str(n), symbol=f"S{n:02}USDT") for n in range(8)]
    assert open_instruments(book).endswith("S05USDT Linear (1 buy) and 2 more.")
