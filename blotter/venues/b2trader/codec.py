"""B2TRADER (B2BROKER), sans-I/O: REST bodies and stream items in, orders and replies out;
requests built here, never sent.

Nothing in this module touches a socket or reads a clock: times are passed in. The SignalR
framing is in ``signalr.py``; this module knows the venue's paths, headers and payloads.

Protocol notes: ``/work/shared/venues/b2trader.md``. Token exchange §1.2; accounts §1.3; cancel
§2.4 and its unknowns §2.7–§2.8; the OpenOrders stream §3.6–§3.7; statuses §4.1; pitfalls §5.

Amounts are decimal strings (``"0.9"``) and stay exact ``Decimal``s. Where the venue sends a JSON
number instead (P-6), the record is re-read with ``parse_float=Decimal`` so no digit is lost.
Every parser raises ``MalformedFrame`` for input that is not what the protocol says, and nothing
else; error texts are short and never echo a payload or a token.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final, ParamSpec, TypeVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import orjson

from blotter.core.cancel import Outcome
from blotter.core.notices import Level, Notice
from blotter.core.order import AccountKey, Closed, Order, OrderStatus, Side, Upsert
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader.signalr import Completion, StreamItem

VENUE: Final = "b2trader"
_P = ParamSpec("_P")
_R = TypeVar("_R")

PATH_ACCESS_TOKEN: Final = "/frontoffice/api/v4/access-token"
PATH_ACCOUNTS: Final = "/frontoffice/api/v3/accounts"
PATH_ORDER: Final = "/frontoffice/api/v3/orders/{orderId}"
HUB_PATH: Final = "/frontoffice/ws/v4/account"
STREAM_OPEN_ORDERS: Final = "OpenOrders"

# The JWT lifetime when its payload has no usable ``exp``: 60 min is third-party information only
# (§1.2, U-1). Renew at 80 % of the lifetime, or on the first 401.
DEFAULT_TOKEN_LIFETIME_S: Final = 60 * 60
TOKEN_RENEW_FRACTION: Final = 0.8
# No batch or cancel-all endpoint exists (§2.5): single DELETEs, this many at a time.
CANCEL_CONCURRENCY: Final = 4

# §2.1: v4 bodies carry the version as a media-type parameter (whether it is required is U-6;
# the notes recommend sending it, and a server without media-type versioning accepts it too).
CONTENT_TYPE_V4: Final = "application/json; x-api-version=4.0"
CONTENT_TYPE_PLAIN: Final = "application/json"

_TEXT_LIMIT: Final = 200



class _InexactNumber(Exception):
    """A money field came as a JSON number read into a float: re-read the record exactly."""


_PARSE_ERRORS: Final = (
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)


def _guarded(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn any parsing slip inside ``func`` into ``MalformedFrame`` (and only that)."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except MalformedFrame:
            raise
        except _PARSE_ERRORS as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}"[:_TEXT_LIMIT]) from None

    return wrapper


def _reject_constant(name: str) -> Any:
    raise MalformedFrame(f"{name} is not a number")


def _loads_exact(raw: str | bytes | bytearray | memoryview) -> Any:
    """Stdlib JSON with exact decimals (not the hot path: REST bodies and P-6 re-reads)."""
    if isinstance(raw, memoryview):
        raw = bytes(raw)
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except MalformedFrame:
        raise
    except (ValueError, TypeError, UnicodeError, RecursionError) as exc:
        raise MalformedFrame(f"not JSON ({type(exc).__name__})") from None


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(text: str, limit: int = _TEXT_LIMIT) -> str:
    """One line of at most ``limit`` characters: control characters and runs of space folded."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- requests ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A REST call to send as is. ``path`` is relative to the broker's origin."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def __repr__(self) -> str:  # never show the API token (body) or the JWT (headers)
        return f"HttpRequest({self.method} {self.path!r}, {len(self.body)} body bytes)"


def order_path(order_id: str) -> str:
    """``/frontoffice/api/v3/orders/{orderId}`` with the id percent-encoded as one segment."""
    if not order_id:
        raise ValueError("order id is required")
    return PATH_ORDER.replace("{orderId}", quote(order_id, safe=""))


