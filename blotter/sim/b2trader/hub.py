"""The ASP.NET Core SignalR JSON hub protocol as the simulator speaks it (b2trader.md §3.3,
§3.4): records are JSON texts each ended by the record separator 0x1E, one websocket frame may
hold several records or part of one.
"""

from __future__ import annotations

from typing import Any

import orjson

RS = "\x1e"

INVOCATION = 1
STREAM_ITEM = 2
COMPLETION = 3
STREAM_INVOCATION = 4
CANCEL_INVOCATION = 5
PING = 6
CLOSE = 7

PING_RECORD = '{"type":6}' + RS
HANDSHAKE_OK = "{}" + RS


def record(message: dict[str, Any]) -> str:
    """One hub message as a record: compact JSON plus the separator."""
    return orjson.dumps(message).decode() + RS


class RecordBuffer:
    """Collects incoming text and hands out complete records (without the separator); a
    record cut across frames waits here for its end."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self._pending = ""
        self._limit = limit

    def feed(self, text: str) -> list[str]:
        self._pending += text
        *complete, self._pending = self._pending.split(RS)
        if len(self._pending) > self._limit:
            raise ValueError("an unterminated record exceeds the size limit")
        return complete

    @property
    def pending(self) -> str:
        return self._pending


def stream_item(invocation_id: str, item: Any) -> str:
    return record({"type": STREAM_ITEM, "invocationId": invocation_id, "item": item})


def completion(invocation_id: str, error: str | None = None) -> str:
    msg: dict[str, Any] = {"type": COMPLETION, "invocationId": invocation_id}
    if error is not None:
        msg["error"] = error
    return record(msg)


def close(error: str | None = None, allow_reconnect: bool = False) -> str:
    msg: dict[str, Any] = {"type": CLOSE}
    if error is not None:
        msg["error"] = error
    if allow_reconnect:
        msg["allowReconnect"] = True
    return record(msg)


def handshake_error(text: str) -> str:
    return record({"error": text})
