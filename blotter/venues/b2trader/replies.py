"""B2TRADER REST replies, pure: the access token (and its JWT's lifetime), the trading accounts,
a cancel's answer, and every shape of error body, with what each means for the order.

Nothing here touches a socket or reads a clock: times are passed in. Protocol notes:
``/work/shared/venues/b2trader.md`` (token §1.2, accounts §1.3, cancel §2.4 and its unknowns
§2.7–§2.8). Parsers raise ``MalformedFrame`` and nothing else; the error readers never raise.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Final

import orjson

from blotter.core.cancel import Outcome
from blotter.core.order import AccountKey, Order, OrderStatus
from blotter.core.venue import PARSE_ERRORS, MalformedFrame, guarded
from blotter.venues.b2trader.orders import (
    DECIMAL_TEXT,
    OPEN_STATUS_TEXTS,
    TEXT_LIMIT,
    clean,
    loads_exact,
    opt_text,
    parse_order,
    reject_constant,
    short,
    terminal_status,
    to_decimal,
)

# The JWT lifetime when its payload has no usable ``exp``: 60 min is third-party information only
# (§1.2, U-1). Renew at 80 % of the lifetime, or on the first 401.
DEFAULT_TOKEN_LIFETIME_S: Final = 60 * 60
TOKEN_RENEW_FRACTION: Final = 0.8

# How often one order's DELETE is sent again (§2.7): after 429s, and after 5xx or no answer.
RATE_RETRIES: Final = 5
SERVER_RETRIES: Final = 2
RETRY_WAIT_CAP: Final = 10.0  # s: never wait longer than this for one Retry-After


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


@guarded
def parse_access_token(raw: bytes | str, now_ms: int) -> AccessToken:
    """``{"accessToken": "<JWT>"}`` → ``AccessToken`` (other fields ignored, U-1)."""
    msg = loads_exact(raw)
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


@guarded
def parse_accounts(raw: bytes | str) -> tuple[TradingAccount, ...]:
    """``GET /frontoffice/api/v3/accounts`` → the trading accounts, in the venue's order."""
    msg = loads_exact(raw)
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
                name=opt_text(item, "accountName"),
                account_type=opt_text(item, "accountType"),
                total_balance=None if balance in (None, "") else to_decimal(balance, "balance"),
                is_copy_trading=copy is True,
                public_account_id=public_id if type(public_id) is int else None,
            )
        )
    return tuple(accounts)


def select_accounts(
    accounts: Iterable[TradingAccount], wanted: Iterable[str]
) -> tuple[TradingAccount, ...]:
    """The accounts whose id or name is one of ``wanted``, in the venue's order; all of them
    when ``wanted`` is empty (the account's ``trading_accounts`` option)."""
    chosen = set(wanted)
    if not chosen:
        return tuple(accounts)
    return tuple(a for a in accounts if a.account_id in chosen or a.name in chosen)


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

    @property
    def closed_status(self) -> OrderStatus | None:
        """The row's final status when the reply settles the order (``outcome`` is set)."""
        return terminal_status(self.venue_status)

    def closed_order(self, row: Order) -> Order:
        """The table's ``row`` as this reply closes it: the order as returned when the reply
        holds it whole and closed, else ``row`` with the reply's final status."""
        final = self.order
        if final is not None and final.key == row.key and not final.status.is_open:
            return final
        return replace(
            row, status=self.closed_status or OrderStatus.CANCELLED,
            status_text=self.venue_status or row.status_text,
        )


_CANCEL_OUTCOMES: Final[Mapping[str, Outcome]] = {
    "Cancelled": Outcome.CANCELLED,
    "Completed": Outcome.FILLED,  # a fill won the race
    "Expired": Outcome.CLOSED,
    "Rejected": Outcome.CLOSED,
}


