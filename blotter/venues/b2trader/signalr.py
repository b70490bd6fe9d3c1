"""The ASP.NET Core SignalR JSON hub protocol, sans-I/O: frames in, typed messages out.

Only what the B2TRADER account hub needs (``/work/shared/venues/b2trader.md`` §3.2–§3.5, §3.9):
every JSON message, the handshake included, ends with the record separator ``0x1E``; one
websocket frame may carry several records and a record may span frames (§3.3). ``type`` is a
JSON number and ``invocationId`` a JSON string (P-4, P-5).

Nothing here touches a socket or reads a clock. Parsers raise ``MalformedRecord`` (and nothing
else) for input that is not what the protocol says; its text is short and never echoes a payload.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from blotter.core.venue import MalformedFrame

RECORD_SEPARATOR: Final = "\x1e"
_RS_BYTES: Final = b"\x1e"
MAX_PARTIAL_RECORD: Final = 16 * 1024 * 1024  # chars (text frames) or bytes (binary frames)

# Keep-alive and timeouts: stock SignalR defaults (§3.5). B2TRADER's own values are unknown (U-8).
KEEP_ALIVE_INTERVAL_S: Final = 15.0  # send a Ping after this long without sending anything
SERVER_TIMEOUT_S: Final = 30.0  # the server is dead after this long without receiving anything
HANDSHAKE_TIMEOUT_S: Final = 15.0  # give up when the handshake response has not come by then

# Message type codes (§3.4).
INVOCATION: Final = 1
STREAM_ITEM: Final = 2
COMPLETION: Final = 3
STREAM_INVOCATION: Final = 4
CANCEL_INVOCATION: Final = 5
PING: Final = 6
CLOSE: Final = 7

_REASON_LIMIT: Final = 200


class MalformedRecord(MalformedFrame):
    """A record that is not a valid SignalR message. The text is short and holds no payload."""


class RecordTooLarge(MalformedRecord):
    """An unfinished record grew beyond the buffer bound: drop the connection."""


def _short(value: Any, limit: int = 40) -> str:
    """A value for an error text: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- messages ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HandshakeResponse:
    """``{}`` (accepted) or ``{"error": "…"}`` (refused; the server closes next)."""

    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Invocation:
    """Type 1. No ``invocation_id`` means fire-and-forget (no Completion expected)."""

    target: str
    arguments: tuple[Any, ...]
    invocation_id: str | None = None
    stream_ids: tuple[str, ...] = ()


_UNREAD: Final[Any] = object()


class StreamItem:
    """Type 2: one element of a stream. ``record`` is the raw text it was read from (for a
    re-read with exact decimals when the item carries JSON numbers, or for reading the orders
    of a list one by one); it is not compared.

    ``parse_message`` reads a StreamItem whose item is an array from its head alone: the item
    is decoded when first asked for (``MalformedRecord`` then, if the record is not what its
    head says), so a list that a newer one replaces before it is read costs nothing, and
    ``OpenOrdersParser`` can read the orders from the record's text.
    """

    __slots__ = ("_item", "invocation_id", "record")

    def __init__(self, invocation_id: str, item: Any = _UNREAD, record: str | bytes = "") -> None:
        if item is _UNREAD and not record:
            raise ValueError("a StreamItem without its item needs its record")
        self.invocation_id = invocation_id
        self._item = item
        self.record = record

    @property
    def item(self) -> Any:
        """The stream element (decoded from ``record`` on first use)."""
        item = self._item
        if item is _UNREAD:
            item = self._item = _item_of(self.record, self.invocation_id)
        return item

    def __eq__(self, other: object) -> bool:
        if type(other) is not StreamItem:
            return NotImplemented
        return self.invocation_id == other.invocation_id and self.item == other.item

    __hash__ = None  # type: ignore[assignment]  # it holds lists and dicts

    def __repr__(self) -> str:
        return f"StreamItem(invocation_id={self.invocation_id!r}, item={self.item!r})"


@dataclass(frozen=True, slots=True)
class Completion:
    """Type 3: the end of an invocation or stream, with a ``result`` or an ``error`` (never both).

    ``has_result`` tells ``"result": null`` from no result at all.
    """

    invocation_id: str
    result: Any = None
    error: str | None = None
    has_result: bool = False


@dataclass(frozen=True, slots=True)
class StreamInvocation:
    """Type 4: subscribe to a server stream."""

    invocation_id: str
    target: str
    arguments: tuple[Any, ...]
    stream_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CancelInvocation:
    """Type 5: unsubscribe."""

    invocation_id: str


