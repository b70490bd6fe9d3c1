"""The notice log: recent notices with their time and source, newest first. A notice with
details (a cancel receipt: every order's outcome) expands to show them, one line each.

Shown with ``show()``, never ``exec()`` (a nested event loop would stall qasync's loop).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from blotter.core.notices import Notice
from blotter.ui import theme
from blotter.ui.status_bar import LoggedNotice, notice_source

MAX_ENTRIES = 2000
MESSAGE = 2  # the column of the notice's words
NOTICE_ROLE = Qt.ItemDataRole.UserRole  # an entry's Notice


class NoticeLogDialog(QDialog):
    """Recent notices with their time, newest first; follows new ones while open. A receipt's
    entry expands to every order's outcome (its ``Notice.details``)."""

    COLUMNS = ("Time", "Source", "Message")

    def __init__(self, entries: Iterable[LoggedNotice], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeLog")
        self.setWindowTitle("Notice Log")
        self.setWindowFlag(Qt.WindowType.Tool, False)
        self.resize(860, 440)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        self.table = QTreeWidget(self)
        self.table.setObjectName("noticeTable")
        self.table.setColumnCount(len(self.COLUMNS))
        self.table.setHeaderLabels(self.COLUMNS)
        self.table.setRootIsDecorated(True)
        self.table.setUniformRowHeights(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.header()
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
        """Put ``entry`` on top (its details as child lines, folded)."""
        notice = entry.notice
        colour = theme.LEVEL_COLOURS.get(notice.level, theme.TEXT)
        line = notice.line()
        item = QTreeWidgetItem([entry.time, entry.source or notice_source(notice), line])
        item.setForeground(0, theme.DIM_TEXT)
        item.setForeground(1, theme.DIM_TEXT)
        item.setForeground(MESSAGE, colour)
        tip = line
        if notice.details:
            n = len(notice.details)
            tip += f"\n▸ {n} line{'s' if n != 1 else ''}: every order's outcome"
            for detail in notice.details:
                child = QTreeWidgetItem(["", "", detail])
                child.setToolTip(MESSAGE, detail)
                item.addChild(child)
        item.setToolTip(MESSAGE, tip)
        item.setData(0, NOTICE_ROLE, notice)
        self.table.insertTopLevelItem(0, item)
        while self.table.topLevelItemCount() > MAX_ENTRIES:
            self.table.takeTopLevelItem(self.table.topLevelItemCount() - 1)

    def entries(self) -> list[QTreeWidgetItem]:
        """The log's entries, newest first."""
        table = self.table
        found = (table.topLevelItem(r) for r in range(table.topLevelItemCount()))
        return [item for item in found if item is not None]

    @staticmethod
    def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
        found = (item.child(c) for c in range(item.childCount()))
        return [child for child in found if child is not None]

    def reveal(self, notice: Notice | None) -> QTreeWidgetItem | None:
        """Select ``notice``'s entry and unfold its details (the status bar's line was
        clicked: its full receipt is what the trader wants to read)."""
        if notice is None:
            return None
        item = next((e for e in self.entries() if e.data(0, NOTICE_ROLE) is notice), None)
        if item is None:
            return None
        self.table.clearSelection()
        item.setSelected(True)
        item.setExpanded(True)
        self.table.setCurrentItem(item)
        self.table.scrollToItem(item)
        return item

    # -- reading ---------------------------------------------------------------------------------
    def row(self, r: int) -> list[str]:
        """The cells of the ``r``-th entry from the top."""
        entries = self.entries()
        return [entries[r].text(c) for c in range(len(self.COLUMNS))] if r < len(entries) else []

    def messages(self) -> list[str]:
        """Every entry's message, newest first."""
        return [item.text(MESSAGE) for item in self.entries()]

    def details(self, r: int) -> list[str]:
        """The detail lines of the ``r``-th entry from the top."""
        entries = self.entries()
        return [c.text(MESSAGE) for c in self._children(entries[r])] if r < len(entries) else []

    def copy_selected(self) -> None:
        """The selected entries (each with its details) and detail lines, else every entry,
        as tab-separated lines on the clipboard, in the order shown."""
        everything = not self.table.selectedItems()
        lines: list[str] = []
        for item in self.entries():
            whole = everything or item.isSelected()
            if whole:
                lines.append("\t".join(item.text(c) for c in range(len(self.COLUMNS))))
            lines += ["\t\t  " + child.text(MESSAGE) for child in self._children(item)
                      if (whole and not everything) or child.isSelected()]
        QGuiApplication.clipboard().setText("\n".join(lines))
