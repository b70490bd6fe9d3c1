"""The form that adds or edits one account: name, venue, environment, URLs, keys and the venue's
options, with "Test connection".

Everything it knows of a venue comes from the account manager's ``VenueForm``s: the form builds
one input per option the venue declares, so a new venue needs nothing here. Keys go to the OS
keyring through the manager, never to the accounts file.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from blotter.account_manager import ACCOUNT_ERRORS
from blotter.core.notices import Level
from blotter.core.options import OptionField
from blotter.ui import theme

if TYPE_CHECKING:  # handed over by app.py
    from blotter.account_manager import AccountConfig, AccountManager, VenueForm


def secret_label(field: str) -> str:
    """How the form names a key field: ``api_secret`` → "API secret"."""
    head, _, rest = field.partition("_")
    return f"{head.upper() if head == 'api' else head.capitalize()} {rest}".strip()


_LONG_RUN = re.compile(r"\S{40,}")


def breakable(text: str) -> str:
    """``text`` with a place to wrap (a zero-width space) every 40 characters of a run without
    spaces (a path, a D-Bus name, a token), so a wrapped label never outgrows its dialog."""
    return _LONG_RUN.sub(
        lambda m: "\u200b".join(m.group(0)[i:i + 40] for i in range(0, len(m.group(0)), 40)),
        text,
    )


class Tasks:
    """Runs the manager's coroutines on the loop and keeps them referenced until done."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


class OptionInput:
    """The input for one venue option, of the kind the option declares."""

    def __init__(self, option: OptionField, default: Any, parent: QWidget) -> None:
        self.option = option
        self.default = default
        self.checks: dict[str, QCheckBox] = {}
        kind = option.kind
        if kind == "bool":
            self.widget: QWidget = QCheckBox(option.text, parent)
        elif kind == "int":
            spin = QSpinBox(parent)
            spin.setRange(option.minimum, option.maximum)
            spin.setSuffix(option.suffix)
            self.widget = spin
        elif kind == "choice":
            box = QComboBox(parent)
            for value, shown in option.choices:
                box.addItem(shown, value)
            self.widget = box
        elif kind == "choices":
            row = QWidget(parent)
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            for value, shown in option.choices:
                self.checks[value] = QCheckBox(shown, row)
                layout.addWidget(self.checks[value])
            layout.addStretch(1)
            self.widget = row
        else:  # text, texts
            edit = QLineEdit(parent)
            edit.setPlaceholderText(option.text)
            self.widget = edit
        self.widget.setObjectName(f"option-{option.name}")
        self.set(default)

    def set(self, value: Any) -> None:
        widget = self.widget
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QComboBox):
            widget.setCurrentIndex(max(0, widget.findData(value)))
        elif self.checks:
            for choice, check in self.checks.items():
                check.setChecked(choice in value)
        elif isinstance(widget, QLineEdit):
            if isinstance(value, tuple | list):
                widget.setText(", ".join(value))
            else:
                widget.setText(value or "")

    def value(self) -> Any:
        widget = self.widget
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QSpinBox):
            return widget.value()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if self.checks:
            return [choice for choice, check in self.checks.items() if check.isChecked()]
        assert isinstance(widget, QLineEdit)
        if self.option.kind == "texts":
            return [t.strip() for t in widget.text().split(",") if t.strip()]
        return widget.text().strip() or None


