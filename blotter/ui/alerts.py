"""Alerts for a trader looking at another window: a desktop notification (the system tray's
message, where the desktop has a tray) and, if wanted, a beep, for a fill of an open order, a
cancel at the venue the trader did not ask for, a refused cancel, and an account that goes
stale or fails. Nothing alerts for what the trader just did (a cancel of theirs).

The events come from the store's close listener (``ClosedOrder``: filled, cancelled at the
venue), each update of an open order with the order before it (``OrderUpdates``: the window's
orders model, or ``LastSeen``: a smaller rest is a partial fill), the engine's receipts (an
error receipt: the venue refused or did not answer) and the StateBus. Alerts that come together (a burst of fills) are said in one message. Which kinds
alert is ``AlertPreferences`` (set in Preferences); fills pause for an account while it fills
more than ``FILL_ALERTS_PER_MINUTE`` orders a minute. ``Notifier`` is the seam to the desktop.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from blotter.core.closes import ClosedOrder, CloseReason, describe_order
from blotter.core.notices import AccountState, Level, Notice, VenueState
from blotter.core.order import AccountKey, Order, OrderKey
from blotter.core.store import OrderStore, StoreDiff
from blotter.ui.preferences import (
    FILL_ALERTS_PER_MINUTE,
    AlertPreferences,
    AlertsSection,
    PreferencesDialog,
)

if TYPE_CHECKING:
    from blotter.engine import Engine

log = logging.getLogger(__name__)

BURST_MS = 300  # alerts within this are said in one message


class Notifier(Protocol):
    """Where an alert goes: ``notify(title, text, level)``; ``beep()`` when sound is on."""

    def notify(self, title: str, text: str, level: Level) -> None: ...

    def beep(self) -> None: ...


_TRAY_ICONS = {
    Level.ERROR: QSystemTrayIcon.MessageIcon.Critical,
    Level.WARNING: QSystemTrayIcon.MessageIcon.Warning,
}


class TrayNotifier:
    """The system tray's message (``QSystemTrayIcon.showMessage``) where the desktop has a
    tray; nothing otherwise (the status bar and the log still say it)."""

    def __init__(self, icon: QIcon, parent: QObject | None = None,
                 tray: QSystemTrayIcon | None = None) -> None:
        self.tray = tray
        if tray is None and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon, parent)
            self.tray.setToolTip("blotter")
            self.tray.show()

    def notify(self, title: str, text: str, level: Level) -> None:
        if self.tray is not None:
            icon = _TRAY_ICONS.get(level, QSystemTrayIcon.MessageIcon.Information)
            self.tray.showMessage(title, text, icon, 8000)

    def beep(self) -> None:
        QApplication.beep()

    def hide(self) -> None:
        if self.tray is not None:
            self.tray.hide()


UpdateListener = Callable[[Sequence[tuple[Order, Order]]], None]


class OrderUpdates(Protocol):
    """Hands each store flush's updates of open orders over as (the order before, after)."""

    def add_update_listener(self, callback: UpdateListener) -> None: ...

    def remove_update_listener(self, callback: UpdateListener) -> None: ...


class LastSeen:
    """``OrderUpdates`` of a store, from each of its open orders as last seen (where no orders
    model holds them already). The order itself, not its remaining amount: reading that would
    make a Decimal of every row's number."""

    def __init__(self, store: OrderStore) -> None:
        self._store = store
        self._last: dict[OrderKey, Order] = {o.key: o for o in store}
        self._listeners: list[UpdateListener] = []
        store.add_diff_listener(self.on_diff)

    def add_update_listener(self, callback: UpdateListener) -> None:
        self._listeners.append(callback)

    def remove_update_listener(self, callback: UpdateListener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)
        if not self._listeners:
            self._store.remove_diff_listener(self.on_diff)

    def on_diff(self, diff: StoreDiff) -> None:
        last = self._last
        for key in diff.removed:
            last.pop(key, None)
        for order in diff.added:
            last[order.key] = order
        updates: list[tuple[Order, Order]] = []
        for order in diff.updated:
            key = order.key
            before = last.get(key)
            last[key] = order
            if before is not None:
                updates.append((before, order))
        if updates:
            for listener in self._listeners:
                listener(updates)


def fill_line(closed: ClosedOrder) -> str:
    return f"{closed.order.account}: {closed.line()}"


