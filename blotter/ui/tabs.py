"""The window's two tabs: Open Orders (the table, or why it is empty) and Recently Closed, each
titled with how many rows it holds, with Ctrl+1 / Ctrl+2 to switch."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer, SignalInstance
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QTabWidget, QWidget

from blotter.ui.closed_view import ClosedView

OPEN, CLOSED = 0, 1


class OrderTabs(QTabWidget):
    """The two tabs. A new title lays the tab bar out again, and that repaints the table: under
    a flood the counts are retitled at most once a second (the first change at once), and a
    title that comes due waits for the table's next frame (``at_frame``: the rows changed, the
    table repaints anyway) so that both are one repaint, not two; with no frame within
    ``FRAME_WAIT_MS`` (a quiet table) it is shown by itself."""

    RETITLE_MS = 1000
    FRAME_WAIT_MS = 100

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
        self._due: set[int] = set()  # tabs whose title waits for the table's next frame
        self._frame_wait = QTimer(self)
        self._frame_wait.setSingleShot(True)
        self._frame_wait.setInterval(self.FRAME_WAIT_MS)
        self._frame_wait.timeout.connect(self.at_frame)
        self._lay_out: Callable[[], None] = lambda: None
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
        if throttle.isActive() or index in self._due:
            self._titles[index] = text
            return
        self.setTabText(index, text)
        throttle.start()

    def retitle_now(self) -> None:
        """Show the titles waiting for their throttle now (before the first frame)."""
        self._due.clear()
        self._frame_wait.stop()
        for index in list(self._titles):
            self.setTabText(index, self._titles.pop(index))

    def follow_frames(self, flushed: SignalInstance, lay_out: Callable[[], None]) -> None:
        """Show the titles that came due with the table's frames: ``flushed`` says its rows
        changed (it repaints this turn), ``lay_out`` lays its rows out first (else the repaint
        the tabs cause would, and ask for one more)."""
        self._lay_out = lay_out
        flushed.connect(self._frame)

    def _frame(self) -> None:
        if self._due:
            self._lay_out()
            self.at_frame()

    @property
    def titles_due(self) -> bool:
        """Whether a title waits for the table's next frame."""
        return bool(self._due)

    def at_frame(self) -> None:
        """The table repaints now (its rows changed): show the titles that came due with it."""
        if not self._due:
            return
        due, self._due = self._due, set()
        self._frame_wait.stop()
        for index in sorted(due):
            text = self._titles.pop(index, None)
            if text is not None and self.tabText(index) != text:
                self.setTabText(index, text)
                self._throttles[index].start()

    def _retitle(self, index: int) -> None:
        if index in self._titles:
            self._due.add(index)
            if not self._frame_wait.isActive():
                self._frame_wait.start()