def _describe(order: Mapping[str, Any]) -> str:
    parts = [
        opt_text(order, "marketDisplayName") or opt_text(order, "marketId"),
        opt_text(order, "side").lower(),
    ]
    amount = order.get("requestedAmount")
    if type(amount) is str and DECIMAL_TEXT.fullmatch(amount):
        parts.append(amount)
    price = order.get("requestedPrice")
    if type(price) is str and DECIMAL_TEXT.fullmatch(price):
        parts.append(f"@ {price}")
    return clean(" ".join(p for p in parts if p), 120)


@guarded
def parse_cancel_reply(
    raw: bytes | str, account: AccountKey, order_id: str | None = None
) -> CancelReply:
    """``{"order": {…, "status": "Cancelled", …}}`` → ``CancelReply``.

    ``account`` is the key of the trading account the DELETE went to (``trading_account_key``).
    Cancelled → CANCELLED, Completed → FILLED, Expired/Rejected → CLOSED (gone, text says why),
    Started/Pending/Working or an unknown word → ``None``: report it and let the stream decide.
    """
    msg = loads_exact(raw)
    if type(msg) is not dict or type(msg.get("order")) is not dict:
        raise MalformedFrame('cancel reply without an "order" object')
    item: dict[str, Any] = msg["order"]
    venue_status = opt_text(item, "status")
    if not venue_status:
        raise MalformedFrame("cancel reply without an order status")
    replied_id = opt_text(item, "orderId") or order_id
    if not replied_id:
        raise MalformedFrame("cancel reply without an orderId")
    if order_id and replied_id != order_id:
        raise MalformedFrame(f"cancel reply for another order: {short(replied_id)}")
    try:
        order: Order | None = parse_order(item, account, in_open_list=False)
    except (MalformedFrame, *PARSE_ERRORS):
        order = None  # a partial echo still tells the outcome by its status
    outcome = _CANCEL_OUTCOMES.get(venue_status)
    what = _describe(item)
    if outcome is None:
        note = "still open, cancel requested" if venue_status in OPEN_STATUS_TEXTS else "unknown"
        text = f"{clean(venue_status, 40)} ({note}): {what} ({replied_id})"
    else:
        text = f"{venue_status}: {what} ({replied_id})"
    return CancelReply(replied_id, venue_status, outcome, clean(text, TEXT_LIMIT), order)


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
    order_status: str = ""  # the order's final status word when a cancel's error names it

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


# A cancel's 400 names why the order cannot be cancelled: "… cannot be cancelled in status
# Completed." The venue's status words are capitalised (§4.1); "cancelled" in the sentence is not.
_FINAL_WORD: Final = re.compile(r"\b(Completed|Cancelled|Expired|Rejected)\b")


def named_final_status(message: str) -> str:
    """The one final status word (Completed, Cancelled, Expired, Rejected) an error message
    names, or "" when it names none or several (then it says nothing sure)."""
    found = set(_FINAL_WORD.findall(message))
    return found.pop() if len(found) == 1 else ""


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
            msg = json.loads(stripped, parse_constant=reject_constant)
        except (MalformedFrame, ValueError, RecursionError):
            msg = None
        if msg is not None:
            found = _problem_message(msg)
            if found:
                return clean(found)
            if type(msg) is str:
                return clean(msg)
            # Other JSON: show it compactly, cut short.
            try:
                return clean(orjson.dumps(msg).decode())
            except (TypeError, orjson.JSONEncodeError):
                return clean(stripped)
    if stripped[0] == "<" or "html" in content_type.lower():
        found_title = re.search(r"<title>(.*?)</title>", stripped[:4096], re.IGNORECASE | re.DOTALL)
        return clean(found_title.group(1)) if found_title else ""  # a proxy's page
    return clean(stripped)


def _www_authenticate(value: str) -> str:
    """``Bearer error="invalid_token", error_description="The token expired …"`` → its words."""
    for name in ("error_description", "error"):
        found = re.search(name + r'="([^"]*)"', value)
        if found and found.group(1):
            return clean(found.group(1), 120)
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
        summary=clean(summary, TEXT_LIMIT),
        outcome=Outcome.NOT_FOUND if gone else Outcome.REJECTED,
        retryable=http_status == 429 or http_status >= 500,
        auth_failed=http_status == 401,
        retry_after_s=wait,
        order_status=named_final_status(message) if gone else "",
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


