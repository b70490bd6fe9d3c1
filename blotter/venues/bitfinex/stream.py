"""The Bitfinex v2 websocket stream, sans-I/O: frames in, events out.

Nothing here touches a socket or reads a clock; the client (``client.py``) hands each frame to
``StreamParser`` and acts on the event it gets back.

Frames (bitfinex.md §3): the account channel 0 carries ``os`` (snapshot), ``on``/``ou``
(new/updated, still open), ``oc`` (closed: cancelled *or* filled — read STATUS), ``n``
(notifications, the venue's words for the status bar) and ``hb``. Control messages are JSON
objects with an ``"event"`` key (``info``, ``auth``, ``error``, ``pong``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec
import orjson

from blotter.core.order import AccountKey, Closed, Order, Snapshot, Upsert
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex.orders import RECENT_ORDERS, OrderArray, OrderParser
from blotter.venues.bitfinex.replies import Notification, as_text, parse_notification

# Info codes (§1.6) the client acts on.
INFO_RESTART: Final = 20051
INFO_MAINTENANCE_START: Final = 20060
INFO_MAINTENANCE_END: Final = 20061


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Info:
    """An ``info`` event: the stream version on connect, or a code (restart, maintenance)."""

    version: int | None
    code: int | None
    msg: str
    platform_status: int | None  # 1 operative, 0 maintenance (only on the connect info)


@dataclass(frozen=True, slots=True)
class AuthReply:
    """The answer to our ``auth`` event: OK, or refused with the venue's code and text."""

    ok: bool
    code: int | None
    msg: str
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class VenueError:
    """An ``error`` event, in the venue's words."""

    code: int | None
    msg: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """``hb``: the venue is there (on any channel)."""

    channel: int


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to a ``ping``."""

    cid: int | None
    ts: int | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed frame the blotter has no use for (wallets, positions, trades, conf, ...)."""

    kind: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A frame that may have changed the account's orders but could not be read (whole).

    ``what`` it was, in words for the trader ("the close of order 123"); ``order_id`` when the
    id of its one order could be read; ``close`` the order array of an ``oc`` (the close it
    states may still apply, see ``orders.salvage_close``).
    """

    what: str
    order_id: str | None = None
    close: list[Any] | None = None


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

_ORDER_KINDS: Final = {
    "os": "the open orders snapshot",
    "on": "a new order",
    "ou": "an order update",
    "oc": "an order close",
}
_ONE_ORDER: Final = {"on": "new order {}", "ou": "an update of order {}", "oc": "the close of order {}"}
# the head of an account frame about orders, as sent: [0,"ou",...
_ORDER_HEAD: Final = re.compile(rb'\[\s*0\s*,\s*"(os|on|ou|oc)"')



class OrderFrame(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """An ``on``, ``ou`` or ``oc`` frame of the account channel, ``[0, KIND, ORDER]``, decoded
    with the order's field types checked (``OrderArray``). Any other frame (or a bad one) does
    not decode as one and is read the general way, which says what it is."""

    channel: Literal[0]  # the account channel
    kind: Literal["on", "ou", "oc"]
    order: OrderArray


_order_frame = msgspec.json.Decoder(OrderFrame).decode
_NOT_AN_ORDER_FRAME: Final = (msgspec.DecodeError, TypeError)  # ValidationError is a DecodeError
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_FRAME_ERRORS: Final = (LookupError, TypeError, ValueError, AttributeError, ArithmeticError)


class StreamParser:
    """Turns one account's frames into events. Holds only caches: no I/O, no clock.

    ``parse`` raises ``MalformedFrame`` for anything that is not a valid frame; it never raises
    anything else. ``orders`` reads the order arrays (shared with the REST answers, so an order
    is learnt once whichever way it came).
    """

    def __init__(self, account: AccountKey, recent_orders: int = RECENT_ORDERS) -> None:
        self.account = account
        self.orders = OrderParser(account, recent_orders)
        # Bound once: the hot path calls it for every ``ou``.
        self._order = self.orders.read_array

    def parse(self, frame: bytes | bytearray | memoryview | str) -> BitfinexEvent:
        """One frame → one event; ``on``/``ou`` become ``Upsert``."""
        event = self.parse_stream(frame)
        if type(event) is Order:
            return Upsert(event)
        return event  # type: ignore[return-value]  # not an Order, so a BitfinexEvent

    def parse_stream(self, frame: bytes | bytearray | memoryview | str) -> Order | BitfinexEvent:
        """``parse``, except that an ``on``/``ou`` comes back as the bare ``Order``.

        It is the client's hot path: an ``Order`` here means ``Upsert(order)``, without
        allocating the wrapper for every frame.
        """
        # The hot path, inline: [0, "ou"|"on"|"oc", ORDER], decoded with its types checked.
        try:
            framed = _order_frame(frame)
        except _NOT_AN_ORDER_FRAME:
            pass  # another kind of frame, or a bad one: the general way says which
        else:
            try:
                if framed.kind == "oc":
                    return Closed(self._order(framed.order, True))
                return self._order(framed.order, False)
            except MalformedFrame:
                raise
            except _FRAME_ERRORS as exc:
                raise MalformedFrame(f"{type(exc).__name__}: {exc}") from None
        try:
            msg = _loads(frame)
        except (_JSONDecodeError, TypeError) as exc:
            raise MalformedFrame(f"not JSON: {exc}") from None
        return self.parse_message(msg)

    def unreadable(self, frame: bytes | bytearray | memoryview | str) -> Unreadable | None:
        """What a frame that ``parse`` refused was about, when it may have changed the
        account's orders: one that is not JSON at all (it cannot be told apart), or an
        ``os``/``on``/``ou``/``oc`` whose content could not be read. None for anything else
        (control events, notifications, other channels): nothing the table shows is lost."""
        try:
            msg = _loads(frame)
        except (_JSONDecodeError, TypeError):
            raw = frame[:32].encode() if isinstance(frame, str) else bytes(frame[:32])
            head = _ORDER_HEAD.match(raw)
            return Unreadable(_ORDER_KINDS[head.group(1).decode()] if head else "a message")
        if type(msg) is not list or len(msg) < 2 or msg[0] != 0 or type(msg[0]) is not int:
            return None
        kind = msg[1]
        if type(kind) is not str:
            return Unreadable("a message")  # on the account channel: it may have been
        what = _ORDER_KINDS.get(kind)
        if what is None:
            return None
        data = msg[2] if len(msg) > 2 else None
        if kind == "os" or type(data) is not list or not data:
            return Unreadable(what)
        oid = data[0]
        if type(oid) is not int or oid <= 0:
            return Unreadable(what)
        return Unreadable(
            _ONE_ORDER[kind].format(oid), str(oid), data if kind == "oc" else None
        )

    def parse_message(self, msg: Any) -> BitfinexEvent:
        """One decoded frame (a JSON array or object) → one event."""
        try:
            if type(msg) is list:
                return self._array(msg)
            if type(msg) is dict:
                return self._event(msg)
        except MalformedFrame:
            raise
        except _FRAME_ERRORS as exc:
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
            return Upsert(self.orders.parse_order(data, False))
        if kind == "oc":
            return Closed(self.orders.parse_order(data, True))
        if kind == "n":
            return parse_notification(data, self.orders)
        if kind == "os":
            return Snapshot(self.account, self.orders.parse_orders(data))
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
            return Info(version, code, as_text(msg.get("msg")), _opt_int(status, "platform"))
        if event == "auth":
            status = msg.get("status")
            if type(status) is not str:
                raise MalformedFrame("auth reply without a status")
            return AuthReply(
                status == "OK",
                _opt_int(msg.get("code"), "code"),
                as_text(msg.get("msg")),
                _opt_int(msg.get("userId"), "userId"),
            )
        if event == "error":
            return VenueError(_opt_int(msg.get("code"), "code"), as_text(msg.get("msg")))
        if event == "pong":
            return Pong(_opt_int(msg.get("cid"), "cid"), _opt_int(msg.get("ts"), "ts"))
        return Ignored(event)


def _opt_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit():  # e.g. a code sent as text
        return int(value)
    raise MalformedFrame(f"{what} is not an integer")


def excerpt(frame: bytes | bytearray | memoryview | str, limit: int = 120) -> str:
    """A short, printable start of a frame for logs (frames from the venue carry no secrets)."""
    if isinstance(frame, str):
        text = frame
    else:
        text = bytes(frame[:limit * 4]).decode("utf-8", "replace")
    text = text[:limit]
    return repr(text) + ("…" if len(frame) > limit else "")