def access_token_request(api_token: str, *, versioned_media_type: bool = True) -> HttpRequest:
    """``POST /frontoffice/api/v4/access-token`` with ``{"token": …}`` (§1.2, [3RD]).

    ``versioned_media_type=False`` sends the plain ``application/json`` of the third-party
    example instead of the §2.1 recommendation.
    """
    if not api_token:
        raise ValueError("API token is empty")
    body = json.dumps({"token": api_token}, separators=(",", ":")).encode()
    return HttpRequest(
        "POST",
        PATH_ACCESS_TOKEN,
        {
            "Content-Type": CONTENT_TYPE_V4 if versioned_media_type else CONTENT_TYPE_PLAIN,
            "Accept": "application/json",
        },
        body,
    )


def auth_headers(jwt: str, account_id: str | None = None) -> dict[str, str]:
    """``Authorization: Bearer <JWT>``, ``Accept: */*``, and ``accountId`` on account-scoped
    calls (sent in exactly this camelCase, P-17)."""
    headers = {"Authorization": f"Bearer {jwt}", "Accept": "*/*"}
    if account_id is not None:
        headers["accountId"] = account_id
    return headers


def accounts_request(jwt: str) -> HttpRequest:
    """``GET /frontoffice/api/v3/accounts``: no ``accountId`` header (§1.3)."""
    return HttpRequest("GET", PATH_ACCOUNTS, auth_headers(jwt))


def cancel_request(order_id: str, account_id: str, jwt: str) -> HttpRequest:
    """``DELETE /frontoffice/api/v3/orders/{orderId}`` with Bearer and ``accountId``; no body and
    so no Content-Type (§2.1, §2.4). One path for SPOT, CFD and Perpetual."""
    if not account_id:
        raise ValueError("accountId is required on a cancel (else 400)")
    return HttpRequest("DELETE", order_path(order_id), auth_headers(jwt, account_id))


def hub_url(ws_url: str, jwt: str) -> str:
    """The configured hub URL with ``access_token=<JWT>`` in its query (§3.2). The result holds
    the token: never log it (P-14)."""
    parts = urlsplit(ws_url)
    query = [p for p in parts.query.split("&") if p and not p.startswith("access_token=")]
    query.append(urlencode({"access_token": jwt}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(query), parts.fragment))


def open_orders_arguments(account_id: str) -> list[str]:
    """The StreamInvocation arguments of ``OpenOrders``: the accountId as a string (§3.6)."""
    if not account_id:
        raise ValueError("accountId is required")
    return [account_id]


# -- access token (§1.2) -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AccessToken:
    """A JWT and when to use it until. Times are local-clock epoch milliseconds."""

    jwt: str = field(repr=False)
    expires_ms: int
    renew_at_ms: int  # 80 % of the lifetime
    from_claim: bool  # False: the JWT had no usable exp, 60 min assumed

    def __repr__(self) -> str:
        return (
            f"AccessToken(expires_ms={self.expires_ms}, renew_at_ms={self.renew_at_ms}, "
            f"from_claim={self.from_claim})"
        )

    def needs_renewal(self, now_ms: int) -> bool:
        return now_ms >= self.renew_at_ms


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, decoded WITHOUT checking its signature; ``None`` if unreadable."""
    if type(token) is not str:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1] or len(parts[1]) > 65536:
        return None
    try:
        claims = json.loads(_b64url(parts[1]))
    except (binascii.Error, ValueError, UnicodeError, RecursionError):
        return None
    return claims if type(claims) is dict else None


def _claim_seconds(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return int(value)
    return None


def jwt_expiry(token: str) -> int | None:
    """The JWT's ``exp`` (epoch seconds), read without verifying; ``None`` for a bad token."""
    claims = jwt_claims(token)
    return None if claims is None else _claim_seconds(claims, "exp")


def token_lifetime(
    token: str, now_ms: int, default_s: int = DEFAULT_TOKEN_LIFETIME_S
) -> tuple[int, int, bool]:
    """``(expires_ms, renew_at_ms, from_claim)`` of a fresh JWT on the local clock.

    With ``iat`` and ``exp`` the lifetime is ``exp - iat``, which does not depend on the skew
    between our clock and the venue's; with ``exp`` only, ``exp - now``. A lifetime that comes
    out non-positive (a skewed clock) falls back to the default: a 401 renews it anyway.
    """
    claims = jwt_claims(token)
    lifetime: int | None = None
    if claims is not None:
        exp = _claim_seconds(claims, "exp")
        iat = _claim_seconds(claims, "iat")
        if exp is not None:
            lifetime = exp - iat if iat is not None and iat < exp else exp - now_ms // 1000
            if lifetime <= 0:
                lifetime = None
    from_claim = lifetime is not None
    seconds = lifetime if lifetime is not None else default_s
    return (
        now_ms + seconds * 1000,
        now_ms + int(seconds * 1000 * TOKEN_RENEW_FRACTION),
        from_claim,
    )


