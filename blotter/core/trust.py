"""Trust at a glance: which rows a live stream vouches for, and what changed while it did not.

``TrustBoard`` follows every account's ``AccountState`` and says of each row's account whether
it is verified (LIVE: the stream proved itself within its silence bound, and a full list made
the rows equal the venue's) or unverified, and since when. ``TrustReporter`` turns what the
store hands out into the trader's notices: every close the trader did not ask for, and one
summary per fresh list of an account's orders (after a reconnect, at start over the last known
orders, or an audit that caught the stream missing something). Pure: the clock is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from blotter.core.closes import ClosedOrder, CloseReason, ResyncDiff
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, VenueState
from blotter.core.order import AccountKey

Clock = Callable[[], int]  # epoch milliseconds


def client_account(account: AccountKey) -> AccountKey:
    """The connection an account's rows come through: itself, or for a trading account named
    ``<login>/<trading account>`` (B2TRADER) its login."""
    head, sep, _ = account.account.partition("/")
    return AccountKey(account.venue, head) if sep else account


@dataclass(slots=True)
class AccountTrust:
    """What the board knows of one connection."""

    state: AccountState | None = None
    unverified_since: int | None = None  # epoch ms; None while verified
    live_since: int | None = None  # epoch ms the current LIVE began
    left_live: int | None = None  # epoch ms it last stopped being LIVE
    disconnected: bool = False  # it lost the connection since it was last LIVE
    last_check: int | None = None  # epoch ms of the last full list of its orders
    restored_as_of: int | None = None  # rows shown from the last run, as of this time


class TrustBoard:
    """Per connection: verified or not, since when, and when its orders were last checked.

    Feed it every ``AccountState`` (``on_state``) and every ``ResyncDiff`` (``on_resync``).
    ``version`` grows whenever any account's verification changes, so a view can repaint only
    then.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._accounts: dict[AccountKey, AccountTrust] = {}
        self.version = 0

    def _entry(self, account: AccountKey) -> AccountTrust:
        key = client_account(account)
        entry = self._accounts.get(key)
        if entry is None:
            entry = self._accounts[key] = AccountTrust(unverified_since=self._clock())
        return entry

    # -- feeding ---------------------------------------------------------------------------
    def on_state(self, state: AccountState) -> None:
        """Follow one state change: LIVE verifies the account's rows; anything else makes them
        unverified (if they were verified) from now, or for a silence from its last message
        (``heard_ms``); REMOVED forgets the account."""
        key = state.account_key
        if state.state is VenueState.REMOVED:
            if self._accounts.pop(key, None) is not None:
                self.version += 1
            return
        entry = self._entry(key)
        now = state.ts_ms or self._clock()
        was_live = entry.state is not None and entry.state.state is VenueState.LIVE
        entry.state = state
        if state.state is VenueState.LIVE:
            if not was_live:
                entry.live_since = now
                entry.unverified_since = None
                entry.restored_as_of = None
                self.version += 1
        else:
            # blind since the last message when the stream fell silent, else since now
            blind = min(now, state.heard_ms or now)
            if was_live:
                entry.left_live = blind
                entry.disconnected = False
                entry.live_since = None
            if entry.unverified_since is None:
                entry.unverified_since = blind
                self.version += 1
            if state.state in (VenueState.RECONNECTING, VenueState.FAILED, VenueState.STOPPED):
                entry.disconnected = True

    def on_resync(self, diff: ResyncDiff) -> None:
        """A full list of the account's orders arrived: its rows were checked now."""
        self._entry(diff.account).last_check = self._clock()

    def restore(self, accounts: set[AccountKey], as_of_ms: int) -> None:
        """Rows of ``accounts`` are shown from the last run, as the venues were at
        ``as_of_ms``: unverified since then, until each account's first fresh list."""
        for account in accounts:
            entry = self._entry(account)
            if entry.state is None or entry.state.state is not VenueState.LIVE:
                entry.restored_as_of = as_of_ms
                entry.unverified_since = min(entry.unverified_since or as_of_ms, as_of_ms)
                entry.last_check = entry.last_check or as_of_ms
        self.version += 1

    # -- reading ---------------------------------------------------------------------------
    def trust(self, account: AccountKey) -> AccountTrust:
        """What is known of the connection of ``account`` (a fresh, unverified entry when
        nothing is)."""
        return self._accounts.get(client_account(account)) or AccountTrust()

    def verified(self, account: AccountKey) -> bool:
        """Whether rows of ``account`` are vouched for by a live, checked stream."""
        entry = self._accounts.get(client_account(account))
        return entry is not None and entry.unverified_since is None

    def unverified_since(self, account: AccountKey) -> int | None:
        """Since when rows of ``account`` are unverified (epoch ms), or None while verified."""
        entry = self._accounts.get(client_account(account))
        if entry is None:
            return self._clock()
        return entry.unverified_since

    def state(self, account: AccountKey) -> AccountState | None:
        """The last state of the connection of ``account``."""
        entry = self._accounts.get(client_account(account))
        return entry.state if entry is not None else None


