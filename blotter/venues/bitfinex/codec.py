"""Bitfinex API v2, sans-I/O: frames in, events out; requests built and signed, never sent here.

Nothing in this module touches a socket or reads a clock: times and nonces are passed in. The
client (``client.py``) only shuttles bytes between the network and these functions.

Frames (``/work/shared/venues/bitfinex.md`` §3): the account channel 0 carries ``os`` (snapshot),
``on``/``ou`` (new/updated, still open), ``oc`` (closed: cancelled *or* filled — read STATUS), ``n``
(notifications, the venue's words for the status bar) and ``hb``. Control messages are JSON
objects with an ``"event"`` key (``info``, ``auth``, ``error``, ...).

Numbers: the venue sends amounts and prices as JSON numbers. ``orjson`` reads them as floats
and ``Decimal(repr(f))`` is the exact decimal that was printed (shortest round-trip repr, and
Bitfinex never prints more than 15 significant digits). Integers stay integers. Orders carry the
number as read and ``Order`` makes that conversion on the first read of the field.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final

import orjson

from blotter.core.notices import Level, Notice
from blotter.core.order import (
    AccountKey,
    Closed,
    Flag,
    Order,
    OrderKey,
    OrderStatus,
    Side,
    Snapshot,
    Upsert,
    build_order,
)
from blotter.core.venue import MalformedFrame

VENUE: Final = "bitfinex"
ORDER_FIELDS: Final = 32
NOTIFICATION_FIELDS: Final = 8
AUTH_FILTER: Final = ("trading", "notify")
MULTI_CANCEL_CHUNK: Final = 200  # ids per oc_multi input / REST call (the venue documents no max)

# REST paths, relative to "/v2/" (the signature covers "/api/v2/<path>").
PATH_ORDERS: Final = "auth/r/orders"
PATH_CANCEL: Final = "auth/w/order/cancel"
PATH_CANCEL_MULTI: Final = "auth/w/order/cancel/multi"

# Info codes (§1.6) and error codes (§1.7) the client acts on.
INFO_RESTART: Final = 20051
INFO_MAINTENANCE_START: Final = 20060
INFO_MAINTENANCE_END: Final = 20061
ERR_AUTH_FAIL: Final = 10100
ERR_AUTH_NONCE: Final = 10114



# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Info:
    version: int | None
    code: int | None
    msg: str
    platform_status: int | None  # 1 operative, 0 maintenance (only on the connect info)


@dataclass(frozen=True, slots=True)
class AuthReply:
    ok: bool
    code: int | None
    msg: str
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class VenueError:
    code: int | None
    msg: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    channel: int


@dataclass(frozen=True, slots=True)
class Pong:
    cid: int | None
    ts: int | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed frame the blotter has no use for (wallets, positions, trades, conf, ...)."""

    kind: str


@dataclass(frozen=True, slots=True)
class Notification:
    """An ``n`` frame (or a REST write answer): the venue's status keyword and text, verbatim.

    ``order_ids`` come from NOTIFY_INFO (one order array, or a list of them); ``orders`` holds
    those that are full order arrays (ERROR stubs carry only the id).
    """

    kind: str  # oc-req, oc_multi-req, on-req, ...
    status: str  # SUCCESS, ERROR, FAILURE, ...
    text: str
    code: int | None
    order_ids: tuple[str, ...]
    orders: tuple[Order, ...]
    mts: int | None
    client_ids: tuple[str, ...] = ()  # CID [2] of each listed array (stubs of cid cancels)

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS"


@dataclass(frozen=True, slots=True)
class RestError:
    """``["error", CODE, "TEXT"]`` or any other non-success answer of the REST API."""

    http_status: int
    code: int | None
    text: str


HEARTBEAT: Final = Heartbeat(0)

BitfinexEvent = (
    Snapshot
    | Upsert
    | Closed
    | Notification
    | Info
    | AuthReply
    | VenueError
    | Heartbeat
    | Pong
    | Ignored
)