class Alerts(QObject):
    """Raises the alerts of ``engine``'s events through ``notifier`` as ``preferences`` say
    (read from and kept in ``settings()``)."""

    def __init__(self, engine: Engine, settings: Callable[[], QSettings], notifier: Notifier,
                 parent: QObject | None = None, updates: OrderUpdates | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.notifier = notifier
        self._settings = settings
        self.preferences = AlertPreferences.load(settings())
        self._fills: dict[AccountKey, deque[int]] = {}
        self._pending: list[tuple[str, str, Level]] = []
        self._burst = QTimer(self)
        self._burst.setSingleShot(True)
        self._burst.setInterval(BURST_MS)
        self._burst.timeout.connect(self.flush)
        self._bad: dict[AccountKey, VenueState] = {}
        # each update of an open order with the order before it: a smaller rest is a (partial)
        # fill. The window's orders model holds every open order already and hands them over;
        # without one, each open order is kept as last seen
        self._updates = updates if updates is not None else LastSeen(engine.store)
        self._updates.add_update_listener(self.on_updates)
        engine.store.add_close_listener(self.on_close)
        self._unsubscribe = [engine.notices.subscribe(self.on_notice),
                             engine.states.subscribe(self.on_state)]

    def detach(self) -> None:
        """Stop listening (the window is closing)."""
        self.engine.store.remove_close_listener(self.on_close)
        self._updates.remove_update_listener(self.on_updates)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._burst.stop()

    # -- events --------------------------------------------------------------------------------
    def on_close(self, closed: ClosedOrder) -> None:
        prefs = self.preferences
        if closed.reason is CloseReason.FILLED and prefs.fills:
            if self._fill_rate_ok(closed.account_key):
                self._raise("Filled", fill_line(closed), Level.SUCCESS)
        elif closed.reason is CloseReason.CANCELLED_AT_VENUE and prefs.venue_cancels:
            self._raise("Cancelled at the venue", fill_line(closed), Level.WARNING)

    def on_updates(self, updates: Sequence[tuple[Order, Order]]) -> None:
        """A partial fill of an open order (its close says a full one): (before, after) of
        each order a store flush updated."""
        if not self.preferences.fills:
            return
        for last, order in updates:
            if last is order:
                continue
            now = order.remaining
            if now < last.remaining and self._fill_rate_ok(order.account_key):
                share = (order.amount - now) / order.amount * 100 if order.amount else 0
                self._raise("Partly filled",
                            f"{order.account}: {describe_order(order)} filled "
                            f"{format(order.amount - now, 'f')} ({share:.0f}%)", Level.SUCCESS)

    def on_notice(self, notice: Notice) -> None:
        # a receipt at the error level: the venue refused a cancel, or did not answer it
        if notice.receipt and notice.level is Level.ERROR and self.preferences.refused:
            self._raise("Cancel refused", notice.text, Level.ERROR)

    def on_state(self, state: AccountState) -> None:
        key = state.account_key
        if state.state in (VenueState.STALE, VenueState.FAILED):
            if self._bad.get(key) is state.state:
                return  # said already
            self._bad[key] = state.state
            if self.preferences.connection:
                reason = f": {state.reason}" if state.reason else ""
                self._raise(f"{state.account} {state.state.value}", f"{state.account} is "
                            f"{state.state.value}{reason}", Level.ERROR
                            if state.state is VenueState.FAILED else Level.WARNING)
        elif state.state is VenueState.LIVE:
            self._bad.pop(key, None)

    def _fill_rate_ok(self, account: AccountKey) -> bool:
        """Whether ``account`` fills few enough orders a minute to alert each."""
        now = self.engine.clock()
        times = self._fills.setdefault(account, deque())
        times.append(now)
        while times and times[0] <= now - 60_000:
            times.popleft()
        return len(times) <= FILL_ALERTS_PER_MINUTE

    # -- saying --------------------------------------------------------------------------------
    def _raise(self, title: str, text: str, level: Level) -> None:
        self._pending.append((title, text, level))
        if not self._burst.isActive():
            self._burst.start()

    def flush(self) -> None:
        """Say the alerts waiting, in one message when there are several."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        if len(pending) == 1:
            title, text, level = pending[0]
        else:
            worst = (Level.ERROR if any(p[2] is Level.ERROR for p in pending) else
                     Level.WARNING if any(p[2] is Level.WARNING for p in pending) else
                     Level.SUCCESS)
            titles = list(dict.fromkeys(p[0] for p in pending))
            title = f"{len(pending)} alerts: " + ", ".join(titles)
            lines = [f"{p[0]} — {p[1]}" for p in pending[:6]]
            if len(pending) > 6:
                lines.append(f"… and {len(pending) - 6} more (the Notice Log has them)")
            text, level = "\n".join(lines), worst
        try:
            self.notifier.notify(title, text, level)
            if self.preferences.sound:
                self.notifier.beep()
        except Exception:  # an alert must never break the feed
            log.exception("could not raise an alert")

    # -- preferences ---------------------------------------------------------------------------
    def attach(self, dialog: PreferencesDialog) -> AlertsSection:
        """Put the alerts section in the Preferences ``dialog``; kept when it is accepted."""
        found = dialog.findChild(AlertsSection)
        if isinstance(found, AlertsSection):
            return found  # the dialog was open already
        section = AlertsSection(self.preferences, dialog)
        dialog.add_section(section)
        dialog.accepted.connect(lambda: self.set_preferences(section.preferences()))
        return section

    def set_preferences(self, preferences: AlertPreferences) -> None:
        """Use ``preferences`` from now on and keep them."""
        self.preferences = preferences
        try:
            preferences.save(self._settings())
        except Exception:
            log.exception("could not save the alert preferences")


def tray_notifier(window: QWidget) -> TrayNotifier:
    """The window's tray notifier, with the window's icon."""
    return TrayNotifier(window.windowIcon(), window)
