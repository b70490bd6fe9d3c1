"""The way from a cancel action to its receipt: plan once, ask when the cancel is big enough
(``CancelPreferences``), send exactly the plans that were shown, and leave the receipt to the
engine (after Cancel All / Cancel Account it re-reads each account to prove what is left).

An action with nothing to cancel says so in the status bar with what is open where it aimed;
"Cancel the Rest" of a receipt cancels exactly the orders it found left. Cancels run as asyncio
tasks on the qasync loop, kept referenced until they end; a failure becomes an error notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QWidget

from blotter.aio import start_eagerly
from blotter.core.cancel import CancelPlan, CancelScope, ScopeKind
from blotter.core.notices import Level, Notice
from blotter.core.order import OrderKey
from blotter.ui.preferences import CancelPreferences, PreferencesDialog
from blotter.ui.trust_text import confirmation_warning

if TYPE_CHECKING:
    from blotter.engine import Engine
    from blotter.ui.dialogs import CancelConfirmDialog  # loaded when first asked

log = logging.getLogger(__name__)

# the scopes whose receipt waits for a fresh read of each account: "0 left", or what is left
PROVEN = (ScopeKind.ACCOUNT, ScopeKind.ALL)


class CancelFlow(QObject):
    """Requests, confirmations and sends of cancels for one window.

    ``tasks`` is the window's set of running tasks (closing the window waits for them);
    ``settings`` gives the window's ``QSettings`` (the preferences are kept there);
    ``finished`` is called when a confirmation closes (the window gives the table the keys
    back)."""

    def __init__(
        self,
        engine: Engine,
        window: QWidget,
        tasks: set[asyncio.Future[Any]],
        settings: Callable[[], QSettings],
        finished: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(window)
        self.engine = engine
        self._window = window
        self._tasks = tasks
        self._settings = settings
        self._finished = finished
        self.preferences = CancelPreferences.load(settings())
        self.confirm_dialog: CancelConfirmDialog | None = None
        self.preferences_dialog: PreferencesDialog | None = None

    # -- asking ---------------------------------------------------------------------------------
    def request(self, scope: CancelScope) -> None:
        """Cancel ``scope``: say so when it matches nothing, ask first when the preferences
        say it is big enough, else send it now."""
        plans = self.engine.plan(scope)
        if not any(p.orders for p in plans) and not any(p.everything for p in plans):
            self.say(Level.INFO, self.engine.nothing_to_cancel(scope))
            return
        if self.preferences.asks(scope, plans):
            self.confirm(scope, plans)
        else:
            self.start(scope, plans)

    def cancel_rest(self, keys: Iterable[OrderKey]) -> None:
        """"Cancel the Rest" of a receipt: exactly the orders it found still open."""
        self.request(CancelScope.selected(keys, label="remaining"))

    def confirm(
        self, scope: CancelScope, plans: Sequence[CancelPlan] | None = None
    ) -> CancelConfirmDialog:
        """Ask before cancelling ``scope``: the orders per account, how each account's cancel
        is sent and which accounts are not live. The plans shown are the plans sent."""
        if self.confirm_dialog is not None:
            self.confirm_dialog.raise_()
            self.confirm_dialog.activateWindow()
            return self.confirm_dialog
        engine = self.engine
        plans = engine.plan(scope) if plans is None else plans
        now = engine.clock()
        warnings = [w for w in (confirmation_warning(p, engine.trust.trust(p.account), now)
                                for p in plans) if w]
        from blotter.ui.dialogs import CancelConfirmDialog

        dialog = CancelConfirmDialog(scope, plans, self._window, venue_label=engine.venue_label,
                                     warnings=warnings, route=engine.cancel_route)
        dialog.accepted.connect(lambda: self.start(scope, dialog.plans))
        dialog.finished.connect(self._confirm_finished)
        self.confirm_dialog = dialog
        dialog.open()  # window-modal; never exec(), which would stall the asyncio loop
        return dialog

    def _confirm_finished(self, result: int) -> None:
        dialog, self.confirm_dialog = self.confirm_dialog, None
        if dialog is not None:
            dialog.deleteLater()
        self._finished()

    # -- sending --------------------------------------------------------------------------------
    def start(
        self, scope: CancelScope, plans: Sequence[CancelPlan] | None = None
    ) -> asyncio.Future[Any] | None:
        """Send the cancel of ``scope`` now: the ``plans`` a confirmation showed, or the plan
        of the rows as they are."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # only without qasync (a bug in the app's set-up): say so, loudly
            self.say(Level.ERROR, f"Could not cancel {scope.describe()}: no event loop is running.")
            return None
        # Eagerly: the request is on the wire before Qt gets to repaint anything.
        task = start_eagerly(self._cancel(scope, plans), loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _cancel(self, scope: CancelScope, plans: Sequence[CancelPlan] | None) -> object:
        try:
            return await self.engine.cancel(scope, plans, prove=scope.kind in PROVEN)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("cancel of %s failed", scope.describe())
            self.say(Level.ERROR, f"Cancel of {scope.describe()} failed: {exc}")
            return None

    def say(self, level: Level, text: str) -> None:
        """A line of the window's own that ends an action (why it cannot run), in the status
        bar and the notice log."""
        self.engine.notices.publish(Notice("blotter", "", level, text, receipt=True))

    # -- preferences ----------------------------------------------------------------------------
    def show_preferences(
        self, more: Callable[[PreferencesDialog], object] | None = None
    ) -> PreferencesDialog:
        """The Preferences dialog; what it sets applies at once and is kept for the next run.
        ``more`` adds its sections (the alerts) before the dialog is laid out and shown."""
        if self.preferences_dialog is not None:
            self.preferences_dialog.raise_()
            return self.preferences_dialog
        dialog = PreferencesDialog(self.preferences, self._window)
        dialog.accepted.connect(lambda: self.set_preferences(dialog.preferences()))
        dialog.finished.connect(self._preferences_finished)
        self.preferences_dialog = dialog
        if more is not None:
            more(dialog)
        dialog.open()
        return dialog

    def _preferences_finished(self, result: int) -> None:
        dialog, self.preferences_dialog = self.preferences_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def set_preferences(self, preferences: CancelPreferences) -> None:
        """Use ``preferences`` from now on and keep them."""
        self.preferences = preferences
        try:
            preferences.save(self._settings())
        except Exception:  # settings must never keep the trader from cancelling
            log.exception("could not save the preferences")