@_guarded
def parse_access_token(raw: bytes | str, now_ms: int) -> AccessToken:
    """``{"accessToken": "<JWT>"}`` → ``AccessToken`` (other fields ignored, U-1)."""
    msg = _loads_exact(raw)
    if type(msg) is not dict:
        raise MalformedFrame("access-token reply is not a JSON object")
    jwt = msg.get("accessToken")
    if type(jwt) is not str or not jwt.strip():
        raise MalformedFrame("access-token reply without accessToken")
    jwt = jwt.strip()
    expires_ms, renew_at_ms, from_claim = token_lifetime(jwt, now_ms)
    return AccessToken(jwt, expires_ms, renew_at_ms, from_claim)


# -- accounts (§1.3) ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TradingAccount:
    account_id: str
    name: str  # accountName ("" if the venue sent none)
    account_type: str  # Hedging | Netting (open set)
    total_balance: Decimal | None  # totalBalanceInRAT
    is_copy_trading: bool
    public_account_id: int | None = None  # B2PRIME only

    @property
    def label(self) -> str:
        return self.name or self.account_id


@_guarded
def parse_accounts(raw: bytes | str) -> tuple[TradingAccount, ...]:
    """``GET /frontoffice/api/v3/accounts`` → the trading accounts, in the venue's order."""
    msg = _loads_exact(raw)
    if type(msg) is not list:
        raise MalformedFrame("accounts reply is not a JSON array")
    accounts: list[TradingAccount] = []
    for item in msg:
        if type(item) is not dict:
            raise MalformedFrame("account is not an object")
        account_id = item.get("accountId")
        if type(account_id) is not str or not account_id:
            raise MalformedFrame("account without a string accountId")
        copy = item.get("isCopyTradingAccount", False)
        public_id = item.get("publicAccountId")
        balance = item.get("totalBalanceInRAT")
        accounts.append(
            TradingAccount(
                account_id=account_id,
                name=_opt_text(item, "accountName"),
                account_type=_opt_text(item, "accountType"),
                total_balance=None if balance in (None, "") else _decimal(balance, "balance"),
                is_copy_trading=copy is True,
                public_account_id=public_id if type(public_id) is int else None,
            )
        )
    return tuple(accounts)


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


# -- fields ------------------------------------------------------------------------------------
_DECIMAL: Final = re.compile(r"[-+]?[0-9]{1,40}(?:\.[0-9]{1,40})?")


def _decimal(value: Any, what: str) -> Decimal:
    """A decimal string (or an exact JSON number) → ``Decimal``; a float signals a re-read."""
    t = type(value)
    if t is str:
        if not _DECIMAL.fullmatch(value):
            raise MalformedFrame(f"{what} is not a decimal string")
        return Decimal(value)
    if t is Decimal:
        if not value.is_finite():
            raise MalformedFrame(f"{what} is not finite")
        return value  # type: ignore[no-any-return]
    if t is int:
        return Decimal(value)
    if t is float:
        raise _InexactNumber(what)
    raise MalformedFrame(f"{what} is not a decimal")


def _opt_decimal(
    obj: Mapping[str, Any], key: str, *, zero_is_none: bool = False
) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    number = _decimal(value, key)
    return None if zero_is_none and number == 0 else number


