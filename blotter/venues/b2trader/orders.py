"""B2TRADER order records → core ``Order``s, pure: an order's fields (exact decimals, ISO 8601
timestamps, the venue's status words) and the trading account it belongs to.

Nothing here touches a socket or reads a clock. Protocol notes: ``/work/shared/venues/b2trader.md``
(orders §2.4 and §3.6, statuses §4.1, accounts §1.3, pitfalls §5).

Amounts are decimal strings (``"0.9"``) and stay exact ``Decimal``s. Where the venue sends a JSON
number instead (P-6), ``to_decimal`` raises ``InexactNumber`` for a float so that the caller
re-reads the record with ``parse_float=Decimal`` and no digit is lost. Every parser raises
``MalformedFrame`` for input that is not what the protocol says, and nothing else; error texts are
short and never echo a payload or a token. The field readers here serve every parser of the venue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from blotter.core.order import (
    AccountKey,
    Closed,
    Flag,
    Order,
    OrderFields,
    OrderKey,
    OrderStatus,
    Side,
    Upsert,
    build_order,
    implausible_numbers,
)
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader.spec import VENUE

if TYPE_CHECKING:
    from blotter.venues.b2trader.replies import TradingAccount


TEXT_LIMIT: Final = 200  # characters of any text for the trader


# -- reading JSON and fields -------------------------------------------------------------------
class InexactNumber(Exception):
    """A money field came as a JSON number read into a float: re-read the record exactly."""




def reject_constant(name: str) -> Any:
    """``parse_constant`` of the JSON readers: NaN and Infinity are no numbers of this venue."""
    raise MalformedFrame(f"{name} is not a number")


def loads_exact(raw: str | bytes | bytearray | memoryview) -> Any:
    """Stdlib JSON with exact decimals (not the hot path: REST bodies and P-6 re-reads)."""
    if isinstance(raw, memoryview):
        raw = bytes(raw)
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=reject_constant)
    except MalformedFrame:
        raise
    except (ValueError, TypeError, UnicodeError, RecursionError) as exc:
        raise MalformedFrame(f"not JSON ({type(exc).__name__})") from None


def short(value: Any, limit: int = 40) -> str:
    """A value for an error text: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean(text: str, limit: int = TEXT_LIMIT) -> str:
    """One line of at most ``limit`` characters: control characters and runs of space folded."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


DECIMAL_TEXT: Final = re.compile(r"[-+]?[0-9]{1,40}(?:\.[0-9]{1,40})?")


def to_decimal(value: Any, what: str) -> Decimal:
    """A decimal string (or an exact JSON number) → ``Decimal``; a float raises
    ``InexactNumber`` (re-read the record), anything else ``MalformedFrame``."""
    t = type(value)
    if t is str:
        if not DECIMAL_TEXT.fullmatch(value):
            raise MalformedFrame(f"{what} is not a decimal string")
        return Decimal(value)
    if t is Decimal:
        if not value.is_finite():
            raise MalformedFrame(f"{what} is not finite")
        return value  # type: ignore[no-any-return]
    if t is int:
        return Decimal(value)
    if t is float:
        raise InexactNumber(what)
    raise MalformedFrame(f"{what} is not a decimal")


def _opt_decimal(
    obj: Mapping[str, Any], key: str, *, zero_is_none: bool = False
) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    number = to_decimal(value, key)
    return None if zero_is_none and number == 0 else number


def opt_text(obj: Mapping[str, Any], key: str) -> str:
    """The string field ``key``, ``""`` when absent or null; ``MalformedFrame`` otherwise."""
    value = obj.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise MalformedFrame(f"{key} is not a string")
    return value


# -- timestamps --------------------------------------------------------------------------------
_TIMESTAMP: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_MONTH_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(y: int, m: int, d: int) -> int:
    # Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_timestamp(text: str) -> int:
    """ISO 8601 → epoch milliseconds (UTC), truncating digits below the millisecond.

    1 to 9 fractional digits (the venue sends 3 or 7, P-7), ``Z``, an offset, or no zone at all
    (taken as UTC, which the venue documents). Raises ``MalformedFrame``.
    """
    if type(text) is not str:
        raise MalformedFrame("timestamp is not a string")
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise MalformedFrame(f"not an ISO 8601 timestamp: {short(text)}")
    y, mo, d, h, mi, s = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and 1 <= d <= _MONTH_DAYS[mo - 1] + (mo == 2 and leap)):
        raise MalformedFrame(f"no such date: {short(text)}")
    if h > 23 or mi > 59 or s > 59:
        raise MalformedFrame(f"no such time: {short(text)}")
    fraction = match.group(7) or ""
    ms = int((fraction + "00")[:3]) if fraction else 0
    total = (((_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s) * 1000 + ms
    if match.group(9):
        oh, om = int(match.group(10)), int(match.group(11))
        if oh > 23 or om > 59:
            raise MalformedFrame(f"bad UTC offset: {short(text)}")
        offset = (oh * 60 + om) * 60_000
        total -= offset if match.group(9) == "+" else -offset
    return total


# Every OpenOrders item re-sends all open orders (§3.7), so the same timestamp strings come back
# item after item: remember what they parse to (bounded; cleared when full).
_TIMESTAMP_CACHE: Final[dict[str, int]] = {}
_TIMESTAMP_CACHE_LIMIT: Final = 65_536


def _opt_timestamp(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if type(value) is str:
        cached = _TIMESTAMP_CACHE.get(value)
        if cached is not None:
            return cached
    ms = parse_timestamp(value)
    if len(_TIMESTAMP_CACHE) >= _TIMESTAMP_CACHE_LIMIT:
        _TIMESTAMP_CACHE.clear()
    _TIMESTAMP_CACHE[value] = ms
    return ms


# -- statuses (§4.1) ---------------------------------------------------------------------------
_TERMINAL: Final[Mapping[str, OrderStatus]] = {
    "Completed": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Expired": OrderStatus.EXPIRED,
    "Rejected": OrderStatus.REJECTED,
}
OPEN_STATUS_TEXTS: Final = frozenset({"Started", "Pending", "Working"})
_SIDES: Final = {"Buy": Side.BUY, "Sell": Side.SELL}


def terminal_status(text: str) -> OrderStatus | None:
    """The final ``OrderStatus`` a venue status word names (Completed → FILLED, Cancelled,
    Expired, Rejected); ``None`` for an open or unknown word."""
    return _TERMINAL.get(text)


def map_status(text: str, amount: Decimal, remaining: Decimal) -> OrderStatus | None:
    """A venue status → ``OrderStatus``: ``None`` for a word the notes do not list (P-8).

    Started/Pending/Working are open; a partly executed one is ``PARTIALLY_FILLED``.
    """
    terminal = _TERMINAL.get(text)
    if terminal is not None:
        return terminal
    if text in OPEN_STATUS_TEXTS:
        return OrderStatus.PARTIALLY_FILLED if 0 < remaining < amount else OrderStatus.OPEN
    return None


# -- orders (§2.4, §3.6) -----------------------------------------------------------------------
_NO_FLAGS: Final[frozenset[Flag]] = frozenset()


def _category(item: Mapping[str, Any], market_id: str) -> str | None:
    kind = opt_text(item, "marketType")
    if kind:
        return kind.lower()  # Spot | Cfd | Perp
    prefix, dot, _ = market_id.partition(".")
    return prefix.lower() if dot and prefix else None


def parse_order(item: Any, account: AccountKey, *, in_open_list: bool) -> Order:
    """One order object of the stream or of a cancel reply → ``Order`` of trading account
    ``account`` (``trading_account_key``).

    ``in_open_list``: the order came in an ``OpenOrders`` list, so a status word the notes do not
    list means open (P-8); elsewhere it is malformed. Raises ``MalformedFrame``, or
    ``InexactNumber`` for a float in a money field.
    """
    if type(item) is not dict:
        raise MalformedFrame("order is not an object")
    order_id = item.get("orderId")
    if type(order_id) is not str or not order_id:
        raise MalformedFrame("order without a string orderId")
    market_id = opt_text(item, "marketId")
    symbol = opt_text(item, "marketDisplayName") or market_id
    if not symbol:
        raise MalformedFrame("order without marketDisplayName or marketId")
    side_text = item.get("side")
    side = _SIDES.get(side_text) if type(side_text) is str else None
    if side is None:
        raise MalformedFrame(f"side is not Buy/Sell: {short(side_text)}")
    amount = to_decimal(item.get("requestedAmount"), "requestedAmount")
    remaining_raw = item.get("remainingAmount")
    remaining = (
        amount if remaining_raw in (None, "") else to_decimal(remaining_raw, "remainingAmount")
    )
    if amount < 0 or remaining < 0:
        raise MalformedFrame("negative amount")

    venue_status = opt_text(item, "status")
    status = map_status(venue_status, amount, remaining)
    if status is None:
        if not in_open_list:
            raise MalformedFrame(f"unknown status {short(venue_status)}")
        # Enums are open sets (P-8): an order in the open list is open, whatever its word.
        status = OrderStatus.PARTIALLY_FILLED if 0 < remaining < amount else OrderStatus.OPEN
    text = venue_status or "?"
    reason = opt_text(item, "reason")
    if reason and reason != "Trader":
        text += f" · {reason}"  # StopOut, MarketHalted, Admin, ...: why the venue acted
    reject = opt_text(item, "rejectDetails")
    if reject:
        text += f" · {clean(reject, 120)}"

    order_type = opt_text(item, "orderType") or "?"
    tif = opt_text(item, "timeInForce")
    if tif and tif != "Gtc":
        order_type += f" {tif}"  # Gtc is the default; Ioc/Fok/Gtd/Day are worth seeing

    price = _opt_decimal(item, "requestedPrice")  # null for Market
    if price == 0 and order_type.startswith("Market"):
        price = None  # a market order has no limit price, however it says so
    # No group_id: B2TRADER has no order groups. The trading account is the AccountKey itself
    # (``trading_account_key``), so a cancel scoped to an account is one trading account.
    fields: OrderFields = (
        OrderKey(account.venue, account.account, order_id), symbol, side, order_type, None,
        None, None, _NO_FLAGS, _opt_timestamp(item, "createdAt"), _category(item, market_id),
        market_id if market_id and market_id != symbol else None, tif or None,
    )
    order = build_order(
        fields,
        amount,
        remaining,
        status,
        text,
        price,
        _opt_decimal(item, "executionPrice", zero_is_none=True),  # "0" unfilled, P-16
        _opt_timestamp(item, "updatedAt"),
        None,  # stop orders are another list with their own states (not shown)
    )
    wrong = implausible(order)
    if wrong is not None:
        raise MalformedFrame(f"implausible order {short(order_id)}: {wrong}")
    return order


def implausible(order: Order) -> str | None:
    """Why ``order`` cannot be the truth, or None when it can (``implausible_numbers``; an
    order with a price is a limit order, one without is a market order). Such a record counts
    as unreadable, never as the venue's word."""
    return implausible_numbers(
        order.amount, order.remaining, order.price, order.avg_price,
        limit=order.price is not None,
    )


