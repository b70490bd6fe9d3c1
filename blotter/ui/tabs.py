"""The window's two tabs: Open Orders (the table, or why it is empty) and Recently Closed, each
titled with how many rows it holds, with Ctrl+1 / Ctrl+2 to switch."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QTabWidget, QWidget

from blotter.ui.closed_view import ClosedView

OPEN, CLOSED = 0, 1


class OrderTabs(QTabWidget):
    """The two tabs. A new title lays the tab bar out again, and that repaints the table: under
    a flood the counts are retitled at most once a second (the first change at once)."""

    RETITLE_MS = 1000

    def __init__(self, orders: QWidget, closed: ClosedView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tabs")
        self._titles: dict[int, str] = {}  # titles waiting for their tab's throttle
        self._throttles: list[QTimer] = []
        for index in (OPEN, CLOSED):
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.setInterval(self.RETITLE_MS)
            timer.timeout.connect(lambda i=index: self._retitle(i))
            self._throttles.append(timer)
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
        self._title(OPEN, f"Open Orders ({rows})")

    def _count_closed(self, *args: object) -> None:
        self._title(CLOSED, f"Recently Closed ({self._closed.closed_model.rowCount()})")

    def title(self, index: int) -> str:
        """The tab's title as the trader will read it (a retitle waiting included)."""
        return self._titles.get(index) or self.tabText(index)

    def _title(self, index: int, text: str) -> None:
        if self.tabText(index) == text and index not in self._titles:
            return
        throttle = self._throttles[index]
        if throttle.isActive():
            self._titles[index] = text
            return
        self.setTabText(index, text)
        throttle.start()

    def retitle_now(self) -> None:
        """Show the titles waiting for their throttle now (before the first frame)."""
        for index in list(self._titles):
            self.setTabText(index, self._titles.pop(index))

    def _retitle(self, index: int) -> None:
        text = self._titles.pop(index, None)
        if text is not None and self.tabText(index) != text:
            self.setTabText(index, text)
            self._throttles[index].start()