def _opt_text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise MalformedFrame(f"{key} is not a string")
    return value


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
        raise MalformedFrame(f"not an ISO 8601 timestamp: {_short(text)}")
    y, mo, d, h, mi, s = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and 1 <= d <= _MONTH_DAYS[mo - 1] + (mo == 2 and leap)):
        raise MalformedFrame(f"no such date: {_short(text)}")
    if h > 23 or mi > 59 or s > 59:
        raise MalformedFrame(f"no such time: {_short(text)}")
    fraction = match.group(7) or ""
    ms = int((fraction + "00")[:3]) if fraction else 0
    total = (((_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s) * 1000 + ms
    if match.group(9):
        oh, om = int(match.group(10)), int(match.group(11))
        if oh > 23 or om > 59:
            raise MalformedFrame(f"bad UTC offset: {_short(text)}")
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


# -- orders (§2.4, §3.6, §4.1) -----------------------------------------------------------------
_TERMINAL: Final[Mapping[str, OrderStatus]] = {
    "Completed": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Expired": OrderStatus.EXPIRED,
    "Rejected": OrderStatus.REJECTED,
}
OPEN_STATUS_TEXTS: Final = frozenset({"Started", "Pending", "Working"})
_SIDES: Final = {"Buy": Side.BUY, "Sell": Side.SELL}


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


def _category(item: Mapping[str, Any], market_id: str) -> str | None:
    kind = _opt_text(item, "marketType")
    if kind:
        return kind.lower()  # Spot | Cfd | Perp
    prefix, dot, _ = market_id.partition(".")
    return prefix.lower() if dot and prefix else None


def _order(item: Any, account: AccountKey, *, in_open_list: bool) -> Order:
    if type(item) is not dict:
        raise MalformedFrame("order is not an object")
    order_id = item.get("orderId")
    if type(order_id) is not str or not order_id:
        raise MalformedFrame("order without a string orderId")
    market_id = _opt_text(item, "marketId")
    symbol = _opt_text(item, "marketDisplayName") or market_id
    if not symbol:
        raise MalformedFrame("order without marketDisplayName or marketId")
    side_text = item.get("side")
    side = _SIDES.get(side_text) if type(side_text) is str else None
    if side is None:
        raise MalformedFrame(f"side is not Buy/Sell: {_short(side_text)}")
    amount = _decimal(item.get("requestedAmount"), "requestedAmount")
    remaining_raw = item.get("remainingAmount")
    remaining = (
        amount if remaining_raw in (None, "") else _decimal(remaining_raw, "remainingAmount")
    )
    if amount < 0 or remaining < 0:
        raise MalformedFrame("negative amount")

    venue_status = _opt_text(item, "status")
    status = map_status(venue_status, amount, remaining)
    if status is None:
        if not in_open_list:
            raise MalformedFrame(f"unknown status {_short(venue_status)}")
        # Enums are open sets (P-8): an order in the open list is open, whatever its word.
        status = OrderStatus.PARTIALLY_FILLED if 0 < remaining < amount else OrderStatus.OPEN
    text = venue_status or "?"
    reason = _opt_text(item, "reason")
    if reason and reason != "Trader":
        text += f" · {reason}"  # StopOut, MarketHalted, Admin, ...: why the venue acted
    reject = _opt_text(item, "rejectDetails")
    if reject:
        text += f" · {_clean(reject, 120)}"

    order_type = _opt_text(item, "orderType") or "?"
    tif = _opt_text(item, "timeInForce")
    if tif and tif != "Gtc":
        order_type += f" {tif}"  # Gtc is the default; Ioc/Fok/Gtd/Day are worth seeing

    # No group_id: B2TRADER has no order groups. The trading account is the AccountKey itself
    # (``trading_account_key``), so a cancel scoped to an account is one trading account.
    return Order(
        venue=account.venue,
        account=account.account,
        order_id=order_id,
        symbol=symbol,
        side=side,
        order_type=order_type,
        amount=amount,
        remaining=remaining,
        status=status,
        status_text=text,
        price=_opt_decimal(item, "requestedPrice", zero_is_none=True),  # null for Market
        avg_price=_opt_decimal(item, "executionPrice", zero_is_none=True),  # "0" unfilled, P-16
        created_ms=_opt_timestamp(item, "createdAt"),
        updated_ms=_opt_timestamp(item, "updatedAt"),
        category=_category(item, market_id),
    )


# Every field ``_order`` reads (a test holds it to that). ``OpenOrdersParser`` reuses an Order
# only when these are all strings or null, so that equal objects mean equal fields of the same
# type: ``==`` alone would take ``True`` or ``1.0`` for ``1``.
_ORDER_FIELDS: Final = (
    "orderId", "marketId", "marketDisplayName", "marketType", "side", "requestedAmount",
    "remainingAmount", "status", "reason", "rejectDetails", "orderType", "timeInForce",
    "requestedPrice", "executionPrice", "createdAt", "updatedAt",
)


def _reusable(item: dict[str, Any]) -> bool:
    for name in _ORDER_FIELDS:
        value = item.get(name)
        if value is not None and type(value) is not str:
            return False
    return True


def _order_items(payload: Any) -> list[Any]:
    if type(payload) is dict and type(payload.get("item")) is list:
        payload = payload["item"]  # the OpenPositions wrapping (P-12), tolerated here too
    if type(payload) is not list:
        raise MalformedFrame("OpenOrders item is not an array of orders")
    return payload


def _order_list(payload: Any, account: AccountKey) -> tuple[Order, ...]:
    return tuple(_order(o, account, in_open_list=True) for o in _order_items(payload))


def _exact_payload(payload: StreamItem | Any) -> Any:
    """The orders again, after a money field came as a JSON number read into a float (P-6):
    re-read from the record with exact decimals, or without one from the floats' reprs."""
    if not isinstance(payload, StreamItem):
        return _floats_to_decimals(payload)
    if not payload.record:
        return _floats_to_decimals(payload.item)
    exact = _loads_exact(payload.record)
    if type(exact) is not dict or "item" not in exact:
        raise MalformedFrame("StreamItem record does not hold an item")
    return exact["item"]


def _floats_to_decimals(value: Any) -> Any:
    # Without the record text the best left is the float's shortest repr: the digits sent,
    # for any number of up to 15 significant digits.
    if type(value) is float:
        if not math.isfinite(value):
            raise MalformedFrame("number is not finite")
        return Decimal(repr(value))
    if type(value) is list:
        return [_floats_to_decimals(v) for v in value]
    if type(value) is dict:
        return {k: _floats_to_decimals(v) for k, v in value.items()}
    return value


def _check_account(account: AccountKey) -> None:
    if account.venue != VENUE:
        raise ValueError(f"not a B2TRADER account: {account}")


@_guarded
def parse_open_orders(payload: StreamItem | Any, account: AccountKey) -> tuple[Order, ...]:
    """An ``OpenOrders`` StreamItem (or its ``item``) → the trading account's open orders (§3.6).

    ``account`` is that trading account's key (``trading_account_key``). Per the notes'
    recommendation (§3.7, U-9) each item is the complete open set of the trading account: put
    the result in a ``Snapshot``. A stream reads faster through ``OpenOrdersParser``.
    """
    _check_account(account)
    try:
        return _order_list(payload.item if isinstance(payload, StreamItem) else payload, account)
    except _InexactNumber:
        return _order_list(_exact_payload(payload), account)


class OpenOrdersParser:
    """``parse_open_orders`` for one trading account's stream, reusing the unchanged orders.

    Every item re-sends the whole open set (§3.7), and mostly only an order or two changed
    since the last one. The parser keeps each order's raw object from the last item with the
    ``Order`` built from it: an order whose raw object is equal again (and whose fields read
    are strings or null) gets that same ``Order`` back, with no field parsed and no object
    built; the others are parsed as ``parse_open_orders`` does. Orders missing from an item are
    forgotten. ``parse(payload)`` equals ``parse_open_orders(payload, account)`` for every
    JSON payload, and raises ``MalformedFrame`` where that raises (a property test holds both).
    """

    __slots__ = ("_account", "_known")

    def __init__(self, account: AccountKey) -> None:
        _check_account(account)
        self._account = account
        self._known: dict[str, tuple[dict[str, Any], Order]] = {}

    @property
    def account(self) -> AccountKey:
        return self._account

    def __len__(self) -> int:
        """How many orders are remembered (those of the last item parsed)."""
        return len(self._known)

    def reset(self) -> None:
        """Forget the remembered orders (a new subscription; memory only, never correctness)."""
        self._known = {}

    @_guarded
    def parse(self, payload: StreamItem | Any) -> tuple[Order, ...]:
        """An ``OpenOrders`` StreamItem (or its ``item``) → the open orders, as a new tuple."""
        try:
            return self._parse(payload.item if isinstance(payload, StreamItem) else payload)
        except _InexactNumber:
            return self._parse(_exact_payload(payload))

    def _parse(self, payload: Any) -> tuple[Order, ...]:
        items = _order_items(payload)
        try:
            return self._parse_items(items)
        except RecursionError:
            # Comparing a deeply nested field the codec never reads: parse without reuse.
            self._known = {}
            return _order_list(items, self._account)

    def _parse_items(self, items: list[Any]) -> tuple[Order, ...]:
        account = self._account
        known = self._known.get
        kept: dict[str, tuple[dict[str, Any], Order]] = {}
        orders: list[Order] = []
        append = orders.append
        for raw in items:
            if type(raw) is dict:
                order_id: Any = raw.get("orderId")
                try:
                    entry = known(order_id)
                except TypeError:  # an unhashable orderId: _order below says what is wrong
                    entry = None
                if entry is not None and entry[0] == raw:
                    kept[order_id] = entry
                    append(entry[1])
                    continue
            order = _order(raw, account, in_open_list=True)
            if _reusable(raw):
                # A copy: equal to ``raw`` now, and safe from whoever holds ``raw`` changing it.
                kept[order.order_id] = (dict(raw), order)
            append(order)
        self._known = kept
        return tuple(orders)


def order_event(order: Order) -> Upsert | Closed:
    """One order of a delta stream (``openorders_semantics = delta``, §3.7) → a store event."""
    return Upsert(order) if order.status.is_open else Closed(order)


# -- cancel replies (§2.4, §2.7, §2.8) ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CancelReply:
    """A 200 to ``DELETE …/orders/{id}``: ``outcome`` is ``None`` while the order is still open
    (an accepted, not yet executed cancel, U-4: the stream settles it)."""

    order_id: str
    venue_status: str
    outcome: Outcome | None
    text: str  # for the status bar, e.g. "Cancelled: EUR/CHF buy 10000 @ 0.9 (01JV…)"
    order: Order | None  # the order as returned, when the reply holds a complete one


_CANCEL_OUTCOMES: Final[Mapping[str, Outcome]] = {
    "Cancelled": Outcome.CANCELLED,
    "Completed": Outcome.FILLED,  # a fill won the race
    "Expired": Outcome.CLOSED,
    "Rejected": Outcome.CLOSED,
}


def _describe(order: Mapping[str, Any]) -> str:
    parts = [
        _opt_text(order, "marketDisplayName") or _opt_text(order, "marketId"),
        _opt_text(order, "side").lower(),
    ]
    amount = order.get("requestedAmount")
    if type(amount) is str and _DECIMAL.fullmatch(amount):
        parts.append(amount)
    price = order.get("requestedPrice")
    if type(price) is str and _DECIMAL.fullmatch(price):
        parts.append(f"@ {price}")
    return _clean(" ".join(p for p in parts if p), 120)


@_guarded
def parse_cancel_reply(
    raw: bytes | str, account: AccountKey, order_id: str | None = None
) -> CancelReply:
    """``{"order": {…, "status": "Cancelled", …}}`` → ``CancelReply``.

    ``account`` is the key of the trading account the DELETE went to (``trading_account_key``).
    Cancelled → CANCELLED, Completed → FILLED, Expired/Rejected → CLOSED (gone, text says why),
    Started/Pending/Working or an unknown word → ``None``: report it and let the stream decide.
    """
    msg = _loads_exact(raw)
    if type(msg) is not dict or type(msg.get("order")) is not dict:
        raise MalformedFrame('cancel reply without an "order" object')
    item: dict[str, Any] = msg["order"]
    venue_status = _opt_text(item, "status")
    if not venue_status:
        raise MalformedFrame("cancel reply without an order status")
    replied_id = _opt_text(item, "orderId") or order_id
    if not replied_id:
        raise MalformedFrame("cancel reply without an orderId")
    if order_id and replied_id != order_id:
        raise MalformedFrame(f"cancel reply for another order: {_short(replied_id)}")
    try:
        order: Order | None = _order(item, account, in_open_list=False)
    except (MalformedFrame, *_PARSE_ERRORS):
        order = None  # a partial echo still tells the outcome by its status
    outcome = _CANCEL_OUTCOMES.get(venue_status)
    what = _describe(item)
    if outcome is None:
        note = "still open, cancel requested" if venue_status in OPEN_STATUS_TEXTS else "unknown"
        text = f"{_clean(venue_status, 40)} ({note}): {what} ({replied_id})"
    else:
        text = f"{venue_status}: {what} ({replied_id})"
    return CancelReply(replied_id, venue_status, outcome, _clean(text, _TEXT_LIMIT), order)


# -- error replies -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A non-2xx answer, read tolerantly (§2.7): one short line and what to do about it."""

    http_status: int
    message: str  # the venue's best words ("" when it said nothing)
    summary: str  # "Order 01K…: not found" (no HTTP status: a Notice carries that itself)
    outcome: Outcome  # what the cancel of the order amounts to unless it is retried
    retryable: bool  # 429 and 5xx (network errors are the client's)
    auth_failed: bool  # 401: renew the token (once), then retry
    retry_after_s: float | None = None

    @property
    def text(self) -> str:
        """``"Order 123: not found (HTTP 404)"``."""
        return f"{self.summary} (HTTP {self.http_status})"

    @property
    def order_gone(self) -> bool:
        return self.outcome.order_gone


_PHRASES: Final[Mapping[int, str]] = {
    400: "bad request",
    401: "not authorised (access token invalid or expired)",
    403: "forbidden (account or permission)",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    429: "rate limited",
}
# A cancel's 400/404 mean the order is gone (unknown, finished or never ours: §2.8, pitfall 3).
_CANCEL_PHRASES: Final[Mapping[int, str]] = {
    400: "cannot be cancelled (already finished?)",
    404: "not found",
}


def _problem_message(msg: Any) -> str:
    """Problem Details ``title``/``detail`` → ``errors`` → ``message`` (§2.7); ``""`` if none."""
    if type(msg) is not dict:
        return ""
    title = msg.get("title") if type(msg.get("title")) is str else ""
    detail = msg.get("detail") if type(msg.get("detail")) is str else ""
    head = ": ".join(p for p in (title, detail) if p and p.strip())
    errors = msg.get("errors")
    found: list[str] = []
    if type(errors) is dict:  # validation problem: {"field": ["message", ...]}
        for name, texts in errors.items():
            if type(texts) is list:
                found.extend(f"{name}: {t}" for t in texts if type(t) is str)
            elif type(texts) is str:
                found.append(f"{name}: {texts}")
    elif type(errors) is list:  # legacy: [{"code": "...", "message": "..."}]
        for entry in errors:
            if type(entry) is dict and type(entry.get("message")) is str:
                found.append(entry["message"])
            elif type(entry) is str:
                found.append(entry)
    extra = "; ".join(found[:3])
    if head and extra:
        return f"{head} ({extra})"
    if head or extra:
        return head or extra
    for key in ("message", "error", "error_description", "msg"):
        value = msg.get(key)
        if type(value) is str and value.strip():
            code = msg.get("code")
            return f"{code}: {value}" if type(code) in (str, int) and code != "" else value
    return ""


def _body_message(body: bytes | str | None, content_type: str) -> str:
    if not body:
        return ""
    text = body if isinstance(body, str) else body[:65536].decode("utf-8", "replace")
    stripped = text.strip()
    if not stripped:
        return ""
    if stripped[0] in "{[\"":
        try:
            msg = json.loads(stripped, parse_constant=_reject_constant)
        except (MalformedFrame, ValueError, RecursionError):
            msg = None
        if msg is not None:
            found = _problem_message(msg)
            if found:
                return _clean(found)
            if type(msg) is str:
                return _clean(msg)
            # Other JSON: show it compactly, cut short.
            try:
                return _clean(orjson.dumps(msg).decode())
            except (TypeError, orjson.JSONEncodeError):
                return _clean(stripped)
    if stripped[0] == "<" or "html" in content_type.lower():
        found_title = re.search(r"<title>(.*?)</title>", stripped[:4096], re.IGNORECASE | re.DOTALL)
        return _clean(found_title.group(1)) if found_title else ""  # a proxy's page
    return _clean(stripped)


def _www_authenticate(value: str) -> str:
    """``Bearer error="invalid_token", error_description="The token expired …"`` → its words."""
    for name in ("error_description", "error"):
        found = re.search(name + r'="([^"]*)"', value)
        if found and found.group(1):
            return _clean(found.group(1), 120)
    return ""


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    if not headers:
        return ""
    for key, value in headers.items():
        if type(key) is str and key.lower() == name and type(value) is str:
            return value
    return ""


def retry_after(value: str | None, now_ms: int | None) -> float | None:
    """``Retry-After``: delay seconds, or an HTTP date → seconds after ``now_ms`` (≥ 0); else None.

    Without ``now_ms`` (no clock here) a date cannot be turned into a delay: ``None``.
    """
    if not value or type(value) is not str:
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d{1,10}(?:\.\d{1,6})?", text):
        return float(text)
    if now_ms is None:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is garbage
        return None
    try:
        seconds = when.timestamp() - now_ms / 1000
    except (OverflowError, ValueError, OSError):
        return None
    return max(0.0, seconds)


def parse_error(
    http_status: int,
    body: bytes | str | None,
    subject: str,
    *,
    headers: Mapping[str, str] | None = None,
    now_ms: int | None = None,
    cancel: bool = False,
) -> ErrorReply:
    """Any error answer → ``ErrorReply``; never raises. ``subject`` starts the line ("Order 123",
    "Accounts", "API token"); ``cancel`` reads 400/404 as "the order is already gone"."""
    message = _body_message(body, _header(headers, "content-type"))
    if not message and http_status == 401:
        message = _www_authenticate(_header(headers, "www-authenticate"))
    wait = None
    if http_status == 429 or http_status == 503:
        wait = retry_after(_header(headers, "retry-after"), now_ms)
    phrase = (_CANCEL_PHRASES.get(http_status) if cancel else None) or _PHRASES.get(http_status)
    if phrase is None:
        phrase = "venue error" if http_status >= 500 else "refused"
    summary = f"{subject}: {message or phrase}"
    if wait is not None:
        summary += f"; retry in {wait:g} s"
    gone = cancel and http_status in (400, 404)
    return ErrorReply(
        http_status=http_status,
        message=message,
        summary=_clean(summary, _TEXT_LIMIT),
        outcome=Outcome.NOT_FOUND if gone else Outcome.REJECTED,
        retryable=http_status == 429 or http_status >= 500,
        auth_failed=http_status == 401,
        retry_after_s=wait,
    )


def parse_cancel_error(
    http_status: int,
    body: bytes | str | None,
    order_id: str,
    *,
    headers: Mapping[str, str] | None = None,
    now_ms: int | None = None,
) -> ErrorReply:
    """A failed ``DELETE …/orders/{id}``: 400/404 → gone (NOT_FOUND), never retried; 401 →
    renew and retry once; 429/5xx → retryable; others → REJECTED (the order stays open)."""
    return parse_error(
        http_status, body, f"Order {order_id}", headers=headers, now_ms=now_ms, cancel=True
    )


# -- notices -----------------------------------------------------------------------------------
def error_notice(
    error: ErrorReply,
    account: AccountKey,
    ts_ms: int | None = None,
    order_ids: tuple[str, ...] = (),
) -> Notice:
    """``Notice.line()`` reads ``"HTTP 404: Order 123: not found"``.

    A gone order is a warning (the stream settles the row), the rest errors."""
    return Notice(
        venue=account.venue,
        account=account.account,
        level=Level.WARNING if error.order_gone else Level.ERROR,
        text=error.summary,
        status=f"HTTP {error.http_status}",
        order_ids=order_ids,
        ts_ms=ts_ms,
    )


def cancel_notice(reply: CancelReply, account: AccountKey, ts_ms: int | None = None) -> Notice:
    """The venue sends no text: compose it from the returned order (§ "Text for the status bar")."""
    if reply.outcome is Outcome.CANCELLED:
        level = Level.SUCCESS
    elif reply.outcome is Outcome.FILLED:
        level = Level.INFO
    else:
        level = Level.WARNING
    return Notice(
        venue=account.venue,
        account=account.account,
        level=level,
        text=reply.text,
        status="HTTP 200",
        order_ids=(reply.order_id,),
        ts_ms=ts_ms,
    )


def closed_notice(order: Order, ts_ms: int | None = None) -> Notice:
    """An order left the open set, e.g. ``"Cancelled: EUR/CHF buy 10000 @ 0.9 (cfd)"``."""
    price = f" @ {order.price}" if order.price is not None else ""
    level = {
        OrderStatus.CANCELLED: Level.SUCCESS,
        OrderStatus.FILLED: Level.INFO,
    }.get(order.status, Level.WARNING)
    where = f" ({order.category})" if order.category else ""
    return Notice(
        venue=order.venue,
        account=order.account,
        level=level,
        text=f"{order.symbol} {order.side.value} {order.amount}{price}{where}",
        status=order.status_text,
        order_ids=(order.order_id,),
        ts_ms=ts_ms,
    )


def stream_error_notice(
    completion: Completion,
    account: AccountKey,
    trading_account: str | None = None,
    ts_ms: int | None = None,
) -> Notice:
    """An ``OpenOrders`` stream ended by the server (a Completion, with an error or not)."""
    where = f" for {trading_account}" if trading_account else ""
    if completion.error is not None:
        text = f"Order stream{where} ended: {_clean(completion.error)}"
        level = Level.ERROR
    else:
        text = f"Order stream{where} ended by the venue"
        level = Level.WARNING
    return Notice(account.venue, account.account, level, text, status="stream", ts_ms=ts_ms)

