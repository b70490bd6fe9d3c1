"""The cancel confirmation: how many orders on which accounts, how each account's cancel will be
sent, and which accounts are not live, before anything is sent. (The notice log is
``ui/notice_log.py``; it is re-exported here for the callers that found it here.)

Opened with ``open()``, never ``exec()``: a nested event loop would stall the asyncio loop that
qasync runs inside Qt's. Act on ``accepted`` / ``finished`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from blotter.core.cancel import CancelPlan, CancelScope, ScopeKind
from blotter.core.order import Side
from blotter.ui.formatting import VenueLabel, default_venue_label
from blotter.ui.notice_log import NoticeLogDialog
from blotter.ui.resources import icon

__all__ = ["CancelConfirmDialog", "NoticeLogDialog", "confirmation_lines", "confirmation_title"]

Route = Callable[[CancelPlan], str]


def _orders(n: int) -> str:
    return f"{n} open order" if n == 1 else f"{n} open orders"


def _sorted(plans: Sequence[CancelPlan]) -> list[CancelPlan]:
    return sorted(plans, key=lambda p: (p.account.venue, p.account.account))


def confirmation_lines(
    plans: Sequence[CancelPlan], venue_label: VenueLabel = default_venue_label
) -> tuple[str, list[str]]:
    """The question and one line per account, e.g. ``bfx-demo (Bitfinex): 37``."""
    total = sum(len(p.orders) for p in plans)
    lines = [
        f"{p.account.account} ({venue_label(p.account.venue, p.account.account)}): "
        f"{len(p.orders)}"
        for p in _sorted(plans)
    ]
    return f"Cancel {_orders(total)}?", lines


def confirmation_title(scope: CancelScope) -> str:
    """The window title of a confirmation: "Cancel All Orders", "Cancel All Buys", "Cancel
    Account Orders", "Cancel Orders"."""
    sides = {None: "Orders", Side.BUY: "Buys", Side.SELL: "Sells"}[scope.side]
    if scope.kind is ScopeKind.ALL:
        return f"Cancel All {sides}"
    if scope.kind is ScopeKind.ACCOUNT:
        return f"Cancel Account {sides}"
    return "Cancel Orders"


class CancelConfirmDialog(QDialog):
    """Asks before a cancel: what the trader aimed at, how many orders on which accounts, per
    account how its cancel will be sent (``route``, when the engine can say), and ``warnings``
    (one line per account that is not live: what its cancel will do). Enter confirms; Escape
    keeps the orders. ``plans`` are kept: they are exactly what is sent on ``accepted``."""

    def __init__(
        self,
        scope: CancelScope,
        plans: Sequence[CancelPlan],
        parent: QWidget | None = None,
        venue_label: VenueLabel = default_venue_label,
        warnings: Sequence[str] = (),
        route: Route | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("cancelConfirm")
        self.scope = scope
        self.plans = list(plans)
        self.setWindowTitle(confirmation_title(scope))
        self.setWindowModality(Qt.WindowModality.WindowModal)
        total = sum(len(p.orders) for p in self.plans)
        question, lines = confirmation_lines(self.plans, venue_label)
        self.question = question
        self.lines = lines
        # how each account's cancel goes, where its client says: "bfx-demo: one request"
        self.routes = [
            f"{p.account.account}: {said}"
            for p in _sorted(self.plans)
            if (said := route(p) if route is not None else "")
        ]
        self.warnings = list(warnings)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 20, 22, 16)
        layout.setSpacing(10)
        head = QHBoxLayout()
        head.setSpacing(14)
        glyph = QLabel(self)
        glyph.setPixmap(icon("cancel-all").pixmap(36, 36))
        glyph.setAlignment(Qt.AlignmentFlag.AlignTop)
        head.addWidget(glyph)
        text = QVBoxLayout()
        text.setSpacing(6)
        title = QLabel(question, self)
        title.setObjectName("dialogTitle")
        text.addWidget(title)
        aimed = scope.describe()
        self.aimed = QLabel(aimed[:1].upper() + aimed[1:], self)
        self.aimed.setObjectName("dialogScope")
        self.aimed.setTextFormat(Qt.TextFormat.PlainText)
        text.addWidget(self.aimed)
        if lines:
            detail = QLabel("\n".join(lines), self)
            detail.setObjectName("dialogDetail")
            detail.setTextFormat(Qt.TextFormat.PlainText)
            text.addWidget(detail)
        else:
            empty = QLabel("No account is connected: there is nothing to cancel.", self)
            empty.setObjectName("dialogNote")
            text.addWidget(empty)
        for said in self.routes:
            line = QLabel(said, self)
            line.setObjectName("dialogRoute")
            line.setWordWrap(True)
            line.setTextFormat(Qt.TextFormat.PlainText)
            text.addWidget(line)
        for warning in self.warnings:
            said_label = QLabel(warning, self)
            said_label.setObjectName("dialogWarning")
            said_label.setWordWrap(True)
            said_label.setTextFormat(Qt.TextFormat.PlainText)
            text.addWidget(said_label)
        if self.plans and not total and any(p.everything for p in self.plans):
            note = QLabel(
                "The table shows none, but the venue will be asked to cancel any it has.", self
            )
            note.setObjectName("dialogNote")
            note.setWordWrap(True)
            text.addWidget(note)
        head.addLayout(text, 1)
        layout.addLayout(head)

        buttons = QDialogButtonBox(self)
        self.keep_button = QPushButton("Keep Orders", self)
        self.confirm_button = QPushButton(
            f"Cancel {total} Order{'s' if total != 1 else ''}" if total else "Send Cancel All",
            self,
        )
        self.confirm_button.setObjectName("danger")
        self.confirm_button.setEnabled(bool(self.plans))
        buttons.addButton(self.keep_button, QDialogButtonBox.ButtonRole.RejectRole)
        buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # The action that opened this was deliberate; Enter confirms, Escape keeps the orders.
        self.keep_button.setAutoDefault(False)
        self.confirm_button.setDefault(True)
        self.confirm_button.setFocus()
        self.setMinimumWidth(400)

    def summary(self) -> str:
        """The question, the line of each account, how each is sent, and the warnings."""
        return "\n".join([self.question, *self.lines, *self.routes, *self.warnings])