@dataclass(frozen=True, slots=True)
class Ping:
    """Type 6: keep-alive, no payload."""


@dataclass(frozen=True, slots=True)
class Close:
    """Type 7: the peer closes the connection, with an error when it was not a clean close."""

    error: str | None = None
    allow_reconnect: bool = False


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A well-formed message of a type this codec does not know (8 Ack, 9 Sequence, newer ones).

    Forward compatible: callers ignore it (§3.4)."""

    type: int


PING_MESSAGE: Final = Ping()

HubMessage = (
    Invocation
    | StreamItem
    | Completion
    | StreamInvocation
    | CancelInvocation
    | Ping
    | Close
    | UnknownMessage
)


# -- record splitting --------------------------------------------------------------------------
class RecordSplitter:
    """Cuts websocket frames into records at ``0x1E`` and keeps the unfinished tail.

    A text frame gives ``str`` records, a binary frame ``bytes`` records (``0x1E`` never occurs
    inside a multi-byte UTF-8 sequence, so bytes split safely anywhere). If the frame kind changes
    while a tail is pending, the tail is converted to the new kind. Empty records (two separators
    in a row) are skipped. A tail longer than ``max_partial`` raises ``RecordTooLarge`` and is
    dropped.
    """

    __slots__ = ("_binary", "_max", "_parts", "_size")

    def __init__(self, max_partial: int = MAX_PARTIAL_RECORD) -> None:
        if max_partial < 1:
            raise ValueError("max_partial must be positive")
        self._max = max_partial
        self._parts: list[str | bytes] = []
        self._size = 0
        self._binary = False

    @property
    def pending(self) -> int:
        """Characters (or bytes) of the unfinished record held back."""
        return self._size

    def reset(self) -> None:
        """Forget the unfinished tail (call on every new connection)."""
        self._parts.clear()
        self._size = 0

    def feed(self, frame: str | bytes | bytearray | memoryview) -> list[str | bytes]:
        if isinstance(frame, str):
            if self._parts and self._binary:
                frame = frame.encode("utf-8", "surrogatepass")
            else:
                return self._feed_text(frame)
        elif not isinstance(frame, bytes):
            frame = bytes(frame)
        return self._feed_binary(frame)

    # Splitting walks the frame with ``find`` (memchr): ``str.split``/``count`` with a
    # one-character separator go character by character, ~30x slower on a 300 kB item.
    def _feed_text(self, frame: str) -> list[str | bytes]:
        self._binary = False
        end = frame.find(RECORD_SEPARATOR)
        if end == -1:
            self._keep(frame)
            return []
        records: list[str | bytes] = []
        if self._parts:
            first = self._join_text() + frame[:end]
            self.reset()
            records.append(first)
        elif end:
            records.append(frame[:end])
        start = end + 1
        while (end := frame.find(RECORD_SEPARATOR, start)) != -1:
            if end > start:
                records.append(frame[start:end])
            start = end + 1
        if start < len(frame):
            self._keep(frame[start:])
        return records

    def _feed_binary(self, frame: bytes) -> list[str | bytes]:
        if self._parts and not self._binary:
            text = self._join_text()
            self.reset()
            self._keep(text.encode("utf-8", "surrogatepass"))
        self._binary = True
        end = frame.find(_RS_BYTES)
        if end == -1:
            self._keep(frame)
            return []
        records: list[str | bytes] = []
        if self._parts:
            first = b"".join(p for p in self._parts if isinstance(p, bytes)) + frame[:end]
            self.reset()
            records.append(first)
        elif end:
            records.append(frame[:end])
        start = end + 1
        while (end := frame.find(_RS_BYTES, start)) != -1:
            if end > start:
                records.append(frame[start:end])
            start = end + 1
        if start < len(frame):
            self._keep(frame[start:])
        return records

    def _join_text(self) -> str:
        return "".join(p for p in self._parts if isinstance(p, str))

    def _keep(self, tail: str | bytes) -> None:
        if not tail:
            return
        size = self._size + len(tail)
        if size > self._max:
            self.reset()
            raise RecordTooLarge(
                f"unfinished record longer than {self._max} (no 0x1E separator seen)"
            )
        self._parts.append(tail)
        self._size = size


# -- parsing -----------------------------------------------------------------------------------
def _load(record: str | bytes | bytearray | memoryview) -> Any:
    try:
        return orjson.loads(record)
    except (orjson.JSONDecodeError, TypeError, ValueError, UnicodeError, RecursionError) as exc:
        raise MalformedRecord(f"not JSON ({type(exc).__name__})") from None


def _opt_text(msg: dict[str, Any], key: str) -> str | None:
    value = msg.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise MalformedRecord(f"{key} is not a string")
    return value


def _text(msg: dict[str, Any], key: str, kind: str) -> str:
    value = msg.get(key)
    if type(value) is not str:
        raise MalformedRecord(f"{kind} without a string {key}")
    return value


def _arguments(msg: dict[str, Any], kind: str) -> tuple[Any, ...]:
    value = msg.get("arguments")
    if type(value) is not list:
        raise MalformedRecord(f"{kind} without an arguments array")
    return tuple(value)


def _stream_ids(msg: dict[str, Any]) -> tuple[str, ...]:
    value = msg.get("streamIds")
    if value is None:
        return ()
    if type(value) is not list or any(type(v) is not str for v in value):
        raise MalformedRecord("streamIds is not an array of strings")
    return tuple(value)


def _item_of(record: str | bytes, invocation_id: str) -> Any:
    """The item of a StreamItem read from its head: the record decoded, and checked to be the
    StreamItem of ``invocation_id`` that its head said."""
    msg = _load(record)
    if (
        type(msg) is not dict or type(msg.get("type")) is not int or msg["type"] != STREAM_ITEM
        or msg.get("invocationId") != invocation_id or "item" not in msg
    ):
        raise MalformedRecord("StreamItem record is not what its head says")
    return msg["item"]


def parse_handshake_response(record: str | bytes | bytearray | memoryview) -> HandshakeResponse:
    """The first record from the server: ``{}`` or ``{"error": "…"}``; other keys are ignored."""
    msg = _load(record)
    if type(msg) is not dict:
        raise MalformedRecord("handshake response is not a JSON object")
    if "type" in msg:
        # A hub message before the handshake answer: the server is not speaking this protocol.
        raise MalformedRecord("hub message where the handshake response was expected")
    error = msg.get("error")
    if error is None:
        return HandshakeResponse()
    if type(error) is not str:
        raise MalformedRecord("handshake error is not a string")
    return HandshakeResponse(error[:_REASON_LIMIT * 5] or "handshake refused")


# A StreamItem whose item is an array, up to the array's "[" (the invocation id in group 1): read
# from the head alone (see ``StreamItem``).
ITEM_HEAD: Final = (
    r'\{\s*"type"\s*:\s*2\s*,\s*"invocationId"\s*:\s*"([^"\\\x00-\x1f]*)"\s*,\s*"item"\s*:\s*\['
)
ITEM_HEADS: Final[dict[type, re.Pattern[Any]]] = {
    str: re.compile(ITEM_HEAD), bytes: re.compile(ITEM_HEAD.encode())
}
_ITEM_ENDS: Final[dict[type, Any]] = {str: "]}", bytes: b"]}"}


def parse_message(record: str | bytes | bytearray | memoryview) -> HubMessage:
    """One hub message record (without its separator) → a typed message.

    Unknown ``type`` values become ``UnknownMessage``; unknown keys (``headers``, …) are ignored.
    A StreamItem of an array is read from its head; its item is decoded when first asked for.
    """
    if isinstance(record, (str, bytes)):
        head = ITEM_HEADS[type(record)].match(record)
        if head is not None and record.endswith(_ITEM_ENDS[type(record)]):
            invocation = head.group(1)
            if type(invocation) is bytes:
                invocation = invocation.decode("utf-8", "replace")
            return StreamItem(invocation, _UNREAD, record)
    msg = _load(record)
    if type(msg) is not dict:
        raise MalformedRecord(f"message is not a JSON object ({type(msg).__name__})")
    kind = msg.get("type")
    if type(kind) is not int:
        raise MalformedRecord(f"message type is not a JSON number: {_short(kind)}")
    if kind == STREAM_ITEM:
        if "item" not in msg:
            raise MalformedRecord("StreamItem without an item")
        raw = record if isinstance(record, (str, bytes)) else bytes(record)
        return StreamItem(_text(msg, "invocationId", "StreamItem"), msg["item"], raw)
    if kind == PING:
        return PING_MESSAGE
    if kind == COMPLETION:
        invocation_id = _text(msg, "invocationId", "Completion")
        error = _opt_text(msg, "error")
        has_result = "result" in msg
        if has_result and error is not None:
            raise MalformedRecord("Completion with both result and error")
        return Completion(invocation_id, msg.get("result"), error, has_result)
    if kind == CLOSE:
        allow = msg.get("allowReconnect", False)
        if allow is None:
            allow = False
        if type(allow) is not bool:
            raise MalformedRecord("allowReconnect is not a boolean")
        return Close(_opt_text(msg, "error"), allow)
    if kind == INVOCATION:
        return Invocation(
            _text(msg, "target", "Invocation"),
            _arguments(msg, "Invocation"),
            _opt_text(msg, "invocationId"),
            _stream_ids(msg),
        )
    if kind == STREAM_INVOCATION:
        return StreamInvocation(
            _text(msg, "invocationId", "StreamInvocation"),
            _text(msg, "target", "StreamInvocation"),
            _arguments(msg, "StreamInvocation"),
            _stream_ids(msg),
        )
    if kind == CANCEL_INVOCATION:
        return CancelInvocation(_text(msg, "invocationId", "CancelInvocation"))
    return UnknownMessage(kind)


class Decoder:
    """Frames in, messages out, for one connection: the handshake response first, then hub
    messages.

    ``feed`` queues the complete records of a frame (it raises only ``RecordTooLarge``);
    ``next_message`` parses one at a time, so a malformed record (``MalformedRecord``) costs
    only itself: call again for the rest. Iterating yields until the queue is empty.
    """

    __slots__ = ("_records", "_splitter", "handshake")

    def __init__(self, max_partial: int = MAX_PARTIAL_RECORD) -> None:
        self._splitter = RecordSplitter(max_partial)
        self._records: deque[str | bytes] = deque()
        self.handshake: HandshakeResponse | None = None  # set once the response has arrived

    def feed(self, frame: str | bytes | bytearray | memoryview) -> None:
        self._records.extend(self._splitter.feed(frame))

    def next_message(self) -> HandshakeResponse | HubMessage | None:
        """The next message, or ``None`` when no complete record is waiting."""
        if not self._records:
            return None
        record = self._records.popleft()
        if self.handshake is None:
            response = parse_handshake_response(record)
            self.handshake = response
            return response
        return parse_message(record)

    def __iter__(self) -> Iterator[HandshakeResponse | HubMessage]:
        while True:
            message = self.next_message()
            if message is None:
                return
            yield message

    @property
    def pending_records(self) -> int:
        return len(self._records)

    def reset(self) -> None:
        """A new connection: expect a handshake response again."""
        self._splitter.reset()
        self._records.clear()
        self.handshake = None


# -- builders ----------------------------------------------------------------------------------
def _dump(message: dict[str, Any]) -> str:
    # json.dumps escapes control characters, so a payload can never contain a 0x1E itself.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False) + RECORD_SEPARATOR


def handshake_request(protocol: str = "json", version: int = 1) -> str:
    """``{"protocol":"json","version":1}`` + RS: the client's first message (§3.3, P-15)."""
    return _dump({"protocol": protocol, "version": version})


