"""The accounts dialog: the configured accounts with their connection state, keys and the
actions Add, Edit, Remove and Test connection (the form itself is ``account_form.py``).

The window hands it an ``AccountManager`` (app.py builds it): the dialog never talks to a venue
itself. Dialogs open with ``open()``/``show()``, never ``exec()`` (qasync, see dialogs.py); the
manager's coroutines run as tasks, and the buttons wait for them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from blotter.account_manager import ACCOUNT_ERRORS
from blotter.core.notices import Level, VenueState
from blotter.core.order import AccountKey
from blotter.ui import theme
from blotter.ui.account_form import AccountForm, Tasks

if TYPE_CHECKING:  # handed over by app.py
    from blotter.account_manager import AccountConfig, AccountManager

class AccountsDialog(QDialog):
    """The configured accounts: Add, Edit, Remove, Test connection."""

    def __init__(self, manager: AccountManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountsDialog")
        self.setWindowTitle("Accounts")
        self.manager = manager
        self.form: AccountForm | None = None
        self.confirm: QMessageBox | None = None
        self._tasks = Tasks()
        self._refreshing = False
        self.resize(760, 360)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        title = QLabel("Accounts", self)
        title.setObjectName("dialogTitle")
        where = QLabel(f"Kept in {manager.where}; keys in the OS keyring.", self)
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
                (account.name, account.venue_label, account.env, keys, words)
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

    def _open_form(self, account: AccountConfig | None) -> AccountForm:
        form = AccountForm(self.manager, account, self)
        form.saved.connect(self._saved)
        form.finished.connect(lambda *_: setattr(self, "form", None))
        self.form = form
        form.open()
        return form

    def _saved(self, name: str) -> None:
        self.refresh()
        self.select(name)
        self.message.setText(f"{name} saved and connecting.")

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
            try:
                credentials = self.manager.stored_credentials(account)
                ok, text = await self.manager.test_connection(account, credentials)
            except ACCOUNT_ERRORS as exc:
                ok, text = False, str(exc)
            self.message.setText(f"{name}: {text}")
            colour = theme.LEVEL_COLOURS[Level.SUCCESS if ok else Level.ERROR]
            self.message.setStyleSheet(f"color: {colour.name()};")

        return self._tasks.run(run())