# -- order arrays ------------------------------------------------------------------------------
_FLAG_BITS: Final = (
    (64, Flag.HIDDEN),
    (512, Flag.CLOSE),
    (1024, Flag.REDUCE_ONLY),
    (4096, Flag.POST_ONLY),
    (16384, Flag.OCO),
)
_FLAG_HIDDEN_BIT: Final = 64
_DAY_MS: Final = 86_400_000

_LEVELS: Final = {
    "SUCCESS": Level.SUCCESS,
    "ERROR": Level.ERROR,
    "FAILURE": Level.ERROR,
    "INFO": Level.INFO,
    "WARNING": Level.WARNING,
}


def _closed_status(text: str, fully_executed: bool) -> OrderStatus:
    """Normalise the STATUS of an ``oc`` frame from its leading keyword (§6.2).

    The text is shown as is; only the keyword before `` @`` / `` was`` / ``:`` decides.
    """
    lead = text.partition(" was")[0].partition(" @")[0].partition(":")[0].partition(" (")[0]
    lead = lead.strip()
    if lead in ("EXECUTED", "FORCED EXECUTED"):
        return OrderStatus.FILLED
    if lead.endswith("CANCELED"):  # CANCELED, POSTONLY/IOC/FILLORKILL CANCELED
        return OrderStatus.CANCELLED
    if lead.startswith("INSUFFICIENT"):  # the venue cancelled it for margin/balance
        return OrderStatus.CANCELLED
    if lead.startswith("RSN_POS_"):  # reduce-only orders the venue refused to keep
        return OrderStatus.REJECTED
    if lead.startswith("RSN_"):  # RSN_DUST, RSN_PAUSE, RSN_BOOK_SLIP: removed by the venue
        return OrderStatus.CANCELLED
    return OrderStatus.FILLED if fully_executed else OrderStatus.CANCELLED


def _utc_date(day: int) -> str:
    # Days since the epoch -> YYYY-MM-DD (civil-from-days, Howard Hinnant), no datetime needed.
    z = day + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return f"{y:04d}-{m:02d}-{d:02d}"


