"""The notice log: notices, cancel actions and connection events with their time and source,
newest first and the newest in view on open. A text filter, level, account and kind filters;
a cancel's receipt unfolds to its action's venue notices and every order's outcome; Export
writes the rows the filter shows to CSV. Earlier runs' notices come through ``history``.

Shown with ``show()``, never ``exec()`` (a nested event loop would stall qasync's loop); the
export's file dialog likewise opens with ``open()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from blotter.core.notices import Notice
from blotter.ui.export import csv_save_dialog
from blotter.ui.notice_log_model import (
    COLUMNS,
    KINDS,
    LEVELS,
    MESSAGE,
    NOTICE_ROLE,
    LogRow,
    NoticeLogModel,
)
from blotter.ui.status_bar import LoggedNotice

__all__ = ["COLUMNS", "MAX_ENTRIES", "MESSAGE", "NOTICE_ROLE", "History", "NoticeLogDialog"]

MAX_ENTRIES = 20_000

History = Callable[[], list[LoggedNotice]]


class NoticeLogDialog(QDialog):
    """The notice log, newest first; follows new lines while open. ``entries`` are this run's
    (oldest first); ``history`` gives earlier runs' notices (oldest first), listed below."""

    COLUMNS = COLUMNS

    def __init__(
        self,
        entries: Iterable[LoggedNotice],
        parent: QWidget | None = None,
        *,
        history: History | None = None,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("noticeLog")
        self.setWindowTitle("Notice Log")
        self.setWindowFlag(Qt.WindowType.Tool, False)
        self.resize(980, 480)
        self.export_dialog: QFileDialog | None = None
        self.exported: Path | None = None  # the last file written
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addLayout(self._build_filters())
        self.model = NoticeLogModel(self, max_entries)
        self.table = QTreeView(self)
        self.table.setObjectName("noticeTable")
        self.table.setModel(self.model)
        self.table.setRootIsDecorated(True)
        self.table.setUniformRowHeights(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.header()
        for column in range(MESSAGE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        # the time column holds the tree's fold arrow and a grouped line's indent too: fit
        # "HH:MM:SS" beside both
        time_width = (self.table.fontMetrics().horizontalAdvance("88:88:88")
                      + 2 * self.table.indentation() + 12)
        for column, width in enumerate((time_width, 84, 150, 120)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.table)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("dialogNote")
        buttons = QDialogButtonBox(self)
        buttons.addButton(QPushButton("Close", self), QDialogButtonBox.ButtonRole.RejectRole)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_selected)
        self.export_button = buttons.addButton("Export…", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setToolTip("Write the notices the filters show to a CSV file")
        self.export_button.clicked.connect(self.choose_export)
        buttons.rejected.connect(self.reject)
        foot = QHBoxLayout()
        foot.addWidget(self.count_label, 1)
        foot.addWidget(buttons)
        layout.addLayout(foot)
        copy_keys = QShortcut(QKeySequence(QKeySequence.StandardKey.Copy), self.table)
        copy_keys.activated.connect(self.copy_selected)
        self.model.extend([*(history() if history is not None else []), *entries])
        self.model.rowsInserted.connect(self._follow)
        self.model.modelReset.connect(self._count)
        self._fill_accounts()
        self._count()

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("noticeFilter")
        self.filter_edit.setPlaceholderText("Filter notices: words, an order id, an account")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(lambda text: self._filter(text=text))
        row.addWidget(self.filter_edit, 1)
        self.level_box = QComboBox(self)
        self.level_box.setObjectName("noticeLevel")
        self.level_box.addItem("Any level", "")
        for key, (title, _) in LEVELS.items():
            self.level_box.addItem(title, key)
        self.level_box.currentIndexChanged.connect(lambda _: self._filter(
            levels=LEVELS[key][1] if (key := self.level_box.currentData()) else None))
        row.addWidget(self.level_box)
        self.account_box = QComboBox(self)
        self.account_box.setObjectName("noticeAccount")
        self.account_box.addItem("All accounts", "")
        self.account_box.currentIndexChanged.connect(
            lambda _: self._filter(account=str(self.account_box.currentData() or "")))
        row.addWidget(self.account_box)
        self.kind_box = QComboBox(self)
        self.kind_box.setObjectName("noticeKind")
        self.kind_box.addItem("All kinds", "")
        for key, title in KINDS.items():
            self.kind_box.addItem(title, key)
        self.kind_box.currentIndexChanged.connect(
            lambda _: self._filter(kind=str(self.kind_box.currentData() or "")))
        row.addWidget(self.kind_box)
        return row

    # -- feeding ---------------------------------------------------------------------------------
    def add(self, entry: LoggedNotice) -> None:
        """Put ``entry`` on top (when the filter lets it through)."""
        self.model.add(entry)
        self._fill_accounts()

    def _follow(self, *args: object) -> None:
        # a new line on top: keep the newest in view while the trader reads the top
        if self.table.verticalScrollBar().value() <= 1:
            self.table.scrollToTop()
        self._count()

    def _fill_accounts(self) -> None:
        box = self.account_box
        known = {box.itemData(i) for i in range(box.count())}
        for name in self.model.accounts_seen:
            if name not in known:
                box.addItem(name, name)

    def _filter(self, **what: object) -> None:
        self.model.set_filter(**what)  # type: ignore[arg-type]
        self.table.scrollToTop()

    def _count(self, *args: object) -> None:
        shown, total = self.model.rowCount(), self.model.all_rows()
        self.count_label.setText(f"{shown} of {total}" if shown != total else f"{total}")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.table.selectionModel().hasSelection():
            self.table.scrollToTop()  # the newest in view on open

    def set_filter(self, text: str = "", level: str = "", account: str = "",
                   kind: str = "") -> None:
        """Set the filters as the trader would (``level``/``kind`` by key, "" for any)."""
        self.filter_edit.setText(text)
        self.level_box.setCurrentIndex(max(0, self.level_box.findData(level)))
        self.account_box.setCurrentIndex(max(0, self.account_box.findData(account)))
        self.kind_box.setCurrentIndex(max(0, self.kind_box.findData(kind)))

    def reveal(self, notice: Notice | None) -> QModelIndex | None:
        """Select ``notice``'s row and unfold its lines (the status bar's line was clicked:
        its full receipt is what the trader wants to read). None if it is not shown."""
        if notice is None:
            return None
        row = next((r for r in self.model.rows() if r.notice is notice), None)
        if row is None:
            return None
        index = self.model.index_of(row)
        self.table.clearSelection()
        self.table.setCurrentIndex(index)
        self.table.setExpanded(index, True)
        self.table.scrollTo(index)
        return index

    # -- reading ---------------------------------------------------------------------------------
    def _top(self, r: int) -> LogRow | None:
        rows = self.model.rows()
        return rows[r] if 0 <= r < len(rows) else None

    def row(self, r: int) -> list[str]:
        """The cells of the ``r``-th row from the top."""
        top = self._top(r)
        return top.cells() if top is not None else []

    def messages(self) -> list[str]:
        """Every row's message, newest first."""
        return [row.message for row in self.model.rows()]

    def details(self, r: int) -> list[str]:
        """The lines under the ``r``-th row from the top (its action's notices, then every
        order's outcome)."""
        top = self._top(r)
        return [c.message for c in top.children] if top is not None else []

    def is_expanded(self, r: int) -> bool:
        return self.table.isExpanded(self.model.index(r, 0))

    def current(self) -> LogRow | None:
        """The row the cursor is on."""
        return self.model.row_at(self.table.currentIndex())

    def copy_selected(self) -> None:
        """The selected rows (each with its lines) and lines, else every row, as
        tab-separated lines on the clipboard, in the order shown."""
        selection = self.table.selectionModel()
        chosen = {(i.parent().row(), i.row()) for i in selection.selectedRows()}
        everything = not chosen
        lines: list[str] = []
        for r, row in enumerate(self.model.rows()):
            whole = everything or (-1, r) in chosen
            if whole:
                lines.append("\t".join(row.cells()))
            lines += ["\t\t\t\t  " + child.message for c, child in enumerate(row.children)
                      if (whole and not everything) or (r, c) in chosen]
        QGuiApplication.clipboard().setText("\n".join(lines))

    # -- export ----------------------------------------------------------------------------------
    def choose_export(self) -> QFileDialog:
        """Ask where to write the CSV (a file dialog opened with ``open()``: the loop runs on);
        the file is written when one is chosen."""
        self.export_dialog = csv_save_dialog(self, "Export Notices", "notices.csv", self.export_to)
        return self.export_dialog

    def export_to(self, path: Path) -> int:
        """Write the rows the filters show (each with its lines), newest first, to ``path`` as
        CSV (times in ISO 8601 UTC); returns how many lines. A failure is said in the count."""
        try:
            with path.open("w", encoding="utf-8", newline="") as out:
                n = self.model.write_csv(out)
        except OSError as exc:
            self.count_label.setText(f"Could not export to {path}: {exc.strerror or exc}")
            return 0
        self.exported = path
        self.count_label.setText(f"Exported {n} lines to {path}")
        return n
