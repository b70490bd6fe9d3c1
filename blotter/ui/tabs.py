"""The window's two tabs: Open Orders (the table, or why it is empty) and Recently Closed, each
titled with how many rows it holds, with Ctrl+1 / Ctrl+2 to switch."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QTabWidget, QWidget

from blotter.ui.closed_view import ClosedView

OPEN, CLOSED = 0, 1


class OrderTabs(QTabWidget):
    def __init__(self, orders: QWidget, closed: ClosedView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tabs")
        self.setDocumentMode(True)
        self.addTab(orders, "Open Orders")
        self.addTab(closed, "Recently Closed")
        model = closed.closed_model
        for signal in (model.rowsInserted, model.rowsRemoved):
            signal.connect(self._count_closed)
        self._closed = closed
        self._count_closed()
        self.switch_actions: list[QAction] = []
        for n, title in ((OPEN, "Open Orders"), (CLOSED, "Recently Closed")):
            action = QAction(title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{n + 1}"))
            action.triggered.connect(lambda _=False, i=n: self.setCurrentIndex(i))
            self.switch_actions.append(action)

    @property
    def showing_open_orders(self) -> bool:
        return self.currentIndex() == OPEN

    def count_open(self, rows: int) -> None:
        self.setTabText(OPEN, f"Open Orders ({rows})")

    def _count_closed(self, *args: object) -> None:
        self.setTabText(CLOSED, f"Recently Closed ({self._closed.closed_model.rowCount()})")
