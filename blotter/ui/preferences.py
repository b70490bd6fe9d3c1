"""When a cancel asks first and what raises an alert: the trader's preferences, kept in
``QSettings`` beside the window's own settings, and the Preferences dialog that sets them.

Any cancel that would touch more than ``confirm_above`` orders asks (1 by default: one order goes
at once, two ask); Cancel All and Cancel Account always ask unless the trader turned that off.
Alerts (``AlertPreferences``, ui/alerts.py) are on for every kind by default; fills pause for an
account while it fills more than ``FILL_ALERTS_PER_MINUTE`` orders a minute.
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
FILL_ALERTS_PER_MINUTE = 50  # above this an account's fills raise no alert each


@dataclass(frozen=True, slots=True)
class AlertPreferences:
    """Which events raise a desktop alert (and whether it beeps): a fill of an open order, a
    cancel at the venue the trader did not ask for, a refused cancel, an account that goes
    stale or fails."""

    fills: bool = True
    venue_cancels: bool = True
    refused: bool = True
    connection: bool = True
    sound: bool = False

    KINDS = ("fills", "venue_cancels", "refused", "connection", "sound")

    @staticmethod
    def load(settings: QSettings) -> AlertPreferences:
        """The alert preferences saved in ``settings`` (the defaults where none)."""
        default = AlertPreferences()
        values = {}
        for kind in AlertPreferences.KINDS:
            said = str(settings.value(f"alerts/{kind}", getattr(default, kind))).lower()
            values[kind] = said not in ("false", "0", "no")
        return AlertPreferences(**values)

    def save(self, settings: QSettings) -> None:
        """Keep the alert preferences in ``settings`` for the next run."""
        for kind in self.KINDS:
            settings.setValue(f"alerts/{kind}", getattr(self, kind))
        settings.sync()


ALERT_TEXTS = {
    "fills": ("A fill of an open order",
              (f"Paused for an account while it fills more than {FILL_ALERTS_PER_MINUTE} orders "
              "a minute: too many to read one by one")),
    "venue_cancels": ("A cancel at the venue you did not ask for", ""),
    "refused": ("A cancel the venue refused or did not answer", ""),
    "connection": ("An account that goes stale or fails", ""),
    "sound": ("Beep with each alert", ""),
}


class AlertsSection(QWidget):
    """The Preferences dialog's alerts: one switch per kind, and the sound."""

    def __init__(self, current: AlertPreferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alertPreferences")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        title = QLabel("Alerts", self)
        title.setObjectName("dialogTitle")
        layout.addWidget(title)
        self.boxes: dict[str, QCheckBox] = {}
        for kind, (text, tip) in ALERT_TEXTS.items():
            box = QCheckBox(text, self)
            box.setObjectName(f"alert-{kind}")
            box.setChecked(getattr(current, kind))
            if tip:
                box.setToolTip(tip)
            layout.addWidget(box)
            self.boxes[kind] = box
        note = QLabel(f"A desktop notification, where the desktop has a tray. Fills pause for "
                      f"an account with more than {FILL_ALERTS_PER_MINUTE} fills a minute. "
                      "Nothing alerts for a cancel of yours.", self)
        note.setObjectName("dialogNote")
        note.setWordWrap(True)
        layout.addWidget(note)

    def preferences(self) -> AlertPreferences:
        """The alert preferences as the section shows them."""
        return AlertPreferences(**{k: b.isChecked() for k, b in self.boxes.items()})


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

    def add_section(self, section: QWidget) -> None:
        """Show ``section`` above the buttons (the alerts)."""
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):
            layout.insertWidget(layout.count() - 1, section)

    def _fit_suffix(self, value: int) -> None:
        self.confirm_above.setSuffix(" order" if value == 1 else " orders")

    def preferences(self) -> CancelPreferences:
        """The preferences as the dialog shows them."""
        return CancelPreferences(self.confirm_above.value(), self.always_ask.isChecked())
