"""Cancel planning: a scope becomes one plan per account over the orders really open."""

from decimal import Decimal

from blotter.core.cancel import CancelScope, ScopeKind, plan_cancels
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