# Every field ``parse_order`` reads (a test holds it to that). ``OpenOrdersParser`` reuses an
# Order only when these are all strings or null, so that equal objects mean equal fields of the
# same type: ``==`` alone would take ``True`` or ``1.0`` for ``1``.
ORDER_FIELDS: Final = (
    "orderId", "marketId", "marketDisplayName", "marketType", "side", "requestedAmount",
    "remainingAmount", "status", "reason", "rejectDetails", "orderType", "timeInForce",
    "requestedPrice", "executionPrice", "createdAt", "updatedAt",
)


def reusable(item: dict[str, Any]) -> bool:
    """Whether every field ``parse_order`` reads is a string or null (see ``ORDER_FIELDS``)."""
    for name in ORDER_FIELDS:
        value = item.get(name)
        if value is not None and type(value) is not str:
            return False
    return True


def order_event(order: Order) -> Upsert | Closed:
    """One order of a delta stream (``openorders_semantics = delta``, §3.7) → a store event."""
    return Upsert(order) if order.status.is_open else Closed(order)


# -- trading accounts (§1.3) -------------------------------------------------------------------
def check_account(account: AccountKey) -> None:
    """``ValueError`` unless ``account`` is a B2TRADER account."""
    if account.venue != VENUE:
        raise ValueError(f"not a B2TRADER account: {account}")


def account_labels(accounts: Iterable[TradingAccount]) -> dict[str, str]:
    """accountId → the name shown in the table; names that repeat get the id's last 4 chars."""
    accounts = list(accounts)
    seen: dict[str, int] = {}
    for a in accounts:
        seen[a.label] = seen.get(a.label, 0) + 1
    return {
        a.account_id: a.label if seen[a.label] == 1 else f"{a.label} …{a.account_id[-4:]}"
        for a in accounts
    }


def trading_account_key(config_name: str, label: str) -> AccountKey:
    """The blotter account of one trading account: ``b2trader:<config name>/<label>``.

    One configured account (a broker and an API token) may hold several trading accounts
    (§1.3); each is an account of its own in the store, the table and the cancel scopes.
    ``label`` comes from ``account_labels`` (unique within the configured account).
    """
    if not config_name or not label:
        raise ValueError("config name and label are required")
    return AccountKey(VENUE, f"{config_name}/{label}")


def trading_account_keys(
    config_name: str, accounts: Iterable[TradingAccount]
) -> dict[str, AccountKey]:
    """accountId → ``trading_account_key`` of each trading account, in the venue's order."""
    return {
        account_id: trading_account_key(config_name, label)
        for account_id, label in account_labels(accounts).items()
    }
