"""Bitfinex's words → ``Notice``s for the status bar and the notice log, pure.

The venue's STATUS keyword and TEXT are shown verbatim (``STATUS: TEXT``); only their level is
ours. Texts are never parsed for logic, with one exception the whole ecosystem makes:
``Order not found.`` means the order is already gone (bitfinex.md §3.4).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from blotter.core.notices import Level, Notice
from blotter.core.order import AccountKey
from blotter.venues.bitfinex.replies import Notification
from blotter.venues.bitfinex.stream import (
    INFO_MAINTENANCE_END,
    INFO_MAINTENANCE_START,
    INFO_RESTART,
    Info,
)

_LEVELS: Final = {
    "SUCCESS": Level.SUCCESS,
    "ERROR": Level.ERROR,
    "FAILURE": Level.ERROR,
    "INFO": Level.INFO,
    "WARNING": Level.WARNING,
}


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
    """An error event or a refused auth: ``ERROR CODE: TEXT``."""
    return Notice(
        venue=account.venue,
        account=account.account,
        level=Level.ERROR,
        text=msg or "error without a message",
        status=f"ERROR {code}" if code is not None else "ERROR",
        ts_ms=ts_ms,
    )


def rest_failure_notice(
    text: str,
    account: AccountKey,
    *,
    status: int,
    code: int | None,
    order_ids: Iterable[str] = (),
    ts_ms: int | None = None,
) -> Notice:
    """A REST call that failed (``RestFailure``): ``ERROR CODE: TEXT`` with the venue's code,
    ``HTTP STATUS: TEXT`` without one, plain ``ERROR`` when the venue was not reached (status 0)."""
    if status == 0:
        shown = "ERROR"
    elif code is not None:
        shown = f"ERROR {code}"
    else:
        shown = f"HTTP {status}"
    return Notice(
        account.venue, account.account, Level.ERROR, text, status=shown,
        order_ids=tuple(order_ids), ts_ms=ts_ms,
    )


def info_notice(info: Info, account: AccountKey, ts_ms: int | None = None) -> Notice | None:
    """An ``info`` event with a code, for the trader (``INFO CODE: TEXT``): a restart or the
    start of maintenance warns (with what it means for cancels); None for an info without code
    or text."""
    code = info.code
    if code == INFO_RESTART:
        level, text = Level.WARNING, info.msg or "venue restarting"
    elif code == INFO_MAINTENANCE_START:
        level = Level.WARNING
        text = (info.msg or "maintenance") + " — cancels go over REST until it ends"
    elif code == INFO_MAINTENANCE_END:
        level, text = Level.INFO, info.msg or "maintenance ended"
    elif code is not None and info.msg:
        level, text = Level.INFO, info.msg
    else:
        return None
    return Notice(
        account.venue, account.account, level, text, status=f"INFO {code}", ts_ms=ts_ms
    )


def is_not_found(text: str) -> bool:
    """``Order not found.`` means the order is already gone (the one text we act on, as ccxt does)."""
    return "not found" in text.lower()