class AccountForm(QDialog):
    """Add an account, or edit one (``account`` given). ``saved`` fires once it is stored and
    connected; the dialog then closes."""

    saved = Signal(str)  # the account's name

    def __init__(
        self,
        manager: AccountManager,
        account: AccountConfig | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("accountForm")
        self.manager = manager
        venues = manager.venue_forms()
        self.venues: dict[str, VenueForm] = {v.venue: v for v in venues}
        self.original = account
        self._tasks = Tasks()
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
        for venue in venues:
            self.venue_box.addItem(venue.title, venue.venue)
        self.env_box = QComboBox(self)
        self.rest_edit = QLineEdit(self)
        self.ws_edit = QLineEdit(self)
        form.addRow("Name", self.name_edit)
        form.addRow("Venue", self.venue_box)
        form.addRow("Environment", self.env_box)
        form.addRow("REST URL", self.rest_edit)
        form.addRow("Websocket URL", self.ws_edit)

        self.secret_edits: dict[str, QLineEdit] = {}
        for field in dict.fromkeys(f for v in venues for f in v.secret_fields):
            edit = QLineEdit(self)
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setObjectName(f"secret-{field}")
            self.secret_edits[field] = edit
            form.addRow(secret_label(field), edit)

        # each venue's options, each shown only while its venue is chosen
        self.options: dict[str, dict[str, OptionInput]] = {}
        for venue in venues:
            inputs = self.options[venue.venue] = {}
            for option in venue.options:
                if option.in_form:
                    inputs[option.name] = OptionInput(option, venue.defaults[option.name], self)
                    form.addRow(option.label, inputs[option.name].widget)
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
        venue = self.venues[self.venue]
        self.env_box.blockSignals(True)
        self.env_box.clear()
        for env in venue.envs:
            self.env_box.addItem(env, env)
        self.env_box.blockSignals(False)
        for field, edit in self.secret_edits.items():
            self.form.setRowVisible(edit, field in venue.secret_fields)
        for name, inputs in self.options.items():
            for option in inputs.values():
                self.form.setRowVisible(option.widget, name == venue.venue)
        self._env_changed()
        self._fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Wide enough for every field and option of the venue shown, tall enough for the whole
        message (a long error wraps under the fields, it never squeezes them)."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        width = max(self.width(), self.minimumSizeHint().width())
        height = (layout.totalHeightForWidth(width) if layout.hasHeightForWidth()
                  else self.sizeHint().height())
        if width != self.width() or height > self.height():
            self.resize(width, max(self.height(), height))

    def _env_changed(self, *args: object) -> None:
        venue = self.venues[self.venue]
        defaults = venue.default_urls.get(str(self.env_box.currentData() or ""))
        if defaults is None:
            self.rest_edit.setPlaceholderText(f"required, e.g. {venue.rest_example}")
            self.ws_edit.setPlaceholderText(f"required, e.g. {venue.ws_example}")
        else:
            self.rest_edit.setPlaceholderText(f"default: {defaults[0]}")
            self.ws_edit.setPlaceholderText(f"default: {defaults[1]}")

    def _fill(self, account: AccountConfig) -> None:
        self.name_edit.setText(account.name)
        self.venue_box.setCurrentIndex(self.venue_box.findData(account.venue))
        self._venue_changed()
        self.env_box.setCurrentIndex(self.env_box.findData(account.env))
        if not account.uses_default_urls:
            self.rest_edit.setText(account.rest_url)
            self.ws_edit.setText(account.ws_url)
        for field in account.secret_fields:
            self.secret_edits[field].setPlaceholderText("kept in the keyring; type to replace")
        for name, option in self.options[account.venue].items():
            option.set(getattr(account.options, name))

    def option_values(self) -> Mapping[str, Any]:
        return {name: option.value() for name, option in self.options[self.venue].items()}

    def account(self) -> AccountConfig:
        """The account as typed; ``ConfigError`` names what is wrong."""
        return self.manager.make_account(
            self.name_edit.text().strip(),
            self.venue,
            str(self.env_box.currentData()),
            self.rest_edit.text().strip() or None,
            self.ws_edit.text().strip() or None,
            self.option_values(),
        )

    def typed_secrets(self) -> dict[str, str]:
        return {
            field: self.secret_edits[field].text().strip()
            for field in self.venues[self.venue].secret_fields
            if self.secret_edits[field].text().strip()
        }

    def _missing(self, account: AccountConfig, typed: Mapping[str, str]) -> str:
        missing = [secret_label(f) for f in account.secret_fields if f not in typed]
        return f"Enter the {' and '.join(missing)}."

    def _credentials(self, account: AccountConfig) -> dict[str, str] | None:
        """What to sign in with: the typed keys, else (editing) the stored ones."""
        typed = self.typed_secrets()
        if len(typed) == len(account.secret_fields):
            return typed
        if self.original is not None and self.original.venue == account.venue and not typed:
            try:
                return self.manager.stored_credentials(self.original)
            except ACCOUNT_ERRORS as exc:
                self.say(str(exc), error=True)
                return None
        self.say(self._missing(account, typed), error=True)
        return None

    # -- actions ------------------------------------------------------------------------------
    def say(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        colour = theme.LEVEL_COLOURS[Level.ERROR if error else Level.SUCCESS if ok else Level.INFO]
        self.message.setStyleSheet(f"color: {colour.name()};")
        self.message.setText(breakable(text))
        self.message.setToolTip(text if len(text) > 200 else "")
        self._fit()

    def _busy(self, busy: bool) -> None:
        for button in (self.test_button, self.save_button):
            button.setEnabled(not busy)

    def _typed_account(self) -> AccountConfig | None:
        try:
            return self.account()
        except ACCOUNT_ERRORS as exc:
            self.say(str(exc), error=True)
            return None

    def test_connection(self) -> asyncio.Task[Any] | None:
        account = self._typed_account()
        credentials = self._credentials(account) if account is not None else None
        if account is None or credentials is None:
            return None
        self.say(f"Signing in to {self.venues[account.venue].title}…")
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
        account = self._typed_account()
        if account is None:
            return None
        typed = self.typed_secrets()
        keep = self.original is not None and not typed and self.original.venue == account.venue
        if not keep and len(typed) != len(account.secret_fields):
            self.say(self._missing(account, typed), error=True)
            return None
        self._busy(True)
        self.say("Saving…")

        async def run() -> None:
            try:
                if self.original is None:
                    await self.manager.add(account, typed)
                else:
                    await self.manager.update(self.original.name, account,
                                              None if keep else typed)
            except ACCOUNT_ERRORS as exc:
                self._busy(False)
                self.say(str(exc), error=True)
                return
            self._busy(False)
            self.saved.emit(account.name)
            self.accept()

        return self._tasks.run(run())
