"""Reconnect Now and Check Now: the Orders menu's entries, the connection lights' menu, and
what they ask of the engine.

"Reconnect Now" cuts short the wait of an account that is reconnecting or failed (a venue may
refuse a good key for a moment; the trader need not wait out 30 s). "Check Now" re-reads an
account's open orders from the venue; the engine says what it found in a notice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from blotter.core.notices import Level, Notice, VenueState
from blotter.core.order import AccountKey
from blotter.ui.trust_text import WAITING, venue_reason, words

if TYPE_CHECKING:
    from blotter.engine import Engine

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Future[Any] | None"]


class ConnectionActions(QObject):
    """The Reconnect Now and Check Now submenus (rebuilt when an account's state changes) and
    the requests behind them."""

    def __init__(self, engine: Engine, spawn: Spawn, parent: QWidget) -> None:
        super().__init__(parent)
        self._engine = engine
        self._spawn = spawn
        self._checking: set[AccountKey] = set()
        self.reconnect_menu = QMenu("Reconnect Now", parent)
        self.reconnect_menu.setObjectName("reconnect-menu")
        self.reconnect_menu.setToolTipsVisible(True)
        self.check_menu = QMenu("Check Now", parent)
        self.check_menu.setObjectName("check-menu")
        self.check_menu.setToolTipsVisible(True)
        self.reconnect_all = QAction("Every Waiting Account", self)
        self.reconnect_all.setObjectName("reconnect-all")
        self.reconnect_all.triggered.connect(self.reconnect_waiting)
        self.check_all = QAction("All Accounts", self)
        self.check_all.setObjectName("check-all")
        self.check_all.setShortcut(QKeySequence("Ctrl+F5"))
        self.check_all.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.check_all.setToolTip("Re-read every account's open orders from its venue (Ctrl+F5)")
        self.check_all.triggered.connect(self.check_everything)
        parent.addAction(self.check_all)  # Ctrl+F5 works with the menu closed
        self.refresh()

    # -- what there is ------------------------------------------------------------------------
    def accounts(self) -> list[AccountKey]:
        """The connections, as the trader added them."""
        return list(self._engine.clients)

    def waiting(self) -> list[AccountKey]:
        """The connections that wait before their next try."""
        current = self._engine.states.current
        return [a for a in self.accounts() if a in current and current[a].state in WAITING]

    def refresh(self) -> None:
        """Rebuild both submenus for the accounts and their states as they are now."""
        current = self._engine.states.current
        menu = self.reconnect_menu
        menu.clear()
        waiting = self.waiting()
        if len(waiting) > 1:
            self.reconnect_all.setText(f"Every Waiting Account ({len(waiting)})")
            menu.addAction(self.reconnect_all)
            menu.addSeparator()
        for account in waiting:
            state = current[account]
            reason = venue_reason(state) if state.state is VenueState.FAILED else state.reason
            entry = menu.addAction(f"{account.account} — {words(state.state)}")
            entry.setToolTip(reason or f"{account.account} is {words(state.state)}")
            entry.triggered.connect(lambda _=False, a=account: self.reconnect(a))
        menu.menuAction().setEnabled(bool(waiting))
        menu.menuAction().setToolTip(
            "Try the accounts that wait to reconnect now" if waiting
            else "No account is waiting to reconnect"
        )

        menu = self.check_menu
        menu.clear()
        accounts = self.accounts()
        menu.addAction(self.check_all)
        self.check_all.setEnabled(bool(accounts))
        if accounts:
            menu.addSeparator()
        for account in accounts:
            label = self._engine.venue_label(account.venue, account.account)
            entry = menu.addAction(f"{account.account} ({label})")
            entry.setToolTip(f"Re-read the open orders of {account.account} from {label}")
            entry.triggered.connect(lambda _=False, a=account: self.check(a))
        menu.menuAction().setEnabled(bool(accounts))

    # -- doing --------------------------------------------------------------------------------
    def reconnect(self, account: AccountKey) -> bool:
        """Cut the wait of ``account`` short: it tries to connect now."""
        if not self._engine.reconnect_now(account):
            return False
        self._engine.notices.publish(Notice(
            account.venue, account.account, Level.INFO, "Reconnecting now", transient=True
        ))
        return True

    def reconnect_waiting(self) -> list[AccountKey]:
        waiting = self.waiting()
        for account in waiting:
            self.reconnect(account)
        return waiting

    def check(self, account: AccountKey) -> asyncio.Future[Any] | None:
        """Re-read the open orders of ``account`` (once at a time per account); the engine
        publishes what it found."""
        if account in self._checking or self._engine.client_for(account) is None:
            return None
        self._engine.notices.publish(Notice(
            account.venue, account.account, Level.INFO,
            f"Checking {account.account} against the venue…", transient=True,
        ))
        self._checking.add(account)
        task = self._spawn(self._check(account))
        if task is None:
            self._checking.discard(account)
        return task

    async def _check(self, account: AccountKey) -> bool:
        try:
            return await self._engine.check(account)
        finally:
            self._checking.discard(account)

    def check_everything(self) -> list[asyncio.Future[Any]]:
        tasks = [self.check(a) for a in self.accounts()]
        return [t for t in tasks if t is not None]
