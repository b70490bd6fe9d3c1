"""When a cancel asks first: the trader's preferences, kept in ``QSettings`` beside the window's
own settings, and the Preferences dialog that sets them.

Any cancel that would touch more than ``confirm_above`` orders asks (1 by default: one order goes
at once, two ask); Cancel All and Cancel Account always ask unless the trader turned that off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from blotter.core.cancel import CancelPlan, CancelScope, ScopeKind

CONFIRM_ABOVE_KEY = "cancel/confirm_above"
ALWAYS_ASK_KEY = "cancel/always_ask_broad"
MAX_CONFIRM_ABOVE = 100_000


@dataclass(frozen=True, slots=True)
class CancelPreferences:
    """When a cancel asks first: above ``confirm_above`` orders, and for Cancel All / Cancel
    Account whatever their size while ``always_ask_broad`` is on."""

    confirm_above: int = 1
    always_ask_broad: bool = True

    def asks(self, scope: CancelScope, plans: Sequence[CancelPlan]) -> bool:
        """Whether cancelling ``plans`` (the plans of ``scope``) asks first."""
        if self.always_ask_broad and scope.kind in (ScopeKind.ALL, ScopeKind.ACCOUNT):
            return True
        return sum(len(p.orders) for p in plans) > self.confirm_above

    @staticmethod
    def load(settings: QSettings) -> CancelPreferences:
        """The preferences saved in ``settings`` (the defaults where none or unreadable)."""
        default = CancelPreferences()
        try:
            above = int(str(settings.value(CONFIRM_ABOVE_KEY, default.confirm_above)))
        except ValueError:
            above = default.confirm_above
        always = str(settings.value(ALWAYS_ASK_KEY, default.always_ask_broad)).lower()
        return CancelPreferences(
            confirm_above=min(max(above, 0), MAX_CONFIRM_ABOVE),
            always_ask_broad=always not in ("false", "0", "no"),
        )

    def save(self, settings: QSettings) -> None:
        """Keep the preferences in ``settings`` for the next run."""
        settings.setValue(CONFIRM_ABOVE_KEY, self.confirm_above)
        settings.setValue(ALWAYS_ASK_KEY, self.always_ask_broad)
        settings.sync()


class PreferencesDialog(QDialog):
    """Sets ``CancelPreferences``: how many orders a cancel may touch before it asks, and
    whether Cancel All / Cancel Account always ask. Open it with ``open()``; on ``accepted``
    read ``preferences()``."""

    def __init__(self, current: CancelPreferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferences")
        self.setWindowTitle("Preferences")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        title = QLabel("Cancels", self)
        title.setObjectName("dialogTitle")
        layout.addWidget(title)
        form = QFormLayout()
        self.confirm_above = QSpinBox(self)
        self.confirm_above.setObjectName("confirmAbove")
        self.confirm_above.setRange(0, MAX_CONFIRM_ABOVE)
        self.confirm_above.setValue(current.confirm_above)
        self._fit_suffix(current.confirm_above)
        self.confirm_above.valueChanged.connect(self._fit_suffix)
        self.confirm_above.setToolTip(
            "A cancel that would touch more orders than this asks first, with the orders per "
            "account; 0 asks for every cancel"
        )
        form.addRow("Ask before cancelling more than", self.confirm_above)
        layout.addLayout(form)
        self.always_ask = QCheckBox("Always ask before Cancel All and Cancel Account", self)
        self.always_ask.setObjectName("alwaysAsk")
        self.always_ask.setChecked(current.always_ask_broad)
        self.always_ask.setToolTip("Whatever their size: they also reach orders not shown here")
        layout.addWidget(self.always_ask)
        note = QLabel("One order cancels at once with the default of 1; two or more ask.", self)
        note.setObjectName("dialogNote")
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def _fit_suffix(self, value: int) -> None:
        self.confirm_above.setSuffix(" order" if value == 1 else " orders")

    def preferences(self) -> CancelPreferences:
        """The preferences as the dialog shows them."""
        return CancelPreferences(self.confirm_above.value(), self.always_ask.isChecked())
