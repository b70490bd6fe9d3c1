"""Plain orders for the table's tests: one builder, so every UI test module reads its rows alike."""

from __future__ import annotations

from decimal import Decimal

from blotter.core.order import Flag, Order, OrderStatus, Side

T0 = 1_700_000_000_000


def make_order(
    n: int,
    *,
    price: str = "100",
    amount: str = "1",
    remaining: str | None = None,
    account: str = "acct",
    symbol: str = "tBTCUSD",
    group: str | None = None,
    side: Side = Side.BUY,
    status_text: str = "ACTIVE",
    flags: frozenset[Flag] = frozenset(),
) -> Order:
    remaining_d = Decimal(remaining if remaining is not None else amount)
    return Order(
        venue="bitfinex",
        account=account,
        order_id=str(n),
        symbol=symbol,
        side=side,
        order_type="EXCHANGE LIMIT",
        amount=Decimal(amount),
        remaining=remaining_d,
        status=OrderStatus.OPEN if remaining_d == Decimal(amount) else OrderStatus.PARTIALLY_FILLED,
        status_text=status_text,
        price=Decimal(price),
        group_id=group,
        flags=flags,
        created_ms=T0 + n * 1000,
        updated_ms=T0 + n * 1000,
    )
