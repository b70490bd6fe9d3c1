"""How an order reads in the table: decimals as the venue wrote them, shares, local times,
sides, flags, the order kind, the row's tooltip and the words the filter box matches.

Pure functions of an ``Order`` (no model, no view), so the table, the tooltips, the filter and
the tests agree on every word.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from blotter.core.cancel import category_title
from blotter.core.order import Flag, Order, Side

MISSING = "—"

VenueLabel = Callable[[str, str], str]  # (venue, account) → "Bitfinex", "Bybit", "Acme"


def default_venue_label(venue: str, account: str) -> str:
    """The venue's own name: what a view shows before the engine names the venues."""
    return venue


FLAG_NAMES = {
    Flag.HIDDEN: "hidden",
    Flag.POST_ONLY: "post-only",
    Flag.REDUCE_ONLY: "reduce-only",
    Flag.OCO: "OCO",
    Flag.CLOSE: "close",
}


def format_decimal(value: Decimal | None, grouping: bool = True) -> str:
    """A venue decimal as written: normalised (no trailing zeros, no exponent, no float noise)."""
    if value is None:
        return MISSING
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"
    normal = value.normalize()
    return format(normal, ",f" if grouping else "f")


def format_percent(part: Decimal, whole: Decimal) -> str:
    """Share of ``whole`` rounded down (a nearly filled order never shows 100%)."""
    if whole.is_zero():
        return "0%"
    pct = part * 100 / whole
    step = Decimal(1) if pct >= 1 or pct.is_zero() else Decimal("0.1")
    if 99 < pct < 100:
        step = Decimal("0.1")
    shown = pct.quantize(step, rounding=ROUND_DOWN)
    if shown.is_zero() and not pct.is_zero():
        return "<0.1%"
    return f"{format(shown.normalize(), 'f')}%"


def format_filled(order: Order) -> str:
    filled = order.filled
    if filled.is_zero():
        return "0"
    return f"{format_decimal(filled)} ({format_percent(filled, order.amount)})"


def local_time(ms: int | None, with_date: bool = False) -> str:
    if ms is None:
        return MISSING
    moment = datetime.fromtimestamp(ms / 1000).astimezone()
    if with_date:
        millis = f"{moment.microsecond // 1000:03d}"
        return moment.strftime(f"%Y-%m-%d %H:%M:%S.{millis} %Z")
    return moment.strftime("%H:%M:%S")


def side_text(side: Side) -> str:
    return "Buy" if side is Side.BUY else "Sell"


def flag_text(order: Order) -> str:
    return ", ".join(FLAG_NAMES[f] for f in Flag if f in order.flags)


def order_tooltip(
    order: Order, pending: bool, venue_label: VenueLabel = default_venue_label
) -> str:
    price = format_decimal(order.price) if order.price is not None else "market"
    lines = [
        f"{order.account} ({venue_label(order.venue, order.account)}) · order {order.order_id}",
        (
            f"{side_text(order.side)} {format_decimal(order.amount)} {order.symbol} @ {price}"
            f"  ({order.order_type})"
        ),
        (
            f"Filled {format_decimal(order.filled)} of {format_decimal(order.amount)}"
            f" ({format_percent(order.filled, order.amount)}), remaining "
            f"{format_decimal(order.remaining)}"
        ),
    ]
    if order.avg_price is not None and not order.avg_price.is_zero():
        lines.append(f"Average fill price {format_decimal(order.avg_price)}")
    lines.append(f"Status: {order.status_text}" + ("  — cancel requested" if pending else ""))
    flags = flag_text(order)
    lines.append(f"Flags: {flags}" if flags else "Flags: none")
    if order.group_id:
        lines.append(f"Group {order.group_id}")
    if order.client_id:
        date = f" ({order.client_id_date})" if order.client_id_date else ""
        lines.append(f"Client ID {order.client_id}{date}")
    if order.category:
        lines.append(f"Market: {order.category}")
    lines.append(f"Created {local_time(order.created_ms, with_date=True)}")
    if order.updated_ms is not None and order.updated_ms != order.created_ms:
        lines.append(f"Updated {local_time(order.updated_ms, with_date=True)}")
    return "\n".join(lines)


def filter_text(order: Order, venue_label: VenueLabel = default_venue_label) -> str:
    """What the filter box matches against: the row's words, lower-cased, in one string."""
    return " ".join(
        (
            order.venue,
            venue_label(order.venue, order.account),
            order.account,
            order.symbol,
            side_text(order.side),
            order.order_type,
            order.category or "",
            order.status_text,
            order.order_id,
            order.group_id or "",
            order.client_id or "",
            flag_text(order),
        )
    ).lower()


def type_text(order: Order) -> str:
    """The order type, led by the market kind where the venue has several (a spot and a
    linear BTCUSDT order must not look alike): "Spot Limit", "Linear Stop Limit"."""
    if order.category:
        return f"{category_title(order.category)} {order.order_type}"
    return order.order_type