def utc_date_of_ms(ms: int) -> str:
    """The UTC calendar day of a millisecond timestamp, as Bitfinex's ``cid_date`` wants it."""
    return _utc_date(ms // _DAY_MS)


_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
# The fields of an order array that do not change while it is open (§3.2): GID, CID, SYMBOL,
# MTS_CREATE, AMOUNT_ORIG, TYPE, FLAGS, HIDDEN. One C call picks them for the known-order check.
_fixed_fields = itemgetter(1, 2, 3, 4, 7, 8, 12, 24)
_KNOWN_LIMIT: Final = 262_144
# Enum members as plain globals: ``OrderStatus.OPEN`` is a class attribute look-up each time.
_OPEN: Final = OrderStatus.OPEN
_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED

# What FrameParser remembers of an order id: its fixed fields as sent (for the comparison), their
# types, then what was made of them: key, order id, symbol, side, type, amount (the unsigned JSON
# number), client id, cid date, group id, flags, MTS_CREATE.
_Known = tuple[
    tuple[Any, ...], tuple[type, ...], OrderKey, str, str, Side, str, Any, str | None,
    str | None, str | None, frozenset[Flag], int | None,
]


class FrameParser:
    """Turns one account's frames into events. Holds only caches: no I/O, no clock.

    ``parse`` raises ``MalformedFrame`` for anything that is not a valid frame; it never raises
    anything else.

    Orders keep the JSON numbers orjson read (``Order`` converts them to exact decimals on first
    read). An order's fixed fields (id, symbol, side, client and group ids, ...) are validated and
    converted once per order id: an update whose fixed fields equal those already seen reuses
    them and only the changing fields (MTS_UPDATE, AMOUNT, STATUS, PRICE, PRICE_AVG) are checked.
    """

    def __init__(self, account: AccountKey) -> None:
        if account.venue != VENUE:
            raise ValueError(f"not a Bitfinex account: {account}")
        self.account = account
        self._venue = account.venue
        self._account = account.account
        # Caches keep the hot path to dict lookups.
        self._known: dict[int, _Known] = {}
        self._flags: dict[int, frozenset[Flag]] = {}
        self._days: dict[int, str] = {}
        self._closed: dict[str, OrderStatus] = {}

    # -- frames ------------------------------------------------------------------------------
    def parse(self, frame: bytes | bytearray | memoryview | str) -> BitfinexEvent:
        event = self.parse_stream(frame)
        if type(event) is Order:
            return Upsert(event)
        return event  # type: ignore[return-value]  # not an Order, so a BitfinexEvent

    def parse_stream(self, frame: bytes | bytearray | memoryview | str) -> Order | BitfinexEvent:
        """``parse``, except that an ``on``/``ou`` comes back as the bare ``Order``.

        It is the client's hot path: an ``Order`` here means ``Upsert(order)``, without
        allocating the wrapper for every frame.
        """
        try:
            msg = _loads(frame)
        except (_JSONDecodeError, TypeError) as exc:
            raise MalformedFrame(f"not JSON: {exc}") from None
        # The hot path, inline: [0, "ou"|"on", ORDER].
        if type(msg) is list and len(msg) > 2:
            kind = msg[1]
            if (kind == "ou" or kind == "on") and msg[0] == 0 and type(msg[0]) is int:
                try:
                    return self._order(msg[2], False)
                except MalformedFrame:
                    raise
                except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                    raise MalformedFrame(f"{type(exc).__name__}: {exc}") from None
        return self.parse_message(msg)

    def parse_message(self, msg: Any) -> BitfinexEvent:
        try:
            if type(msg) is list:
                return self._array(msg)
            if type(msg) is dict:
                return self._event(msg)
        except MalformedFrame:
            raise
        except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}") from None
        raise MalformedFrame(f"neither an array nor an object: {type(msg).__name__}")

    def _array(self, msg: list[Any]) -> BitfinexEvent:
        n = len(msg)
        if n < 2 or type(msg[1]) is not str:
            raise MalformedFrame("array frame without a message type")
        channel = msg[0]
        kind: str = msg[1]
        if channel != 0 or type(channel) is not int:
            if type(channel) is not int:
                raise MalformedFrame("array frame without a channel id")
            return HEARTBEAT if kind == "hb" else Ignored("channel")
        if kind == "hb":
            return HEARTBEAT
        if n < 3:
            raise MalformedFrame(f"{kind!r} frame without data")
        data = msg[2]
        if kind == "ou" or kind == "on":
            return Upsert(self.parse_order(data))
        if kind == "oc":
            return Closed(self.parse_order(data, closed=True))
        if kind == "n":
            return self.parse_notification(data)
        if kind == "os":
            return Snapshot(self.account, self.parse_orders(data))
        return Ignored(kind)

    def _event(self, msg: dict[str, Any]) -> BitfinexEvent:
        event = msg.get("event")
        if type(event) is not str:
            raise MalformedFrame("object frame without an event name")
        if event == "info":
            version = _opt_int(msg.get("version"), "version")
            code = _opt_int(msg.get("code"), "code")
            if version is None and code is None:
                raise MalformedFrame("info event with neither version nor code")
            platform = msg.get("platform")
            status = platform.get("status") if type(platform) is dict else None
            return Info(version, code, _text(msg.get("msg")), _opt_int(status, "platform"))
        if event == "auth":
            status = msg.get("status")
            if type(status) is not str:
                raise MalformedFrame("auth reply without a status")
            return AuthReply(
                status == "OK",
                _opt_int(msg.get("code"), "code"),
                _text(msg.get("msg")),
                _opt_int(msg.get("userId"), "userId"),
            )
        if event == "error":
            return VenueError(_opt_int(msg.get("code"), "code"), _text(msg.get("msg")))
        if event == "pong":
            return Pong(_opt_int(msg.get("cid"), "cid"), _opt_int(msg.get("ts"), "ts"))
        return Ignored(event)

    # -- orders ------------------------------------------------------------------------------
    def parse_orders(self, data: Any) -> tuple[Order, ...]:
        """A list of order arrays (the ``os`` snapshot, or REST ``auth/r/orders``)."""
        if type(data) is not list:
            raise MalformedFrame("order list is not an array")
        try:
            return tuple([self.parse_order(a) for a in data])
        except MalformedFrame:
            raise
        except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}") from None

    def parse_order(self, a: Any, closed: bool = False) -> Order:
        """One 32-field order array (§3.2); longer arrays are fine, shorter ones are not."""
        return self._order(a, closed)

    def _order(self, a: Any, closed: bool) -> Order:
        """This is the hot path (every ``ou``): plain local lookups, no decimal work, no regex."""
        if type(a) is not list or len(a) < ORDER_FIELDS:
            raise MalformedFrame("order is not an array of 32 fields")
        oid = a[0]
        if type(oid) is not int or oid <= 0:
            raise MalformedFrame("order without an integer id")
        fixed = _fixed_fields(a)
        known = self._known.get(oid)
        if known is None or fixed != known[0]:
            known = self._learn(oid, fixed)
        (
            _, types, key, _, symbol, side, order_type, amount, cid, cid_date, gid, flags,
            created,
        ) = known
        # == alone takes 1.0 or True for 1: the numbers' JSON types must be the known ones too
        # (the text fields compare equal only to text, and HIDDEN counts only as true/false).
        gid_t, cid_t, _, created_t, orig_t, _, bits_t, _ = types
        g, c, _, m, n, _, b, _ = fixed
        if (
            type(g) is not gid_t or type(c) is not cid_t or type(m) is not created_t
            or type(n) is not orig_t or type(b) is not bits_t
        ):
            known = self._learn(oid, fixed)
            (
                _, _, key, _, symbol, side, order_type, amount, cid, cid_date, gid,
                flags, created,
            ) = known
        if closed:
            self._known.pop(oid, None)  # it left the book: forget it

        status_text = a[13]
        if type(status_text) is not str:
            raise MalformedFrame(f"order {oid}: symbol, type or status is not text")
        # The remaining amount [6], unsigned (the sign is the side's, from AMOUNT_ORIG).
        rem = a[6]
        t = type(rem)
        if t is float or t is int:
            if rem < 0:
                rem = -rem
        elif rem is None and closed:
            rem = 0
        else:
            raise MalformedFrame(f"order {oid}: amount is not a number")
        price = a[16]
        t = type(price)
        if t is not float and t is not int and price is not None:
            raise MalformedFrame(f"order {oid}: price is not a number")
        avg = a[17]
        t = type(avg)
        if not avg:  # PRICE_AVG is 0 (or null) until the first fill
            if avg is not None and t is not float and t is not int:
                raise MalformedFrame(f"order {oid}: average price is not a number")
            avg = None
        elif t is not float and t is not int:
            raise MalformedFrame(f"order {oid}: average price is not a number")
        updated = a[5]
        if updated is not None and type(updated) is not int:
            raise MalformedFrame(f"order {oid}: MTS_UPDATE is not an integer")

        if closed:
            status = self._closed.get(status_text)
            if status is None:
                status = _closed_status(status_text, rem == 0)
                if len(self._closed) < 1024 and "@" not in status_text:
                    self._closed[status_text] = status
        elif rem < amount or status_text.startswith("PARTIALLY"):
            status = _PARTIALLY_FILLED
        else:
            status = _OPEN  # ACTIVE, RSN_PAUSE, ...: in os/on/ou it is open

        return build_order(
            key, symbol, side, order_type, amount, rem, status, status_text, price, avg, cid,
            cid_date, gid, flags, created, updated, None,
        )

    def _learn(self, oid: int, fixed: tuple[Any, ...]) -> _Known:
        """Validate and convert the fixed fields of an order seen for the first time (or changed)."""
        gid, cid, symbol, created, orig, order_type, bits, hidden = fixed
        if type(symbol) is not str or type(order_type) is not str:
            raise MalformedFrame(f"order {oid}: symbol, type or status is not text")
        # Amounts: the sign of the original [7] gives the side.
        t = type(orig)
        if t is float or t is int:
            if orig < 0:
                side = Side.SELL
                orig = -orig
            else:
                side = Side.BUY
        else:
            raise MalformedFrame(f"order {oid}: original amount is not a number")
        if gid is not None:
            if type(gid) is not int:
                raise MalformedFrame(f"order {oid}: group id is not an integer")
            gid = str(gid)
        cid_date = None
        if created is not None and type(created) is not int:
            raise MalformedFrame(f"order {oid}: MTS_CREATE is not an integer")
        if cid is not None:
            if type(cid) is not int:
                raise MalformedFrame(f"order {oid}: client id is not an integer")
            cid = str(cid)
            if created is not None:
                day = created // _DAY_MS
                cid_date = self._days.get(day)
                if cid_date is None:
                    cid_date = self._days[day] = _utc_date(day)
        if bits is not None and type(bits) is not int:  # before the look-up: 0.0 == 0
            raise MalformedFrame(f"order {oid}: flags are not an integer")
        if hidden:  # the HIDDEN field
            bits = (bits or 0) | _FLAG_HIDDEN_BIT
        flags = self._flags.get(bits)
        if flags is None:
            flags = self._flag_set(bits)
        order_id = str(oid)
        known: _Known = (
            fixed, tuple(map(type, fixed)), OrderKey(self._venue, self._account, order_id),
            order_id, symbol, side, order_type, orig, cid, cid_date, gid, flags, created,
        )
        cache = self._known
        if len(cache) >= _KNOWN_LIMIT:
            cache.clear()
        cache[oid] = known
        return known

    def _flag_set(self, bits: Any) -> frozenset[Flag]:
        if bits is None:
            bits = 0
        elif type(bits) is not int:
            raise MalformedFrame("order flags are not an integer")
        flags = frozenset(f for bit, f in _FLAG_BITS if bits & bit)
        if len(self._flags) < 4096:
            self._flags[bits] = flags
        return flags

    # -- notifications -----------------------------------------------------------------------
    def parse_notification(self, data: Any) -> Notification:
        """``[MTS, TYPE, MESSAGE_ID, null, NOTIFY_INFO, CODE, STATUS, TEXT, ...]`` (§3.4)."""
        if type(data) is not list or len(data) < NOTIFICATION_FIELDS:
            raise MalformedFrame("notification is not an array of 8 fields")
        kind = data[1]
        status = data[6]
        if type(kind) is not str:
            raise MalformedFrame("notification without a type")
        if status is not None and type(status) is not str:
            raise MalformedFrame("notification status is not text")
        info = data[4]
        arrays: list[Any]
        if type(info) is list and info and type(info[0]) is list:
            arrays = info  # oc_multi-req, REST on-req: a list of order arrays
        elif type(info) is list and info:
            arrays = [info]  # oc-req: one order array (or an id-only stub)
        else:
            arrays = []
        ids: list[str] = []
        cids: list[str] = []
        orders: list[Order] = []
        for arr in arrays:
            if type(arr) is not list or not arr:
                continue
            if type(arr[0]) is int and arr[0] > 0:
                ids.append(str(arr[0]))
            if len(arr) > 2 and type(arr[2]) is int:
                cids.append(str(arr[2]))
            try:
                orders.append(self.parse_order(arr))
            except (MalformedFrame, LookupError, TypeError, ValueError, ArithmeticError):
                pass  # ERROR stubs and id-only acks carry no full order
        mts = data[0]
        code = data[5]
        return Notification(
            kind=kind,
            status=status or "",
            text=_text(data[7]),
            code=code if type(code) is int else None,
            order_ids=tuple(ids),
            orders=tuple(orders),
            mts=mts if type(mts) is int else None,
            client_ids=tuple(cids),
        )