# -- what a failed cancel does next ------------------------------------------------------------
class CancelStep(Enum):
    """What to do after a DELETE that did not get a 200."""

    RENEW = "renew"  # exchange the API token again, then send again at once
    RETRY = "retry"  # send again after the wait
    GONE = "gone"  # a DELETE sent again found the order gone: how it ended is not known yet
    REFUSED = "refused"  # the answer stands (the order is gone, or it stays open)


@dataclass(slots=True)
class CancelRetries:
    """One order's cancel and its retries: a 401 renews the token once, a 429 waits for its
    Retry-After (up to ``RATE_RETRIES`` times), a 5xx or no answer at all is sent again (up to
    ``SERVER_RETRIES`` times). Pure: it says how long to wait, the caller waits."""

    order_id: str
    renewed: bool = False
    rate_waits: int = 0
    server_tries: int = 0

    @property
    def repeated(self) -> bool:
        """Whether the DELETE has been sent more than once."""
        return bool(self.rate_waits or self.server_tries or self.renewed)

    def after_unreachable(self) -> float | None:
        """The venue was not reached, or did not answer readably: seconds to wait before the
        DELETE goes again (a DELETE may be repeated), or ``None`` when the retries are spent."""
        if self.server_tries >= SERVER_RETRIES:
            return None
        self.server_tries += 1
        return 0.2 * self.server_tries

    def after_error(self, error: ErrorReply) -> tuple[CancelStep, float]:
        """The step after the error answer ``error``, and the seconds to wait before it."""
        if error.auth_failed and not self.renewed:
            self.renewed = True
            return CancelStep.RENEW, 0.0
        status = error.http_status
        if status == 429 and self.rate_waits < RATE_RETRIES:
            self.rate_waits += 1
            wait = error.retry_after_s if error.retry_after_s is not None else 1.0
            return CancelStep.RETRY, min(wait, RETRY_WAIT_CAP)
        if error.retryable and status != 429 and self.server_tries < SERVER_RETRIES:
            self.server_tries += 1
            return CancelStep.RETRY, min(
                error.retry_after_s or 0.25 * self.server_tries, RETRY_WAIT_CAP
            )
        if error.order_gone and self.repeated:
            return CancelStep.GONE, 0.0
        return CancelStep.REFUSED, 0.0


@dataclass(frozen=True, slots=True)
class GoneOutcome:
    """What a cancel's "the order is gone" answer says of how the order ended: ``status`` is
    the final status the venue named (None: it named none, the outcome is "closed, how
    unknown" until the stream or a re-read says more)."""

    outcome: Outcome
    text: str
    status: OrderStatus | None
    status_text: str


def gone_outcome(error: ErrorReply, order_id: str, repeated: bool) -> GoneOutcome:
    """The outcome of a cancel whose answer ``error`` says the order is gone (400/404).

    Only what the venue said: the final status its answer names (Completed → filled,
    Cancelled → cancelled, Expired/Rejected → closed, with the word), else "closed, how
    unknown" — never "cancelled" for an order merely not found. ``repeated``: the answer came
    to a DELETE sent again (after a 429, a 5xx, a renewed token or no answer), so the first
    one was never processed and the order ended some other way meanwhile."""
    word = error.order_status
    status = terminal_status(word) if word else None
    if status is not None:
        outcome = _CANCEL_OUTCOMES[word]
        said = "filled" if outcome is Outcome.FILLED else word.lower()
        how = f"the repeated request found it {word}" if repeated else f"the venue says {word}"
        text = f"Order {order_id}: {said} ({how})"
        return GoneOutcome(outcome, clean(text, TEXT_LIMIT), status, word)
    found = f": {error.message}" if error.message else ""
    how = "the repeated request found it gone" if repeated else "the venue did not find it"
    text = f"Order {order_id}: {Outcome.CLOSED.value} ({how}{found})"
    return GoneOutcome(Outcome.CLOSED, clean(text, TEXT_LIMIT), None, "")