def clock_time(ms: int) -> str:
    """Local wall time of ``ms`` as HH:MM:SS (a conversion, not a clock read)."""
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


class TrustReporter:
    """Tells the trader what they did not ask for: closes at the venue, and what a fresh list
    of an account's orders changed.

    ``on_close`` publishes one notice per close that is not the trader's own cancel (a fill, a
    cancel at the venue, an expiry, a rejection), and a warning when a close corrects an
    earlier "closed, how unknown" receipt. ``on_resync`` publishes one notice per fresh list
    that changed something: "While bybit-main was disconnected (41 s): ...", "Since blotter
    last ran (as of 18:02:11): ...", or for a list read while the account was live (an audit)
    a warning naming exactly what the stream had missed. Call ``on_resync`` before the board's.
    """

    def __init__(self, board: TrustBoard, notices: NoticeBus, clock: Clock) -> None:
        self._board = board
        self._notices = notices
        self._clock = clock

    def on_close(self, closed: ClosedOrder) -> None:
        """One notice for a close the trader did not ask for (closes a resync revealed are
        summed up by ``on_resync`` instead)."""
        reason = closed.reason
        if closed.unseen and not closed.corrects:
            return  # a resync revealed it: the resync's summary tells of it
        if closed.corrects:
            text = f"{closed.line()}; the cancel's receipt said only \"closed, how unknown\""
            self._publish(closed.account_key, Level.WARNING, text, (closed.order.order_id,))
            return
        if reason.asked_for:
            return
        level = Level.INFO if reason is CloseReason.FILLED else Level.WARNING
        self._publish(closed.account_key, level, closed.line(), (closed.order.order_id,))

    def on_resync(self, diff: ResyncDiff) -> None:
        """One summary notice per account whose fresh list changed the rows."""
        entry = self._board.trust(diff.account)
        if not diff or diff.stream:
            return  # a list that is how the stream speaks: its changes are news, not missed
        name = diff.account.account
        ids = tuple(c.order.order_id for c in diff.closed) + tuple(o.order_id for o in diff.added)
        ids += tuple(after.order_id for _, after in diff.changed)
        state = entry.state.state if entry.state is not None else None
        if entry.restored_as_of is not None:
            text = (f"Since blotter last ran (orders as of {clock_time(entry.restored_as_of)}), "
                    f"{name}: {diff.summary()}")
            self._publish(diff.account, Level.INFO, text, ids)
        elif state is VenueState.LIVE:
            text = f"Audit of {name}: {diff.details()}"
            self._publish(diff.account, Level.WARNING, text, ids)
        elif entry.left_live is not None:
            # whole seconds, at least 1: a blind moment is not "0 s"
            seconds = max(1, round((self._clock() - entry.left_live) / 1000))
            how = "disconnected" if entry.disconnected else "unverified"
            text = f"While {name} was {how} ({seconds} s): {diff.summary()}"
            self._publish(diff.account, Level.INFO, text, ids)
        # the first list of an account never seen before changes nothing the trader knew

    def _publish(
        self, account: AccountKey, level: Level, text: str, ids: tuple[str, ...]
    ) -> None:
        self._notices.publish(
            Notice(account.venue, account.account, level, text, order_ids=ids,
                   ts_ms=self._clock())
        )
