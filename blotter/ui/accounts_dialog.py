"""The accounts dialog: the configured accounts with their connection state, and a form to add
or edit one (keys go to the OS keyring, never to the accounts file), with "Test connection".

The window hands it an ``AccountManager`` (app.py builds it): the dialog never talks to a venue
itself. Dialogs open with ``open()``/``show()``, never ``exec()`` (qasync, see dialogs.py); the
manager's coroutines run as tasks, and the buttons wait for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from blotter import config as cfg
from blotter.core.notices import Level, VenueState
from blotter.core.order import AccountKey
from blotter.ui import theme
from blotter.ui.orders_model import venue_title

if TYPE_CHECKING:  # handed over by app.py
    from blotter.account_manager import AccountManager

VENUE_CHOICES = (("bitfinex", "Bitfinex"), ("bybit", "Bybit"), ("b2trader", "B2TRADER broker"))
SECRET_LABELS = {"api_key": "API key", "api_secret": "API secret", "api_token": "API token"}


class _Tasks:
    """Runs the manager's coroutines on the loop and keeps them referenced until done."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


class AccountForm(QDialog):
    """Add an account, or edit one (``account`` given). ``saved`` fires once it is stored and
    connected; the dialog then closes."""

    saved = Signal(str)  # the account's name

    def __init__(
        self,
        manager: AccountManager,
        account: cfg.AccountConfig | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("accountForm")
        self.manager = manager
        self.original = account
        self._tasks = _Tasks()
        self.setWindowTitle("Edit Account" if account else "Add Account")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(560)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.setSpacing(10)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)
        self.form = form

        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("e.g. bfx-main")
        self.venue_box = QComboBox(self)
        for venue, title in VENUE_CHOICES:
            self.venue_box.addItem(title, venue)
        self.env_box = QComboBox(self)
        self.rest_edit = QLineEdit(self)
        self.ws_edit = QLineEdit(self)
        form.addRow("Name", self.name_edit)
        form.addRow("Venue", self.venue_box)
        form.addRow("Environment", self.env_box)
        form.addRow("REST URL", self.rest_edit)
        form.addRow("Websocket URL", self.ws_edit)

        self.secret_edits: dict[str, QLineEdit] = {}
        for field, label in SECRET_LABELS.items():
            edit = QLineEdit(self)
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setObjectName(f"secret-{field}")
            self.secret_edits[field] = edit
            form.addRow(label, edit)

        # venue options
        self.dms_check = QCheckBox("Dead-man switch: the venue cancels every order if the "
                                   "connection drops", self)
        self.category_checks: dict[str, QCheckBox] = {}
        categories = QWidget(self)
        row = QHBoxLayout(categories)
        row.setContentsMargins(0, 0, 0, 0)
        for category in cfg.BYBIT_CATEGORIES:
            check = QCheckBox(category, categories)
            check.setChecked(True)
            self.category_checks[category] = check
            row.addWidget(check)
        row.addStretch(1)
        self.categories_row = categories
        self.recv_spin = QSpinBox(self)
        self.recv_spin.setRange(1, cfg.BYBIT_RECV_WINDOW_MAX)
        self.recv_spin.setValue(cfg.BYBIT_RECV_WINDOW)
        self.recv_spin.setSuffix(" ms")
        self.broker_edit = QLineEdit(self)
        self.broker_edit.setPlaceholderText("the broker's name in the table, e.g. Acme")
        self.trading_edit = QLineEdit(self)
        self.trading_edit.setPlaceholderText("all (or ids/names, comma separated)")
        self.stream_box = QComboBox(self)
        self.stream_box.addItem("complete lists (snapshot)", "snapshot")
        self.stream_box.addItem("changes only (delta)", "delta")
        form.addRow("", self.dms_check)
        form.addRow("Categories", categories)
        form.addRow("recv_window", self.recv_spin)
        form.addRow("Broker name", self.broker_edit)
        form.addRow("Trading accounts", self.trading_edit)
        form.addRow("Order stream", self.stream_box)
        layout.addLayout(form)

        self.message = QLabel("", self)
        self.message.setObjectName("formMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)

        buttons = QHBoxLayout()
        self.test_button = QPushButton("Test connection", self)
        self.save_button = QPushButton("Save", self)
        self.save_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)

        self.venue_box.currentIndexChanged.connect(self._venue_changed)
        self.env_box.currentIndexChanged.connect(self._env_changed)
        self.test_button.clicked.connect(self.test_connection)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)

        if account is not None:
            self._fill(account)
        else:
            self._venue_changed()

    # -- fields -------------------------------------------------------------------------------
    @property
    def venue(self) -> str:
        return str(self.venue_box.currentData())

    def _venue_changed(self, *args: object) -> None:
        venue = self.venue
        self.env_box.blockSignals(True)
        self.env_box.clear()
        for env in cfg.ENVS[venue]:
            self.env_box.addItem(env, env)
        self.env_box.blockSignals(False)
        fields = cfg.SECRET_FIELDS[venue]
        for field, edit in self.secret_edits.items():
            self._show_row(edit, field in fields)
        self._show_row(self.dms_check, venue == "bitfinex")
        self._show_row(self.categories_row, venue == "bybit")
        self._show_row(self.recv_spin, venue == "bybit")
        for widget in (self.broker_edit, self.trading_edit, self.stream_box):
            self._show_row(widget, venue == "b2trader")
        self._env_changed()

    def _env_changed(self, *args: object) -> None:
        defaults = cfg.default_urls(self.venue, str(self.env_box.currentData() or ""))
        if defaults is None:
            self.rest_edit.setPlaceholderText("required, e.g. https://broker.example")
            self.ws_edit.setPlaceholderText(
                "required, e.g. wss://broker.example/frontoffice/ws/v4/account"
            )
        else:
            self.rest_edit.setPlaceholderText(f"default: {defaults[0]}")
            self.ws_edit.setPlaceholderText(f"default: {defaults[1]}")

    def _show_row(self, widget: QWidget, visible: bool) -> None:
        self.form.setRowVisible(widget, visible)

    def _fill(self, account: cfg.AccountConfig) -> None:
        self.name_edit.setText(account.name)
        self.venue_box.setCurrentIndex(self.venue_box.findData(account.venue))
        self._venue_changed()
        self.env_box.setCurrentIndex(self.env_box.findData(account.env))
        if not account.uses_default_urls:
            self.rest_edit.setText(account.rest_url)
            self.ws_edit.setText(account.ws_url)
        for field in account.secret_fields:
            self.secret_edits[field].setPlaceholderText("kept in the keyring; type to replace")
        options = account.options
        if isinstance(options, cfg.BitfinexOptions):
            self.dms_check.setChecked(options.dead_man_switch)
        elif isinstance(options, cfg.BybitOptions):
            for category, check in self.category_checks.items():
                check.setChecked(category in options.categories)
            self.recv_spin.setValue(options.recv_window)
        elif isinstance(options, cfg.B2traderOptions):
            self.broker_edit.setText(options.display_name or "")
            self.trading_edit.setText(", ".join(options.trading_accounts))
            self.stream_box.setCurrentIndex(self.stream_box.findData(options.stream))

    def account(self) -> cfg.AccountConfig:
        """The account as typed; ``ConfigError`` names what is wrong."""
        venue = self.venue
        options: dict[str, Any] = {}
        if venue == "bitfinex":
            options["dead_man_switch"] = self.dms_check.isChecked()
        elif venue == "bybit":
            options["categories"] = [c for c, box in self.category_checks.items()
                                     if box.isChecked()]
            options["recv_window"] = self.recv_spin.value()
        else:
            options["display_name"] = self.broker_edit.text().strip() or None
            options["trading_accounts"] = [
                t.strip() for t in self.trading_edit.text().split(",") if t.strip()
            ]
            options["stream"] = self.stream_box.currentData()
        return cfg.make_account(
            self.name_edit.text().strip(),
            venue,
            env=str(self.env_box.currentData()),
            rest_url=self.rest_edit.text().strip() or None,
            ws_url=self.ws_edit.text().strip() or None,
            **options,
        )

    def typed_secrets(self) -> dict[str, str]:
        return {
            field: self.secret_edits[field].text().strip()
            for field in cfg.SECRET_FIELDS[self.venue]
            if self.secret_edits[field].text().strip()
        }

    def _credentials(self, account: cfg.AccountConfig) -> dict[str, str] | None:
        """What to sign in with: the typed keys, else (editing) the stored ones."""
        typed = self.typed_secrets()
        if len(typed) == len(account.secret_fields):
            return typed
        if self.original is not None and self.original.venue == account.venue and not typed:
            from blotter import secrets

            try:
                return secrets.load_credentials(self.original)
            except secrets.SecretsError as exc:
                self.say(str(exc), error=True)
                return None
        missing = [SECRET_LABELS[f] for f in account.secret_fields if f not in typed]
        self.say(f"Enter the {' and '.join(missing)}.", error=True)
        return None

    # -- actions ------------------------------------------------------------------------------
    def say(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        colour = theme.LEVEL_COLOURS[Level.ERROR if error else Level.SUCCESS if ok else Level.INFO]
        self.message.setStyleSheet(f"color: {colour.name()};")
        self.message.setText(text)

    def _busy(self, busy: bool) -> None:
        for button in (self.test_button, self.save_button):
            button.setEnabled(not busy)

    def _checked(self) -> tuple[cfg.AccountConfig, dict[str, str]] | None:
        try:
            account = self.account()
        except cfg.ConfigError as exc:
            self.say(str(exc), error=True)
            return None
        credentials = self._credentials(account)
        if credentials is None:
            return None
        return account, credentials

    def test_connection(self) -> asyncio.Task[Any] | None:
        checked = self._checked()
        if checked is None:
            return None
        account, credentials = checked
        self.say(f"Signing in to {venue_title(account.venue)}…")
        self._busy(True)

        async def run() -> None:
            try:
                ok, text = await self.manager.test_connection(account, credentials)
            except Exception as exc:  # noqa: BLE001 - shown in the form, not raised into Qt
                ok, text = False, f"Test failed: {exc}"
            self._busy(False)
            self.say(text, error=not ok, ok=ok)

        return self._tasks.run(run())

    def save(self) -> asyncio.Task[Any] | None:
        try:
            account = self.account()
        except cfg.ConfigError as exc:
            self.say(str(exc), error=True)
            return None
        typed = self.typed_secrets()
        keep = self.original is not None and not typed and self.original.venue == account.venue
        if not keep and len(typed) != len(account.secret_fields):
            missing = [SECRET_LABELS[f] for f in account.secret_fields if f not in typed]
            self.say(f"Enter the {' and '.join(missing)}.", error=True)
            return None
        self._busy(True)
        self.say("Saving…")

        async def run() -> None:
            from blotter import secrets

            try:
                if self.original is None:
                    await self.manager.add(account, typed)
                else:
                    await self.manager.update(self.original.name, account,
                                              None if keep else typed)
            except (cfg.ConfigError, secrets.SecretsError, ValueError) as exc:
                self._busy(False)
                self.say(str(exc), error=True)
                return
            self._busy(False)
            self.saved.emit(account.name)
            self.accept()

        return self._tasks.run(run())


class AccountsDialog(QDialog):
    """The configured accounts: Add, Edit, Remove, Test connection."""

    def __init__(self, manager: AccountManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountsDialog")
        self.setWindowTitle("Accounts")
        self.manager = manager
        self.form: AccountForm | None = None
        self.confirm: QMessageBox | None = None
        self._tasks = _Tasks()
        self._refreshing = False
        self.resize(760, 360)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        title = QLabel("Accounts", self)
        title.setObjectName("dialogTitle")
        where = QLabel(f"Kept in {cfg.display_path(manager.path)}; keys in the OS keyring.", self)
        where.setObjectName("dialogDetail")
        layout.addWidget(title)
        layout.addWidget(where)

        self.table = QTableWidget(0, 5, self)
        self.table.setObjectName("accountsTable")
        self.table.setHorizontalHeaderLabels(["Name", "Venue", "Environment", "Keys", "State"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda *_: self.edit())
        layout.addWidget(self.table, 1)

        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add…", self)
        self.edit_button = QPushButton("Edit…", self)
        self.remove_button = QPushButton("Remove", self)
        self.test_button = QPushButton("Test connection", self)
        self.close_button = QPushButton("Close", self)
        for button in (self.add_button, self.edit_button, self.remove_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.remove_button.clicked.connect(self.remove)
        self.test_button.clicked.connect(self.test_connection)
        self.close_button.clicked.connect(self.accept)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self._unsubscribe = [
            manager.subscribe(self.refresh),
            manager.engine.states.subscribe(lambda state: self.refresh()),
        ]
        self.finished.connect(self._detach)
        self.refresh()

    def _detach(self, *args: object) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def refresh(self) -> None:
        self._refreshing = True
        try:
            self._fill_table()
        finally:
            self._refreshing = False

    def _fill_table(self) -> None:
        accounts = list(self.manager.config)
        selected = self.selected_name()
        self.table.setRowCount(len(accounts))
        states = self.manager.engine.states.current
        for row, account in enumerate(accounts):
            state = states.get(AccountKey(account.venue, account.name))
            words = "not connected" if state is None else state.state.value
            if state is not None and state.reason and state.state is not VenueState.LIVE:
                words += f" — {state.reason}"
            keys = self.manager.keys_status(account)
            for column, text in enumerate(
                (account.name, account.display_name if account.venue == "b2trader"
                 else venue_title(account.venue), account.env, keys, words)
            ):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
            if account.name == selected:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self._selection_changed()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == name:
                self.table.selectRow(row)
                return

    def _selection_changed(self) -> None:
        name = self.selected_name()
        for button in (self.edit_button, self.remove_button, self.test_button):
            button.setEnabled(name is not None)
        account = self.manager.config.find(name) if name is not None else None
        if account is not None and not self._refreshing:  # chosen and failed: say why in full
            state = self.manager.engine.states.current.get(AccountKey(account.venue, account.name))
            if state is not None and state.state is VenueState.FAILED and state.reason:
                self.message.setText(f"{account.name}: {state.reason}")
                colour = theme.LEVEL_COLOURS[Level.ERROR]
                self.message.setStyleSheet(f"color: {colour.name()};")

    def add(self) -> AccountForm:
        return self._open_form(None)

    def edit(self) -> AccountForm | None:
        name = self.selected_name()
        if name is None:
            return None
        return self._open_form(self.manager.config.get(name))

    def _open_form(self, account: cfg.AccountConfig | None) -> AccountForm:
        form = AccountForm(self.manager, account, self)
        form.saved.connect(lambda name: (self.refresh(), self.select(name),
                                         self.message.setText(f"{name} saved and connecting.")))
        form.finished.connect(lambda *_: setattr(self, "form", None))
        self.form = form
        form.open()
        return form

    def remove(self) -> QMessageBox | None:
        name = self.selected_name()
        if name is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Remove Account",
            f"Remove {name}? Its orders leave the table (they stay open at the venue) and its "
            "keys are deleted from the keyring.",
            QMessageBox.StandardButton.Cancel, self,
        )
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def done(*args: object) -> None:
            self.confirm = None
            if box.clickedButton() is remove:
                self._tasks.run(self._remove(name))

        box.finished.connect(done)
        self.confirm = box
        box.open()
        return box

    async def _remove(self, name: str) -> None:
        try:
            await self.manager.remove(name)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.message.setText(f"Could not remove {name}: {exc}")
            return
        self.message.setText(f"{name} removed.")
        self.refresh()

    def test_connection(self) -> asyncio.Task[Any] | None:
        name = self.selected_name()
        if name is None:
            return None
        account = self.manager.config.get(name)
        self.message.setText(f"Signing in to {name}…")

        async def run() -> None:
            from blotter import secrets

            try:
                credentials = secrets.load_credentials(account)
                ok, text = await self.manager.test_connection(account, credentials)
            except secrets.SecretsError as exc:
                ok, text = False, str(exc)
            self.message.setText(f"{name}: {text}")
            colour = theme.LEVEL_COLOURS[Level.SUCCESS if ok else Level.ERROR]
            self.message.setStyleSheet(f"color: {colour.name()};")

        return self._tasks.run(run())