def stream_invocation(invocation_id: str, target: str, arguments: Sequence[Any]) -> str:
    """A type-4 subscription, keys as in the venue's example (§3.6)."""
    if type(invocation_id) is not str or not invocation_id:
        raise ValueError("invocation_id must be a non-empty string")
    return _dump(
        {
            "arguments": list(arguments),
            "invocationId": invocation_id,
            "target": target,
            "type": STREAM_INVOCATION,
        }
    )


def cancel_invocation(invocation_id: str) -> str:
    if type(invocation_id) is not str or not invocation_id:
        raise ValueError("invocation_id must be a non-empty string")
    return _dump({"type": CANCEL_INVOCATION, "invocationId": invocation_id})


_PING_TEXT: Final = _dump({"type": PING})
_CLOSE_TEXT: Final = _dump({"type": CLOSE})


def ping() -> str:
    return _PING_TEXT


def close_message(error: str | None = None, allow_reconnect: bool = False) -> str:
    """``{"type":7}`` + RS (with ``error`` / ``allowReconnect`` when given)."""
    if error is None and not allow_reconnect:
        return _CLOSE_TEXT
    message: dict[str, Any] = {"type": CLOSE}
    if error is not None:
        message["error"] = error
    if allow_reconnect:
        message["allowReconnect"] = True
    return _dump(message)


class InvocationIds:
    """``"0"``, ``"1"``, … for one connection: unique, and +1 each time as the venue asks (§3.1)."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        self._next = start

    def next(self) -> str:
        value = str(self._next)
        self._next += 1
        return value

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return self.next()
