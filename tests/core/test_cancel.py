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


def bybit(oid: str, account: AccountKey, symbol: str, category: str, side: Side) -> Order:
    return replace(order(oid, account, symbol), venue=account.venue, category=category,
                   side=side)


def oids(plans) -> set[str]:
    return {i for p in plans for i in p.order_ids}


BY1, BY2 = AccountKey("bybit", "by-1"), AccountKey("bybit", "by-2")
BYBIT_BOOK = [
    bybit("l1", BY1, "BTCUSDT", "linear", Side.BUY),
    bybit("l2", BY1, "BTCUSDT", "linear", Side.SELL),
    bybit("s1", BY1, "BTCUSDT", "spot", Side.BUY),
    bybit("l3", BY2, "BTCUSDT", "linear", Side.BUY),
    bybit("e1", BY1, "ETHUSDT", "linear", Side.BUY),
]


def test_an_instrument_is_its_symbol_in_its_market_not_every_market() -> None:
    (plan,) = plan_cancels(CancelScope.for_instrument(BYBIT_BOOK[0]), BYBIT_BOOK)
    assert oids([plan]) == {"l1", "l2"}  # the spot BTCUSDT order stays
    assert (plan.symbol, plan.category) == ("BTCUSDT", "linear")
    assert CancelScope.for_instrument(BYBIT_BOOK[0]).describe() == "BTCUSDT Linear on by-1"


def test_one_side_of_an_instrument_and_of_an_account() -> None:
    buys = CancelScope.for_instrument(BYBIT_BOOK[0], Side.BUY)
    assert oids(plan_cancels(buys, BYBIT_BOOK)) == {"l1"}
    assert buys.describe() == "buys of BTCUSDT Linear on by-1"
    sells = CancelScope.for_account(BY1, Side.SELL)
    (plan,) = plan_cancels(sells, BYBIT_BOOK)
    assert oids([plan]) == {"l2"}
    assert sells.describe() == "all sells on by-1"
    # a one-sided plan may never go out as the venue's cancel-all: that would take both sides
    assert plan.everything is False
    assert plan_cancels(CancelScope.for_account(BY1), BYBIT_BOOK)[0].everything is True


def test_an_instrument_everywhere_is_every_account_of_that_venue() -> None:
    scope = CancelScope.symbol_everywhere("bybit", "BTCUSDT", "linear")
    plans = plan_cancels(scope, [*BYBIT_BOOK, order("x", A, "BTCUSDT")])
    assert {p.account for p in plans} == {BY1, BY2}
    assert oids(plans) == {"l1", "l2", "l3"}
    assert scope.describe() == "BTCUSDT Linear on every bybit account"


def test_everything_of_one_side() -> None:
    scope = CancelScope.everything(Side.BUY)
    assert oids(plan_cancels(scope, BYBIT_BOOK)) == {"l1", "s1", "l3", "e1"}
    assert scope.describe() == "all buys on every account"


def test_a_plan_covers_what_its_scope_names_also_orders_seen_later() -> None:
    (plan,) = plan_cancels(CancelScope.for_instrument(BYBIT_BOOK[0], Side.SELL), BYBIT_BOOK)
    later_sell = bybit("l9", BY1, "BTCUSDT", "linear", Side.SELL)
    later_buy = bybit("l8", BY1, "BTCUSDT", "linear", Side.BUY)
    assert plan.covers(later_sell) and not plan.covers(later_buy)
    assert not plan.covers(bybit("s9", BY1, "BTCUSDT", "spot", Side.SELL))


def test_the_visible_rows_are_named_so() -> None:
    scope = CancelScope.visible([BYBIT_BOOK[0].key, BYBIT_BOOK[1].key])
    assert scope.describe() == "2 visible orders"
    assert oids(plan_cancels(scope, BYBIT_BOOK)) == {"l1", "l2"}
