"""The main window: toolbar and menus, two tabs (the open orders, or why there are none; the
recently closed), and the status bar with a light per account.

The window talks to venues only through the ``Engine`` that ``app.py`` hands it. Cancels run as
asyncio tasks on the qasync loop; the window keeps a reference to each until it ends, and any
exception becomes an error Notice in the status bar, never a crash or a silent failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QLineEdit,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from blotter.core.cancel import CancelPlan, CancelScope
from blotter.core.closes import ResyncDiff
from blotter.core.notices import AccountState, Level, Notice
from blotter.core.order import AccountKey, Order
from blotter.ui.alerts import Alerts, tray_notifier
from blotter.ui.cancel_actions import CancelActions
from blotter.ui.cancel_flow import CancelFlow
from blotter.ui.closed_view import ClosedView
from blotter.ui.connection_actions import ConnectionActions
from blotter.ui.demo_menu import DemoSection, add_demo_menu
from blotter.ui.empty_state import EmptyState, why_empty, window_title
from blotter.ui.export import OrdersExport
from blotter.ui.looks import Looks
from blotter.ui.orders_model import Column, OrdersModel
from blotter.ui.orders_view import OrdersProxyModel, OrdersView
from blotter.ui.resources import icon, set_icon
from blotter.ui.status_bar import ConnectionFacts, StatusBar
from blotter.ui.tabs import OrderTabs
from blotter.ui.trust_text import worth_highlighting
from blotter.ui.window_settings import reset_columns, restore_layout, save_layout

if TYPE_CHECKING:  # the dialogs load when first opened: none is part of the first paint
    from blotter.account_manager import AccountManager
    from blotter.engine import Engine
    from blotter.ui.account_form import AccountForm
    from blotter.ui.accounts_dialog import AccountsDialog
    from blotter.ui.dialogs import CancelConfirmDialog
    from blotter.ui.notice_log import History, NoticeLogDialog
    from blotter.ui.preferences import PreferencesDialog

log = logging.getLogger(__name__)


class FilterEdit(QLineEdit):
    """The filter box: Escape clears it and gives the keyboard back to the table."""

    leave = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.clear()
            self.leave.emit()
            return
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.leave.emit()
            return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        # the tab widget sizes its corner by the hint, not by a fixed width
        return QSize(self.minimumWidth(), super().sizeHint().height())


class OrdersToolBar(QToolBar):
    """The toolbar, its margins the same however often the stylesheet is applied (Qt works
    them out again at each style change, from a half-polished style the first time: a switch
    of theme or text size made the bar 8 px taller)."""

    MARGIN = 4

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        layout = self.layout()
        if event.type() == QEvent.Type.StyleChange and layout is not None:
            layout.setContentsMargins(*(self.MARGIN,) * 4)
        return handled


class MainWindow(QMainWindow):
    closed = Signal()
    demo_requested = Signal()  # "Try the demo" on the first-run view

    def __init__(
        self,
        engine: Engine,
        *,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.setObjectName("mainWindow")
        self.setWindowIcon(icon("app"))
        self._settings = settings
        self._tasks: set[asyncio.Future[Any]] = set()
        self.notice_log: NoticeLogDialog | None = None
        self.notice_history: History | None = None  # earlier runs' notices (the journal's)
        self.accounts: AccountManager | None = None
        self.accounts_dialog: AccountsDialog | None = None
        self.account_form: AccountForm | None = None
        self.config_error: str | None = None  # why the accounts file could not be read
        self.demo_running = False
        self.demo_starting = False  # the demo venues are on their way (blotter --demo)

        # newest first, as a trader reads a blotter (the rows are sorted as they are read)
        newest_first = (Column.CREATED, Qt.SortOrder.DescendingOrder)
        self.model = OrdersModel(engine.store, self, venue_label=engine.venue_label,
                                 trust=engine.trust, clock=engine.clock,
                                 notional=engine.notional, sort=newest_first)
        self.proxy = OrdersProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.view = OrdersView(self)
        self.view.setModel(self.proxy)
        self.view.apply_default_widths()
        self.view.horizontalHeader().setSortIndicator(*newest_first)
        self.view.cancel_clicked.connect(self._on_cancel_clicked)

        self.cancels = CancelFlow(engine, self, self._tasks, self._settings_store,
                                  finished=self.view.setFocus)
        self.actions_ = CancelActions(self.view, engine.capabilities, self,
                                      venue_label=engine.venue_label)
        self.actions_.requested.connect(self.request_cancel)
        self.view.set_menu_actions(self.actions_.context_entries())

        self.empty = EmptyState(self, engine.venue_label, self.view.horizontalHeader())
        self.empty.demo_button.clicked.connect(self._start_demo)
        self.empty.add_button.clicked.connect(self.add_account)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)
        # the rows that left, and why: read once from the store (it may hold the last run's),
        # then fed by its close listener
        self.closed_view = ClosedView(engine.store.closed, self,
                                      venue_label=engine.venue_label, clock=engine.clock)
        self.closed_model = self.closed_view.closed_model
        engine.store.add_close_listener(self.closed_model.add)
        engine.store.add_resync_listener(self._on_resync)
        self.tabs = OrderTabs(self.stack, self.closed_view, self)
        self.tabs.currentChanged.connect(self._refresh_actions)
        self.setCentralWidget(self.tabs)

        facts = ConnectionFacts(engine.clock, engine.trust.trust, self._last_message_ms)
        self.status_bar = StatusBar(
            engine.notices, engine.states, self, venue_label=engine.venue_label,
            account_note=engine.account_note, facts=facts,
        )
        self.status_bar.log_requested.connect(lambda: self.show_notice_log(reveal=True))
        self.status_bar.rest_requested.connect(self.cancels.cancel_rest)
        self.setStatusBar(self.status_bar)
        self.connections = ConnectionActions(engine, self._spawn, self)
        self.status_bar.reconnect_requested.connect(self.connections.reconnect)
        self.status_bar.check_requested.connect(self.connections.check)
        self._unsubscribe_states = engine.states.subscribe(self._on_state)
        self.alerts = Alerts(engine, self._settings_store, tray_notifier(self), self, self.model)

        self.orders_export = OrdersExport(self.view, engine.store, engine.notices,
                                          engine.venue_label, self, notional=engine.notional,
                                          no_room=self.view.columns.dropped)
        self._build_actions()
        self._build_toolbar()
        self._build_menus()

        # One refresh of actions, title and empty state per burst of model signals.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self.refresh)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged, self.model.dataChanged):
            signal.connect(self._schedule_refresh)
        self.tabs.follow_frames(self.model.flushed, self.view.lay_out_now)
        selection = self.view.selectionModel()
        # the actions follow the selection at once (a quick Delete must act on the new row)
        selection.selectionChanged.connect(self._refresh_actions)
        selection.currentChanged.connect(self._refresh_actions)

        self.resize(QSize(1440, 760))
        self._restore_settings()
        self.refresh()
        self.view.setFocus()

    # -- building ------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        self.find_action = QAction("Find", self)
        set_icon(self.find_action, "search")
        self.find_action.setShortcut(QKeySequence("Ctrl+F"))
        self.find_action.setToolTip("Filter the orders by symbol, account, venue or status (Ctrl+F)")
        self.find_action.triggered.connect(self.focus_filter)
        self.log_action = QAction("Notice Log", self)
        set_icon(self.log_action, "log")
        self.log_action.setShortcut(QKeySequence("Ctrl+L"))
        self.log_action.setToolTip("Every notice from the venues, with times (Ctrl+L)")
        self.log_action.triggered.connect(self.show_notice_log)
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        self.accounts_action = QAction("Accounts…", self)
        self.accounts_action.setShortcut(QKeySequence("Ctrl+,"))
        self.accounts_action.triggered.connect(self.show_accounts)
        self.accounts_action.setEnabled(False)
        self.accounts_action.setToolTip("Demo mode uses simulated accounts")
        self.addAction(self.accounts_action)
        self.reset_columns_action = QAction("Reset Columns", self)
        self.reset_columns_action.triggered.connect(self.reset_columns)
        self.preferences_action = QAction("Preferences…", self)
        self.preferences_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.preferences_action.setToolTip("When a cancel asks first; which alerts to raise (Ctrl+Shift+P)")
        self.preferences_action.triggered.connect(self.show_preferences)
        for action in (self.find_action, self.log_action, self.quit_action,
                       self.preferences_action):
            self.addAction(action)
        self.looks = Looks(self, self._settings_store)  # theme and text size (looks.py)

    def _build_toolbar(self) -> None:
        bar = OrdersToolBar("Orders", self)
        bar.setObjectName("ordersToolbar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setIconSize(QSize(16, 16))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        a = self.actions_
        a.add_to_toolbar(bar)
        all_button = bar.widgetForAction(a.all)
        if all_button is not None:
            all_button.setObjectName("cancel-all-button")
        spacer = QWidget(bar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        # the filter sits beside the tabs, not in the toolbar: a narrow window folds the
        # toolbar's tail into its overflow menu, and the filter (and Ctrl+F) must stay usable
        self.filter_edit = FilterEdit(self.tabs)
        self.filter_edit.setObjectName("filter")
        self.filter_edit.setPlaceholderText("Filter orders   Ctrl+F")
        self.filter_edit.setClearButtonEnabled(True)
        search = self.filter_edit.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        set_icon(search, "search")
        self.filter_edit.setFixedWidth(280)
        self.filter_edit.textChanged.connect(self._on_filter)
        self.filter_edit.leave.connect(self.view.setFocus)
        self.tabs.setCornerWidget(self.filter_edit, Qt.Corner.TopRightCorner)
        bar.addAction(self.log_action)
        self.toolbar = bar
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        # the overflow button draws the style's arrow, which the dark stylesheet's padding
        # squeezes out of sight: it shows our chevron instead
        self.overflow_button = bar.findChild(QToolButton, "qt_toolbar_ext_button")
        if self.overflow_button is not None:
            set_icon(self.overflow_button, "more")
            self.overflow_button.setToolTip("More actions")

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.accounts_action)
        file_menu.addAction(self.preferences_action)
        file_menu.addAction(self.orders_export.action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        orders = menus.addMenu("&Orders")
        orders.setToolTipsVisible(True)
        for entry in self.actions_.menu_entries():
            if entry is None:
                orders.addSeparator()
            else:
                orders.addAction(entry)
        orders.addSeparator()
        orders.addMenu(self.connections.reconnect_menu)
        orders.addMenu(self.connections.check_menu)
        orders.addSeparator()
        orders.addAction(self.find_action)
        view_menu = menus.addMenu("&View")
        view_menu.addActions(self.tabs.switch_actions)
        view_menu.addSeparator()
        view_menu.addAction(self.log_action)
        view_menu.addSeparator()
        self.columns_menu = self.view.columns.chooser(view_menu)  # the header's menu's items
        view_menu.addAction(self.reset_columns_action)
        view_menu.addSeparator()
        self.looks.fill_menu(view_menu)
        self.view_menu = view_menu
        self.orders_menu = orders

    # -- state ---------------------------------------------------------------------------------
    def _schedule_refresh(self, *args: object) -> None:
        if not self._refresh_timer.isActive():
            # a big table refreshes its title less often: counting its rows is not free
            self._refresh_timer.start(40 if self.model.rowCount() < 2000 else 250)

    def _refresh_actions(self, *args: object) -> None:
        a = self.actions_
        # the selection out of sight: a Delete must not cancel what the trader cannot see
        a.refresh(open_tab=self.tabs.showing_open_orders)
        if not self.engine.clients:
            for action in (a.all, a.all_buys, a.all_sells):
                action.setEnabled(False)
                action.setToolTip("No accounts are connected")
                action.setStatusTip("No accounts are connected")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """A cancel key whose action cannot run says why in the status bar (the key of a
        disabled action reaches the window instead of the action)."""
        why = self.actions_.refusal(QKeySequence(event.keyCombination()))
        if why is not None:
            self.cancels.say(Level.WARNING, why)
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_state(self, state: AccountState) -> None:
        # the trust board has followed the state already: repaint the rows only if it changed
        self.model.follow_trust()
        self.connections.refresh()
        self._schedule_refresh()

    def _on_resync(self, diff: ResyncDiff) -> None:
        """Rows a fresh list added or changed light up for a moment when they are news."""
        if worth_highlighting(diff, self.engine.trust.trust(diff.account)):
            self.model.highlight([o.key for o in diff.added]
                                 + [after.key for _, after in diff.changed])

    def _last_message_ms(self, account: AccountKey) -> int | None:
        client = self.engine.client_for(account)
        return client.last_message_ms if client is not None else None

    def unverified_rows(self) -> int:
        """How many open rows no live stream vouches for."""
        store = self.engine.store
        unverified = self.model.marks.unverified_accounts(store.accounts())
        return sum(len(store.orders(a)) for a in unverified)

    def show_now(self) -> None:
        """Take the store's rows into the table at once and refresh (before the first frame:
        the last known orders are in it, not one flush later)."""
        self.model.flush_now()
        self.refresh()
        self.tabs.retitle_now()

    def refresh(self) -> None:
        """Actions for the current row, the window title, and table vs empty state."""
        self.model.follow_trust()
        self._refresh_actions()
        shown, total = self.view.open_counts()  # struck rows and rows waiting are counted right
        # the accounts the table shows (a B2TRADER login may show several)
        accounts = len(self.engine.store.accounts()) or len(self.engine.clients)
        unverified = self.unverified_rows() if total else 0
        self.setWindowTitle(window_title(total, shown, accounts, unverified,
                                         self.engine.store.cancel_pending_count))
        self.tabs.count_open(total)

        clients = list(self.engine.clients)
        why = why_empty(
            clients=clients, verified=[a for a in clients if self.engine.trust.verified(a)],
            total=total, shown=shown, states=sorted(
                self.engine.states.current.values(), key=lambda s: (s.venue, s.account)),
            config_error=self.config_error,
            configured=self.accounts is not None and bool(self.accounts.config.accounts),
            demo_starting=self.demo_starting, demo_running=self.demo_running,
            filter_text=self.proxy.filter_text, unverified=unverified,
        )
        if why is None:
            self.stack.setCurrentWidget(self.view)
            return
        self.empty.show_message(why.title, why.detail, why.states, first_run=why.first_run)
        if why.no_accounts:
            self.empty.add_button.setEnabled(self.accounts is not None)
        self.stack.setCurrentWidget(self.empty)

    def _on_filter(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self.closed_view.proxy.set_filter_text(text)
        self._schedule_refresh()

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    # -- accounts ------------------------------------------------------------------------------
    def set_account_manager(self, manager: AccountManager, error: str | None = None) -> None:
        """Real accounts: File → Accounts… and the first-run view's Add account."""
        self.accounts = manager
        self.config_error = error
        self.accounts_action.setEnabled(True)
        self.accounts_action.setToolTip("Add, change, test or remove accounts (Ctrl+,)")
        manager.subscribe(self._accounts_changed)
        self.refresh()

    def _accounts_changed(self) -> None:
        self.config_error = None
        self._schedule_refresh()

    def show_accounts(self) -> AccountsDialog | None:
        if self.accounts is None:
            return None
        if self.accounts_dialog is not None:
            self.accounts_dialog.raise_()
            self.accounts_dialog.activateWindow()
            return self.accounts_dialog
        from blotter.ui.accounts_dialog import AccountsDialog

        dialog = AccountsDialog(self.accounts, self)
        dialog.finished.connect(lambda *_: setattr(self, "accounts_dialog", None))
        self.accounts_dialog = dialog
        dialog.show()
        return dialog

    def add_account(self) -> AccountForm | None:
        if self.accounts is None:
            return None
        from blotter.ui.account_form import AccountForm

        form = AccountForm(self.accounts, None, self)
        form.finished.connect(lambda *_: setattr(self, "account_form", None))
        self.account_form = form
        form.open()
        return form

    def _start_demo(self) -> None:
        self.demo_requested.emit()

    # -- cancels -------------------------------------------------------------------------------
    def _on_cancel_clicked(self, order: Order) -> None:
        if not self.model.is_pending(order.key):
            self.request_cancel(CancelScope.order(order.key))

    def request_cancel(self, scope: CancelScope) -> None:
        """Cancel ``scope``, asking first when it is big enough (see ``CancelFlow``)."""
        self.cancels.request(scope)

    def confirm_cancel(self, scope: CancelScope) -> CancelConfirmDialog:
        return self.cancels.confirm(scope)

    @property
    def confirm_dialog(self) -> CancelConfirmDialog | None:
        return self.cancels.confirm_dialog

    def start_cancel(
        self, scope: CancelScope, plans: Sequence[CancelPlan] | None = None
    ) -> asyncio.Future[Any] | None:
        """Send the cancel of ``scope`` now (the plans a confirmation showed, if any)."""
        return self.cancels.start(scope, plans)

    def show_preferences(self) -> PreferencesDialog:
        return self.cancels.show_preferences(self.alerts.attach)

    def _publish_error(self, text: str) -> None:
        self.engine.notices.publish(Notice("blotter", "", Level.ERROR, text))

    def add_demo_menu(self, sections: list[DemoSection]) -> QMenu:
        """The "Demo" menu of the simulated venues' faults (see ``demo_menu.add_demo_menu``)."""
        self.demo_running = True
        return add_demo_menu(self.menuBar(), sections, self._spawn, self._publish_error)

    def _spawn(self, work: Awaitable[Any], label: str = "") -> asyncio.Future[Any] | None:
        """Run ``work`` on the loop, kept until it ends; a failure becomes an error notice."""
        async def run() -> Any:
            try:
                return await work
            except Exception as exc:
                log.exception("%s failed", label or "a task")
                self._publish_error(f"{label or 'A task'} failed: {exc}")
                return None

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending_tasks(self) -> set[asyncio.Future[Any]]:
        return set(self._tasks)

    async def wait_for_cancels(self, timeout: float) -> bool:
        """Let cancels already sent finish (closing the window must not orphan them)."""
        tasks = [t for t in self._tasks if not t.done()]
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    # -- notice log ----------------------------------------------------------------------------
    def show_notice_log(self, reveal: bool = False) -> NoticeLogDialog:
        """The notice log; with ``reveal`` (the status line was clicked) its entry of the line
        shown is selected and unfolded: a receipt's every order."""
        if self.notice_log is None:
            from blotter.ui.notice_log import NoticeLogDialog

            dialog = NoticeLogDialog(self.status_bar.entries(), self, history=self.notice_history)
            self.status_bar.notice_logged.connect(dialog.add)
            self.status_bar.connection_logged.connect(dialog.add)
            self.notice_log = dialog
        if reveal:
            self.notice_log.reveal(self.status_bar.latest)
        self.notice_log.show()
        self.notice_log.raise_()
        self.notice_log.activateWindow()
        return self.notice_log

    # -- settings ------------------------------------------------------------------------------
    def _settings_store(self) -> QSettings:
        if self._settings is None:
            self._settings = QSettings("blotter", "blotter")
        return self._settings

    def _restore_settings(self) -> None:
        self.looks.restore()  # first: the columns' widths are measured in its text size
        restore_layout(self, self.view, self._settings_store())

    def save_settings(self) -> None:
        save_layout(self, self.view, self._settings_store())

    def reset_columns(self) -> None:
        reset_columns(self.view)

    # -- closing -------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        try:
            self.save_settings()
        except Exception:  # settings must never keep the window from closing
            log.exception("could not save window settings")
        self.status_bar.detach()
        self.alerts.detach()
        self._unsubscribe_states()
        self.engine.store.remove_close_listener(self.closed_model.add)
        self.engine.store.remove_resync_listener(self._on_resync)
        if self.notice_log is not None:
            self.notice_log.close()
        event.accept()
        self.closed.emit()
