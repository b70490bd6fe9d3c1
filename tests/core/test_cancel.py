"""Cancel planning: a scope becomes one plan per account over the orders really open; a close
says how a cancel in flight ended, and each cancel's ticket is settled exactly once."""

from dataclasses import replace
from decimal import Decimal

import pytest

from blotter.core.cancel import (
    CancelResult,
    CancelScope,
    CancelTicket,
    OrderOutcome,
    Outcome,
    ScopeKind,
    outcome_for_close,
    plan_cancels,
)
from blotter.core.order import AccountKey, Order, OrderStatus, Side

A = AccountKey("bitfinex", "main")
B = AccountKey("bitfinex", "alt")
C = AccountKey("bybit", "main")


def order(oid: str, account: AccountKey, symbol: str = "tBTCUSD", group: str | None = None) -> Order:
    return Order(
        venue=account.venue, account=account.account, order_id=oid, symbol=symbol,
        side=Side.SELL, order_type="LIMIT", amount=Decimal(2), remaining=Decimal(2),
        status=OrderStatus.OPEN, status_text="ACTIVE", group_id=group,
    )


BOOK = [
    order("1", A, group="7"),
    order("2", A, group="7"),
    order("3", A, symbol="tETHUSD", group="8"),
    order("4", B, group="7"),
    order("5", C, symbol="tETHUSD"),
]


def ids(plans):
    return {str(p.account): sorted(p.order_ids) for p in plans}


def test_one_order() -> None:
    plans = plan_cancels(CancelScope.order(BOOK[2].key), BOOK)
    assert ids(plans) == {"bitfinex:main": ["3"]}
    assert plans[0].kind is ScopeKind.ORDER


def test_selected_orders_split_per_account() -> None:
    plans = plan_cancels(CancelScope.selected([BOOK[0].key, BOOK[3].key, BOOK[4].key]), BOOK)
    assert ids(plans) == {"bitfinex:main": ["1"], "bitfinex:alt": ["4"], "bybit:main": ["5"]}


def test_a_single_selected_order_is_planned_as_one_order() -> None:
    plans = plan_cancels(CancelScope.selected([BOOK[1].key]), BOOK)
    assert plans[0].kind is ScopeKind.ORDER


def test_selection_of_orders_already_gone_plans_nothing() -> None:
    gone = order("99", A).key
    assert plan_cancels(CancelScope.selected([gone]), BOOK) == []


def test_group_is_per_account() -> None:
    plans = plan_cancels(CancelScope.group(A, "7"), BOOK)
    assert ids(plans) == {"bitfinex:main": ["1", "2"]}
    assert plans[0].group_id == "7"


def test_symbol_is_per_account() -> None:
    plans = plan_cancels(CancelScope.for_symbol(A, "tETHUSD"), BOOK)
    assert ids(plans) == {"bitfinex:main": ["3"]}


def test_account_scope_plans_even_with_no_rows_showing() -> None:
    plans = plan_cancels(CancelScope.for_account(AccountKey("bitfinex", "empty")), BOOK)
    assert ids(plans) == {"bitfinex:empty": []}
    assert plans[0].everything


def test_everything() -> None:
    plans = plan_cancels(CancelScope.everything(), BOOK)
    assert ids(plans) == {
        "bitfinex:main": ["1", "2", "3"], "bitfinex:alt": ["4"], "bybit:main": ["5"],
    }
    assert all(p.everything for p in plans)


# -- what a close says about a cancel in flight ------------------------------------------------
def closed_as(status: OrderStatus, text: str) -> Order:
    return replace(BOOK[0], status=status, status_text=text, remaining=Decimal(0))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (OrderStatus.CANCELLED, Outcome.CANCELLED),
        (OrderStatus.FILLED, Outcome.FILLED),  # the fill won the race
        (OrderStatus.EXPIRED, Outcome.CLOSED),
        (OrderStatus.REJECTED, Outcome.CLOSED),
    ],
)
def test_the_venues_final_status_decides_the_outcome(status, outcome) -> None:
    assert outcome_for_close(closed_as(status, "final")) is outcome


def test_an_order_that_vanished_from_a_fresh_list_is_closed_how_unknown() -> None:
    assert outcome_for_close(None) is Outcome.CLOSED


def test_which_outcomes_mean_the_order_is_gone() -> None:
    gone = {o for o in Outcome if o.order_gone}
    assert gone == {Outcome.CANCELLED, Outcome.FILLED, Outcome.NOT_FOUND, Outcome.CLOSED}
    # still open, or unknown until the next resync: the row comes back
    assert not Outcome.REJECTED.order_gone and not Outcome.TIMED_OUT.order_gone


def test_a_result_is_ok_only_when_every_order_was_cancelled() -> None:
    plan = plan_cancels(CancelScope.for_account(A), BOOK)[0]
    result = CancelResult(plan)
    for o in plan.orders:
        result.outcomes[o.key] = OrderOutcome(o.key, Outcome.CANCELLED, "Canceled")
    assert result.ok and result.count(Outcome.CANCELLED) == 3
    first = plan.orders[0].key
    result.outcomes[first] = OrderOutcome(first, Outcome.FILLED, "EXECUTED @ 30000(2)")
    assert not result.ok
    assert (result.count(Outcome.CANCELLED), result.count(Outcome.FILLED)) == (2, 1)
    failed = CancelResult(plan, error="HTTP 429: ratelimit: error")
    assert not failed.ok


@pytest.mark.parametrize(
    ("scope", "said"),
    [
        (CancelScope.order(BOOK[0].key), "order 1"),
        (CancelScope.selected([BOOK[0].key, BOOK[1].key, BOOK[0].key]), "2 selected orders"),
        (CancelScope.group(A, "7"), "group 7 on main"),
        (CancelScope.for_symbol(A, "tETHUSD"), "tETHUSD on main"),
        (CancelScope.for_account(B), "all orders on alt"),
        (CancelScope.everything(), "all orders on every account"),
    ],
)
def test_a_scope_says_what_it_cancels(scope: CancelScope, said: str) -> None:
    assert scope.describe() == said


# -- the ticket of one cancel --------------------------------------------------------------
def test_a_ticket_settles_once_and_tells_each_callback_once() -> None:
    key = BOOK[0].key
    ticket = CancelTicket(key)
    heard: list[OrderOutcome] = []
    ticket.add_callback(heard.append)
    ticket.add_callback(heard.append)
    assert not ticket.settled and ticket.outcome is None and heard == []
    assert ticket.settle(Outcome.FILLED, "EXECUTED @ 30000(2)") is True
    expected = OrderOutcome(key, Outcome.FILLED, "EXECUTED @ 30000(2)")
    assert ticket.settled and ticket.outcome == expected
    assert heard == [expected, expected]
    # the cancel's own answer arriving after the fill changes nothing
    assert ticket.settle(Outcome.CANCELLED, "Canceled") is False
    assert ticket.outcome == expected and heard == [expected, expected]


def test_a_callback_added_after_settling_runs_at_once() -> None:
    ticket = CancelTicket(BOOK[1].key)
    ticket.settle(Outcome.REJECTED, "ERROR: Order not found.")
    heard: list[OrderOutcome] = []
    ticket.add_callback(heard.append)
    assert heard == [OrderOutcome(BOOK[1].key, Outcome.REJECTED, "ERROR: Order not found.")]