def _opt_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit():  # e.g. a code sent as text
        return int(value)
    raise MalformedFrame(f"{what} is not an integer")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if type(value) is str else str(value)


# -- notices -----------------------------------------------------------------------------------
def notification_notice(n: Notification, account: AccountKey, ts_ms: int | None = None) -> Notice:
    """The venue's words for the status bar: ``STATUS: TEXT`` (``Notice.line()``)."""
    return Notice(
        venue=account.venue,
        account=account.account,
        level=_LEVELS.get(n.status, Level.INFO),
        text=n.text,
        status=n.status or None,
        order_ids=n.order_ids,
        ts_ms=ts_ms,
    )


def error_notice(
    code: int | None, msg: str, account: AccountKey, ts_ms: int | None = None
) -> Notice:
    return Notice(
        venue=account.venue,
        account=account.account,
        level=Level.ERROR,
        text=msg or "error without a message",
        status=f"ERROR {code}" if code is not None else "ERROR",
        ts_ms=ts_ms,
    )


def is_not_found(text: str) -> bool:
    """``Order not found.`` means the order is already gone (the one text we act on, as ccxt does)."""
    return "not found" in text.lower()


# -- requests ----------------------------------------------------------------------------------
def sign(secret: str, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA384 (§2.2, §5.1)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha384).hexdigest()


