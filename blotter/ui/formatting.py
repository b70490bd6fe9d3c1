"""How an order reads in the table: decimals as the venue wrote them, shares, local times,
sides, flags, the order kind, the row's tooltip and the words the filter box matches.

Pure functions of an ``Order`` (no model, no view), so the table, the tooltips, the filter and
the tests agree on every word.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from blotter.core.cancel import category_title
from blotter.core.order import Flag, Order, OrderStatus, Side

MISSING = "—"

VenueLabel = Callable[[str, str], str]  # (venue, account) → "Bitfinex", "Bybit", "Acme"
# an order's notional in its quote currency, as its venue reckons it: (amount, "USDT"), or None
Notional = Callable[[Order], "tuple[Decimal, str] | None"]


def no_notional(order: Order) -> tuple[Decimal, str] | None:
    """What a view shows before the engine knows the venues: no notional."""
    return None


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
    """The order's flags in words ("hidden, post-only"), in one order whatever the venue."""
    flags = order.flags
    text = _FLAG_TEXTS.get(flags)  # a set of flags hashes once; parsers share one per set
    if text is None:
        text = _FLAG_TEXTS[flags] = ", ".join(FLAG_NAMES[f] for f in Flag if f in flags)
    return text


# every set of Flag members there can be: at most 2 ** len(Flag) entries
_FLAG_TEXTS: dict[frozenset[Flag], str] = {}


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
    lines.append(f"Status: {status_words(order)} (the venue says: {order.status_text})"
                 + ("  — cancel requested" if pending else ""))
    if order.trigger_price is not None:
        lines.append(f"Trigger price {format_decimal(order.trigger_price)}")
    if order.time_in_force:
        lines.append(f"Time in force: {order.time_in_force}")
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
            status_words(order),
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


# -- the columns a trader reads at a glance ---------------------------------------------------
STATUS_WORDS = {
    OrderStatus.OPEN: "Open",
    OrderStatus.PARTIALLY_FILLED: "Partially filled",
    OrderStatus.UNTRIGGERED: "Untriggered",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.REJECTED: "Rejected",
    OrderStatus.EXPIRED: "Expired",
}


def status_words(order: Order) -> str:
    """The Status column's words, one vocabulary for every venue (the venue's own words stay
    in the tooltip): "Open", "Partially filled 54% @ 97,471.87", "Untriggered · trigger
    101,000". An open order with fills reads as partially filled whatever word the venue
    uses for it."""
    status = order.status
    filled = order.filled
    if status is OrderStatus.UNTRIGGERED:
        trigger = order.trigger_price
        return "Untriggered" if trigger is None else f"Untriggered · trigger {format_decimal(trigger)}"
    if status.is_open and filled > 0:
        words = f"Partially filled {format_percent(filled, order.amount)}"
        avg = order.avg_price
        return words if avg is None or avg.is_zero() else f"{words} @ {format_decimal(avg)}"
    return STATUS_WORDS[status]


def format_notional(value: tuple[Decimal, str] | None) -> str:
    """A notional for the table: cents for amounts of one and more, six significant digits
    below ("1,198.83 USDT", "0.118649 BTC"); empty when the venue gives no way to reckon it."""
    if value is None:
        return ""
    amount, currency = value
    if abs(amount) >= 1:
        shown = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        text = format(shown, ",f")
    elif amount.is_zero():
        text = "0"
    else:
        exponent = amount.adjusted() - 5  # six significant digits
        shown = amount.quantize(Decimal(1).scaleb(max(exponent, -12)), rounding=ROUND_HALF_EVEN)
        text = format(shown.normalize(), "f")
    return f"{text} {currency}" if currency else text


def format_optional(value: Decimal | None) -> str:
    """A number that not every order has (average price, trigger): empty when missing."""
    return "" if value is None or value.is_zero() else format_decimal(value)


def average_text(order: Order) -> str:
    """The average fill price, shown once something filled."""
    return format_optional(order.avg_price) if order.filled > 0 else ""


def tif_text(order: Order) -> str:
    """Time in force in the venue's word; empty where the venue sends none."""
    return order.time_in_force or ""


FLAG_SHORT = {
    Flag.POST_ONLY: "post",
    Flag.REDUCE_ONLY: "reduce",
    Flag.HIDDEN: "hidden",
    Flag.OCO: "OCO",
    Flag.CLOSE: "close",
}


def flags_short(order: Order) -> str:
    """The Flags column: "post · reduce" (the tooltip has them in full)."""
    flags = order.flags
    if not flags:
        return ""
    return " · ".join(FLAG_SHORT[f] for f in Flag if f in flags)


def age_text(created_ms: int | None, now_ms: int) -> str:
    """How long ago an order was made, in the largest whole unit: "12s", "4m", "2h", "3d"."""
    if created_ms is None:
        return ""
    seconds = max(0, (now_ms - created_ms) // 1000)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86_400}d"


def created_text(ms: int | None, now_ms: int) -> str:
    """Created, local clock: "14:02:11" today, "Dec 05 14:02" another day this year, the date
    in an earlier year: yesterday's order never reads like today's."""
    if ms is None:
        return MISSING
    moment = datetime.fromtimestamp(ms / 1000).astimezone()
    now = datetime.fromtimestamp(now_ms / 1000).astimezone()
    if moment.date() == now.date():
        return moment.strftime("%H:%M:%S")
    if moment.year == now.year:
        return moment.strftime("%b %d %H:%M")
    return moment.strftime("%Y-%m-%d")


def time_tooltip(ms: int | None) -> str:
    """A moment in full, UTC and local: for the Created and Age cells."""
    if ms is None:
        return "The venue sent no creation time"
    utc = datetime.fromtimestamp(ms / 1000, tz=UTC)
    millis = f"{utc.microsecond // 1000:03d}"
    return (f"Created {utc.strftime('%Y-%m-%d %H:%M:%S')}.{millis} UTC\n"
            f"Local {local_time(ms, with_date=True)}")
