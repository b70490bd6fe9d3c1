"""Dialogs: the Cancel All / Cancel Account confirmation and the notice log.

Both are opened with ``open()`` or ``show()``, never ``exec()``: a nested event loop would stall
the asyncio loop that qasync runs inside Qt's. Act on ``accepted`` / ``finished`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from blotter.core.cancel import CancelPlan, CancelScope, ScopeKind
from blotter.ui import theme
from blotter.ui.formatting import VenueLabel, default_venue_label
from blotter.ui.resources import icon
from blotter.ui.status_bar import LoggedNotice, notice_source


def _orders(n: int) -> str:
    return f"{n} open order" if n == 1 else f"{n} open orders"


def confirmation_lines(
    plans: Sequence[CancelPlan], venue_label: VenueLabel = default_venue_label
) -> tuple[str, list[str]]:
    """The question and one line per account, e.g. ``bfx-demo (Bitfinex): 37``."""
    total = sum(len(p.orders) for p in plans)
    lines = [
        f"{p.account.account} ({venue_label(p.account.venue, p.account.account)}): "
        f"{len(p.orders)}"
        for p in sorted(plans, key=lambda p: (p.account.venue, p.account.account))
    ]
    return f"Cancel {_orders(total)}?", lines


class CancelConfirmDialog(QDialog):
    """Asks before a Cancel All or Cancel Account; says how many orders on which accounts, and
    ``warnings`` (one line per account that is not live: what its cancel will do)."""

    def __init__(
        self,
        scope: CancelScope,
        plans: Sequence[CancelPlan],
        parent: QWidget | None = None,
        venue_label: VenueLabel = default_venue_label,
        warnings: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setObjectName("cancelConfirm")
        self.scope = scope
        self.plans = list(plans)
        everything = scope.kind is ScopeKind.ALL
        self.setWindowTitle("Cancel All Orders" if everything else "Cancel Account Orders")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        total = sum(len(p.orders) for p in self.plans)
        question, lines = confirmation_lines(self.plans, venue_label)
        self.question = question
        self.lines = lines
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
        if lines:
            detail = QLabel("\n".join(lines), self)
            detail.setObjectName("dialogDetail")
            text.addWidget(detail)
        else:
            empty = QLabel("No account is connected: there is nothing to cancel.", self)
            empty.setObjectName("dialogNote")
            text.addWidget(empty)
        for warning in self.warnings:
            said = QLabel(warning, self)
            said.setObjectName("dialogWarning")
            said.setWordWrap(True)
            said.setTextFormat(Qt.TextFormat.PlainText)
            text.addWidget(said)
        if self.plans:
            note = QLabel(
                "Uses each venue's own cancel-all, so orders not yet shown here go too."
                if total or everything
                else "The table shows none, but the venue will be asked to cancel any it has.",
                self,
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
        # The shortcut that opened this was deliberate; Enter confirms, Escape keeps the orders.
        self.confirm_button.setDefault(True)
        self.confirm_button.setFocus()
        self.setMinimumWidth(400)

    def summary(self) -> str:
        return "\n".join([self.question, *self.lines, *self.warnings])


class NoticeLogDialog(QDialog):
    """Recent notices with their time, newest first; follows new ones while open."""

    COLUMNS = ("Time", "Source", "Message")

    def __init__(self, entries: Iterable[LoggedNotice], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeLog")
        self.setWindowTitle("Notice Log")
        self.setWindowFlag(Qt.WindowType.Tool, False)
        self.resize(820, 420)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setObjectName("noticeTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(self)
        buttons.addButton(QPushButton("Close", self), QDialogButtonBox.ButtonRole.RejectRole)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_selected)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        copy_keys = QShortcut(QKeySequence(QKeySequence.StandardKey.Copy), self.table)
        copy_keys.activated.connect(self.copy_selected)
        for entry in entries:
            self.add(entry)

    def add(self, entry: LoggedNotice) -> None:
        notice = entry.notice
        self.table.insertRow(0)
        colour = theme.LEVEL_COLOURS.get(notice.level, theme.TEXT)
        cells = (entry.time, entry.source or notice_source(notice), notice.line())
        for column, value in enumerate(cells):
            item = QTableWidgetItem(value)
            item.setToolTip(value if column == 2 else "")
            if column == 2:
                item.setForeground(colour)
            else:
                item.setForeground(theme.DIM_TEXT)
            self.table.setItem(0, column, item)
        if self.table.rowCount() > 2000:
            self.table.removeRow(self.table.rowCount() - 1)

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def messages(self) -> list[str]:
        return [self._text(r, 2) for r in range(self.table.rowCount())]

    def copy_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}) or range(
            self.table.rowCount()
        )
        text = "\n".join(
            "\t".join(self._text(r, c) for c in range(self.table.columnCount()))
            for r in rows
        )
        QGuiApplication.clipboard().setText(text)