def auth_message(
    api_key: str,
    api_secret: str,
    nonce: int,
    *,
    dead_man_switch: bool = False,
    filters: tuple[str, ...] = AUTH_FILTER,
) -> bytes:
    """The WS ``auth`` event (§2.1). ``dms: 4`` only when asked: it cancels all orders on a drop."""
    payload = f"AUTH{nonce}"
    msg: dict[str, Any] = {
        "event": "auth",
        "apiKey": api_key,
        "authSig": sign(api_secret, payload),
        "authPayload": payload,
        "authNonce": nonce,
        "filter": list(filters),
    }
    if dead_man_switch:
        msg["dms"] = 4
    return orjson.dumps(msg)


@dataclass(frozen=True, slots=True)
class RestRequest:
    path: str  # relative to the origin, e.g. "/v2/auth/w/order/cancel"
    body: bytes  # the exact bytes signed and sent
    headers: dict[str, str]

    def __repr__(self) -> str:  # never show the key or the signature
        return f"RestRequest(path={self.path!r}, body={self.body[:80]!r})"


def rest_request(
    path: str, body: dict[str, Any] | None, api_key: str, api_secret: str, nonce: int
) -> RestRequest:
    """A signed REST call: HMAC-SHA384 over ``"/api/v2/" + path + nonce + body`` (§5.1)."""
    raw = orjson.dumps(body if body is not None else {})
    nonce_text = str(nonce)
    signature = sign(api_secret, f"/api/v2/{path}{nonce_text}".encode() + raw)
    return RestRequest(
        path=f"/v2/{path}",
        body=raw,
        headers={
            "content-type": "application/json",
            "bfx-nonce": nonce_text,
            "bfx-apikey": api_key,
            "bfx-signature": signature,
        },
    )


