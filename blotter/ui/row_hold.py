"""Rows that hold still while the trader aims.

A table whose rows move under the pointer makes a click land on an order that just moved
there. While the pointer is over a table's rows (and for a moment after a key moved the
selection, and while the table's context menu is open) the table *holds*: a row shown keeps its
place and updates in place, but new rows, closed rows leaving and re-sorting wait, and a marker
over the table's lower edge says what waits ("3 new · 2 closed — move away or press F5 to
show"). The waiting changes are shown when the pointer leaves, on a click on the marker or F5,
or when the pointer has rested ``rest_ms`` without moving or clicking (the rows that came in or
moved are then tinted for a moment). Only the view waits: the store is never held back.

``RowHold`` decides *when* (pointer, keys, rest, F5, marker) and tells its view through
``held_changed`` and ``apply_requested``; the view's model keeps *what* waits (``HeldRows`` for
the orders table). ``HoldMarker`` is the marker: a child of the viewport, so hovering it is
still hovering the table, and it covers the rows without shifting any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QLabel, QMenu, QWidget

from blotter.ui import theme

if TYPE_CHECKING:
    from blotter.core.order import Order, OrderKey

REST_MS = 3000  # the pointer rested this long without moving or clicking: show what waits
KEY_MS = 1500  # after a key moved the selection, the rows hold still this long
APPLY_KEY = Qt.Key.Key_F5  # shows what waits (Ctrl+F5 re-reads the venues)
APPLY_KEY_NAME = "F5"

# the keys that move the current row
MOVING_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown,
                         Qt.Key.Key_Home, Qt.Key.Key_End})
# what says the pointer is over the rows (a press without a move first comes only from tests)
# The rows hold once the pointer moves, presses or scrolls over them: a window that merely
# appears under a resting pointer (at launch) must not keep its first rows waiting.
_POINTER_IN = frozenset({QEvent.Type.MouseMove, QEvent.Type.MouseButtonPress,
                         QEvent.Type.MouseButtonDblClick, QEvent.Type.Wheel})


def waiting_words(new: int, closed: int, moved: int = 0, *, closes: bool = False) -> str:
    """What waits, in a few words: "3 new · 2 closed · 4 to re-sort" ("5 new closes" for the
    Recently Closed table); empty when nothing does."""
    if closes:
        return f"{new} new close{'s' if new != 1 else ''}" if new else ""
    parts = [f"{new} new" if new else "", f"{closed} closed" if closed else "",
             f"{moved} to re-sort" if moved else ""]
    return " · ".join(p for p in parts if p)


class HeldRows:
    """What waits while the orders table holds still.

    ``new``: orders not shown yet, by key (the latest version of each); ``gone``: rows kept in
    view after their order closed (the model's own dict: its cells draw them struck through);
    ``moved``: rows whose sort key changed (they keep their old place and key until then).
    """

    __slots__ = ("gone", "moved", "new")

    def __init__(self, gone: dict[OrderKey, Any]) -> None:
        self.new: dict[OrderKey, Order] = {}
        self.gone = gone
        self.moved: set[OrderKey] = set()

    def __bool__(self) -> bool:
        return bool(self.new or self.gone or self.moved)

    def counts(self) -> tuple[int, int, int]:
        """(new, closed, to re-sort): a closed row is not also counted as moving."""
        moved = len(self.moved.difference(self.gone)) if self.gone else len(self.moved)
        return len(self.new), len(self.gone), moved

    def summary(self) -> str:
        """What waits in a few words ("3 new · 2 closed"); empty when nothing does."""
        return waiting_words(*self.counts())


class HoldMarker(QLabel):
    """The note over a held table's lower edge; a click on it shows what waits."""

    clicked = Signal()
    MARGIN = 10

    def __init__(self, viewport: QWidget) -> None:
        super().__init__(viewport)
        self.setObjectName("hold-marker")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.restyle()
        self.setToolTip(
            "The rows hold still while the pointer is over them, so a click lands on the order"
            f" you aimed at.\nClick here or press {APPLY_KEY_NAME} to show what waits; it also"
            " shows when the pointer leaves the table or rests for a few seconds."
        )
        self.hide()

    def restyle(self) -> None:
        """In the theme's colours (again, after a switch of scheme)."""
        self._version = theme.VERSION
        ground = theme.MARKER_GROUND
        self.setStyleSheet(
            f"QLabel#hold-marker {{ background: rgba({ground.red()}, {ground.green()},"
            f" {ground.blue()}, 238); color: {theme.MARKER_TEXT.name()};"
            f" border: 1px solid {theme.ACCENT.name()}; border-radius: 11px; padding: 3px 14px; }}"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._version != theme.VERSION:
            self.restyle()  # the app's scheme changed

    def show_text(self, text: str) -> None:
        """Show ``text`` (hidden when empty)."""
        if not text:
            self.hide()
            return
        if text != self.text():
            self.setText(text)
            self.adjustSize()
        self.place()
        if not self.isVisible():
            self.show()
            self.raise_()

    def place(self, *args: object) -> None:
        """Centred over the lower edge of the viewport, wherever it scrolled to."""
        parent = self.parentWidget()
        if parent is None:
            return
        area = parent.rect()
        width = min(self.sizeHint().width(), max(area.width() - 2 * self.MARGIN, 40))
        self.resize(width, self.sizeHint().height())
        self.move(area.left() + (area.width() - width) // 2,
                  area.bottom() - self.height() - self.MARGIN)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self.clicked.emit()
            return
        super().mousePressEvent(event)


class RowHold(QObject):
    """When a table's rows hold still, and when what waited is to be shown.

    ``held_changed(True)`` when the pointer comes over the rows, a key moves the selection or
    the table's context menu opens; ``held_changed(False)`` when none holds any more (the view
    shows what waited then). ``apply_requested`` while held: the marker was clicked, F5 was
    pressed anywhere in the window, or the pointer rested ``rest_ms``. ``show_waiting`` sets
    the marker's words."""

    held_changed = Signal(bool)
    apply_requested = Signal()

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._view = view
        self._viewport = view.viewport()
        self.rest_ms = REST_MS
        self.key_ms = KEY_MS
        self._inside = False  # the pointer is over the rows
        self._menus = 0  # context menus of the table open
        self._held = False
        self._window: QWidget | None = None  # where F5 is heard
        self._rest = QTimer(self)
        self._rest.setSingleShot(True)
        self._rest.timeout.connect(self._rested)
        self._keyed = QTimer(self)
        self._keyed.setSingleShot(True)
        self._keyed.timeout.connect(self._update)
        self.marker = HoldMarker(self._viewport)
        self.marker.clicked.connect(self.apply_now)
        for bar in (view.verticalScrollBar(), view.horizontalScrollBar()):
            bar.valueChanged.connect(self.marker.place)  # the viewport scrolls its children
        self._viewport.installEventFilter(self)
        self._viewport.setMouseTracking(True)  # a move without a button held is heard too
        view.installEventFilter(self)

    @property
    def held(self) -> bool:
        return self._held

    def show_waiting(self, words: str) -> None:
        """The marker says ``words`` and how to show them; hidden when nothing waits."""
        self.marker.show_text(
            f"{words} — move away or press {APPLY_KEY_NAME} to show" if words else ""
        )

    def apply_now(self) -> None:
        """Show what waits now (the rows keep holding still after, while the pointer stays)."""
        if self._held:
            self.apply_requested.emit()

    def hold_while_open(self, menu: QMenu) -> None:
        """Hold still while ``menu`` (the table's context menu) is open: it acts on the rows."""
        self._menus += 1
        menu.aboutToHide.connect(self._menu_closed)
        self._update()

    def _menu_closed(self) -> None:
        self._menus = max(0, self._menus - 1)
        viewport = self._viewport
        # the pointer may have left while the menu had it
        self._inside = viewport.isVisible() and viewport.rect().contains(
            viewport.mapFromGlobal(QCursor.pos()))
        self._update()

    def _update(self) -> None:
        held = self._inside or self._menus > 0 or self._keyed.isActive()
        if held == self._held:
            return
        self._held = held
        if not held:
            self._rest.stop()
        self.held_changed.emit(held)

    def _rested(self) -> None:
        if self._inside:
            self.apply_now()
            self._rest.start(self.rest_ms)  # and again, while it rests and news keeps coming

    def _hear_keys_of(self, window: QWidget) -> None:
        if window is self._window:
            return
        if self._window is not None:
            self._window.removeEventFilter(self)
        self._window = window
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self._viewport:
            if kind in _POINTER_IN:
                self._rest.start(self.rest_ms)
                if not self._inside:
                    self._inside = True
                    self._update()
            elif kind == QEvent.Type.Leave:
                self._inside = False
                self._update()
            elif kind == QEvent.Type.Resize:
                self.marker.place()
        if watched is self._view:
            if kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
                if event.key() in MOVING_KEYS:
                    self._keyed.start(self.key_ms)
                    self._update()
            elif kind == QEvent.Type.Show:
                self._hear_keys_of(self._view.window())
            elif kind == QEvent.Type.Hide:
                self._inside = False
                self._keyed.stop()
                self._update()
        if (
            watched is self._window
            and kind == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == APPLY_KEY
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and self._view.isVisible()
        ):
            # heard, not taken: the key goes on to anything else that listens
            self.apply_now()
        return False
