"""Notices and connection states: the one bridge from venues (and the app) to the status bar and log."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from blotter.core.order import AccountKey, OrderKey


class Level(Enum):
    """How a notice reads: the status bar colours it by level."""
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a trader should read: ideally the venue's own words.

    ``status`` is the venue's status keyword when it sent one (Bitfinex ``SUCCESS``/``ERROR``,
    a Bybit retCode, an HTTP status), ``text`` the venue's text or ours when the venue said nothing.
    ``details`` are the lines behind a one-line summary (a cancel receipt's outcome of every
    order), shown when the trader opens the notice in the log; ``rest`` are the orders the notice
    found still open that the trader may want cancelled too ("Cancel the rest"). ``receipt``
    marks the line that ends a trader's action (how a cancel ended, or why it could not run):
    the status bar keeps it in view a moment against the venues' routine news.
    """

    venue: str
    account: str
    level: Level
    text: str
    status: str | None = None
    order_ids: tuple[str, ...] = ()
    ts_ms: int | None = None
    # progress ("Cancelling 37/120…"): shown in the status bar, not kept in the notice log
    transient: bool = False
    details: tuple[str, ...] = ()
    rest: tuple[OrderKey, ...] = ()
    receipt: bool = False

    @property
    def account_key(self) -> AccountKey:
        """The account this is about."""
        return AccountKey(self.venue, self.account)

    def line(self) -> str:
        """The notice as the status bar shows it: "STATUS: text" when the venue sent a status."""
        head = f"{self.status}: " if self.status else ""
        return f"{head}{self.text}"


class VenueState(Enum):
    """Where an account's connection is; the window shows it beside the account."""
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    FAILED = "failed"
    STOPPED = "stopped"
    REMOVED = "removed"  # the account is gone from the blotter: forget it


@dataclass(frozen=True, slots=True)
class AccountState:
    """One account's state change, with the reason (the venue's words, a close code)."""
    venue: str
    account: str
    state: VenueState
    reason: str = ""  # why (the venue's error text, the close code, ...)
    ts_ms: int | None = None  # when (epoch ms)
    attempt: int = 0  # RECONNECTING / FAILED: how many tries in a row have failed
    retry_in: float | None = None  # RECONNECTING / FAILED: seconds until the next try
    # leaving LIVE for silence: when the last message came (epoch ms), where the blind time began
    heard_ms: int | None = None

    @property
    def account_key(self) -> AccountKey:
        """The account this is about."""
        return AccountKey(self.venue, self.account)


T = TypeVar("T")


class Bus(Generic[T]):
    """A synchronous publish/subscribe list with a bounded history.

    A subscriber that raises is reported to ``on_error`` and does not stop the others.
    """

    def __init__(self, history: int = 500) -> None:
        self._subscribers: list[Callable[[T], None]] = []
        self.history: deque[T] = deque(maxlen=history)
        self.on_error: Callable[[BaseException], None] | None = None

    def subscribe(self, callback: Callable[[T], None]) -> Callable[[], None]:
        """Call ``callback`` with every item published from now on; returns the way to stop."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, item: T) -> None:
        """Keep ``item`` in the history and hand it to every subscriber, in order."""
        self.history.append(item)
        for callback in list(self._subscribers):
            try:
                callback(item)
            except Exception as exc:  # noqa: BLE001 - a broken view must not break the feed
                if self.on_error is not None:
                    self.on_error(exc)


class NoticeBus(Bus[Notice]):
    """The one bridge of notices: venues and the app publish, the status bar and log read."""


class StateBus(Bus[AccountState]):
    """Account states, and the current state of every account still known."""
    def __init__(self, history: int = 500) -> None:
        super().__init__(history)
        self.current: dict[AccountKey, AccountState] = {}

    def publish(self, item: AccountState) -> None:
        """As ``Bus.publish``; REMOVED also forgets the account's current state."""
        if item.state is VenueState.REMOVED:
            self.current.pop(item.account_key, None)
        else:
            self.current[item.account_key] = item
        super().publish(item)