def cancel_input(order_id: int) -> bytes:
    return orjson.dumps([0, "oc", None, {"id": order_id}])


def cancel_cid_input(cid: int, cid_date: str) -> bytes:
    return orjson.dumps([0, "oc", None, {"cid": cid, "cid_date": cid_date}])


def cancel_multi_input(payload: dict[str, Any]) -> bytes:
    """``oc_multi`` with ``{"id": [...]}``, ``{"gid": [...]}``, ``{"cid": [[cid, date]]}`` or ``{"all": 1}``."""
    return orjson.dumps([0, "oc_multi", None, payload])


def chunks(ids: list[int], size: int = MULTI_CANCEL_CHUNK) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def parse_rest_error(http_status: int, body: bytes) -> RestError:
    """Read an error answer: ``["error", CODE, "TEXT"]`` (HTTP 500), or whatever a 429 carries."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if type(data) is list and len(data) >= 3 and data[0] == "error":
        code = data[1] if type(data[1]) is int else None
        return RestError(http_status, code, _text(data[2]))
    if type(data) is dict:
        for field in ("error", "message", "msg"):
            if type(data.get(field)) is str:
                return RestError(http_status, None, data[field])
    if http_status == 429:
        return RestError(http_status, None, "ratelimit: too many requests (HTTP 429)")
    excerpt = body[:120].decode("utf-8", "replace").strip()
    return RestError(http_status, None, excerpt or f"HTTP {http_status}")


def excerpt(frame: bytes | bytearray | memoryview | str, limit: int = 120) -> str:
    """A short, printable start of a frame for logs (frames from the venue carry no secrets)."""
    if isinstance(frame, str):
        text = frame
    else:
        text = bytes(frame[:limit * 4]).decode("utf-8", "replace")
    text = text[:limit]
    return repr(text) + ("…" if len(frame) > limit else "")
