"""How the orders table paints: every cell's text straight from the row's prepared texts
(``RowPainter``: one Python call per cell, numbers lined up on their decimal point, ids and
option symbols cut in the middle, an unverified marker keeping its time), and the Cancel button
(one pixmap per look, hit-tested by the view in the same ``button_rect``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from blotter.ui import theme
from blotter.ui.order_cells import (
    BUTTON_CLOSED,
    BUTTON_PENDING,
    DECIMAL_ALIGNED,
    MIDDLE_ELIDED,
    RIGHT_ALIGNED,
    Column,
    PaintedRow,
)

BUTTON_WIDTH = 62  # at the default text size; wider with bigger text (cancel_button_width)
BUTTON_MARGIN_V = 3


def cancel_button_width(font: QFont) -> int:
    """The Cancel button's width in ``font``: ``BUTTON_WIDTH``, or wider for bigger text."""
    return max(BUTTON_WIDTH, QFontMetrics(font).horizontalAdvance("Cancel") + 18)


class ButtonHost(Protocol):
    """The view the Cancel buttons are painted in: which row's button the pointer is on."""

    def is_hovered(self, index: QModelIndex | QPersistentModelIndex) -> bool: ...

    def is_pressed(self, index: QModelIndex | QPersistentModelIndex) -> bool: ...

    @property
    def button_width(self) -> int: ...


def button_rect(cell: QRect, button_width: int = BUTTON_WIDTH) -> QRect:
    """Where the Cancel button sits inside its cell (the view hit-tests the same rect)."""
    width = min(button_width, max(cell.width() - 8, 16))
    height = max(cell.height() - 2 * BUTTON_MARGIN_V, 10)
    left = cell.left() + (cell.width() - width) // 2
    top = cell.top() + (cell.height() - height) // 2
    return QRect(left, top, width, height)


class MiddleElideDelegate(QStyledItemDelegate):
    """Elides in the middle: long order ids (ULIDs, UUIDs, 19-digit numbers) share their first
    characters and differ at the end, so a cut tail would make rows look alike."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


def decimal_tail(text: str) -> int:
    """How many characters of ``text`` stand right of its number's units digit: the decimal
    point and fraction, and any words after the number ("11.1 (59%)": 8; "52,589 CHF": 4)."""
    end = text.find(" ")
    if end < 0:
        end = len(text)
    dot = text.find(".", 0, end)
    return len(text) - (dot if dot >= 0 else end)


_MARKER = "unverified since "
_STATUS = int(Column.STATUS)
_FILLED = int(Column.FILLED)
_SYMBOL = int(Column.SYMBOL)


def marker_fits(text: str, room: int, advance: Callable[[str], int]) -> str:
    """An unverified row's Status in a narrow column: the marker keeps its time, the status
    its words while they fit ("unverified since 13:07:19 · Open" → "unverified 13:07:19 ·
    Open" → "unverified since 13:07:19" → "unverified 13:07:19")."""
    if not text.startswith(_MARKER):
        return text
    marker, _, status = text.partition(" · ")
    short = "unverified " + marker[len(_MARKER):]
    candidates = (text, f"{short} · {status}" if status else text, marker, short)
    for candidate in candidates:
        if advance(candidate) <= room:
            return candidate
    return candidates[-1]


def shorter(text: str, column: int, room: int, advance: Callable[[str], int]) -> str:
    """A cell's text made to fit ``room`` by leaving out what matters least, before any
    eliding: an unverified marker's words (``marker_fits``), a fill's share ("0.014999 (33%)"
    → "0.014999": the amount stays whole), an option's settle coin ("BTC-27MAR26-100000-C-USDT"
    → "BTC-27MAR26-100000-C…": never its strike)."""
    if column == _STATUS and text.startswith(_MARKER):
        return marker_fits(text, room, advance)
    if column == _FILLED and text.endswith("%)"):
        return text.rpartition(" (")[0]
    if column == _SYMBOL:
        parts = text.split("-")
        if len(parts) > 4 and parts[3] in ("C", "P"):
            # an option: its base, expiry, strike and call/put stay; what follows goes
            short = "-".join(parts[:4]) + "…"
            if advance(short) <= room:
                return short
    return text


_SELECTED = QStyle.StateFlag.State_Selected
CELL_PAD = 8  # each side of a cell's text (style.qss pads the header the same)
_RIGHT_COLUMNS = frozenset(int(c) for c in RIGHT_ALIGNED)
_ALIGNED_COLUMNS = tuple(int(c) for c in DECIMAL_ALIGNED)
_ELIDE_MODES = tuple(
    Qt.TextElideMode.ElideMiddle if c in MIDDLE_ELIDED else Qt.TextElideMode.ElideRight
    for c in Column
)


class RowPainter(QStyledItemDelegate):
    """Paints the orders table's cells from the rows the view prepared for this paint
    (``prepare``): no role-by-role questions to the model, no style sheet per cell.

    Numbers stand on their decimal point within the rows in view (the font is fixed-pitch:
    a cell moves left by the characters it has fewer right of its units digit than the
    column's longest). A text wider than its cell is cut where its end carries meaning: in
    the middle for ids, accounts and symbols ("BTC-27MAR26-…-100000-C" keeps strike and
    C/P), else at its end; an unverified marker keeps its time."""

    def __init__(self, view: QWidget, rows: Callable[[int], PaintedRow | None]) -> None:
        super().__init__(view)
        self._view = view
        self._rows = rows
        self._tails = [0] * len(Column)
        self._heads = [0] * len(Column)
        self._digit = 8
        self._elided: dict[tuple[str, int, int], str] = {}
        self._metrics: dict[int, tuple[QFont, QFontMetrics]] = {}

    def prepare(self, painted: list[PaintedRow], digit_width: int) -> None:
        """The rows about to be painted: line their numbers up among themselves."""
        tails = [0] * len(Column)
        heads = [0] * len(Column)
        for painted_row in painted:
            texts = painted_row[0]
            for column in _ALIGNED_COLUMNS:
                text = texts[column]
                tail = decimal_tail(text)
                tails[column] = max(tails[column], tail)
                head = len(text) - tail
                heads[column] = max(heads[column], head)
        self._tails = tails
        self._heads = heads
        self._digit = max(digit_width, 1)
        if len(self._elided) > 4096:
            self._elided.clear()

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row = self._rows(index.row())
        if row is None:
            return
        texts, fonts, colours, background, _ = row
        column = index.column()
        rect = option.rect
        palette = option.palette
        selected = bool(option.state & _SELECTED)
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
        elif background is not None:
            painter.fillRect(rect, background)
        text = texts[column]
        if not text:
            return
        font = fonts[column]
        if font is not None:
            kept = self._metrics.get(id(font))
            if kept is None or kept[0] is not font:
                kept = self._metrics[id(font)] = (font, QFontMetrics(font))
            metrics = kept[1]
            painter.setFont(font)
        else:
            metrics = option.fontMetrics
        colour = colours[column]
        if colour is None:
            colour = palette.color(
                QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        painter.setPen(colour)
        room = rect.width() - 2 * CELL_PAD
        shift = 0
        tails = self._tails[column]
        if tails:
            # the same decimal column for every row in view: as many places right of the
            # units digit as the longest tail, or as the cell leaves beside the longest head
            digit = self._digit
            places = min(tails, room // digit - self._heads[column])
            shift = max(0, places - decimal_tail(text)) * digit
        width = metrics.horizontalAdvance(text)
        if width > room:
            shift = 0
            text = self._fit(text, column, room, metrics)
            width = metrics.horizontalAdvance(text)
        if column in _RIGHT_COLUMNS:
            x = rect.right() - CELL_PAD - shift - width + 1
        else:
            x = rect.left() + CELL_PAD
        y = rect.top() + (rect.height() + metrics.ascent() - metrics.descent()) // 2
        painter.drawText(x, y, text)
        if font is not None:
            painter.setFont(option.font)

    def _fit(self, text: str, column: int, room: int, metrics: QFontMetrics) -> str:
        key = (text, room, column)
        fitted = self._elided.get(key)
        if fitted is None:
            fitted = shorter(text, column, room, metrics.horizontalAdvance)
            if metrics.horizontalAdvance(fitted) > room:
                fitted = metrics.elidedText(fitted, _ELIDE_MODES[column], max(room, 0))
            self._elided[key] = fitted
        return fitted


class CancelButtonDelegate(QStyledItemDelegate):
    """Paints a flat "Cancel" button; disabled-looking while the row's cancel is in flight.

    Each look (state, size, font, pixel ratio) is drawn once into a pixmap and then copied:
    drawing the rounded rect and its text for every visible row cost ~100 µs a row, a tenth of
    a whole repaint of the table."""

    PENDING, NORMAL, HOVERED, PRESSED, CLOSED = range(5)
    _CACHE_LIMIT = 64

    def __init__(
        self, view: ButtonHost, rows: Callable[[int], PaintedRow | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._view = view
        self._rows = rows
        self._pixmaps: dict[tuple[int, int, int, str, float, int], QPixmap] = {}

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row = self._rows(index.row())
        if row is None:
            return
        rect = option.rect
        if option.state & _SELECTED:
            painter.fillRect(rect, option.palette.color(QPalette.ColorRole.Highlight))
        elif row[3] is not None:
            painter.fillRect(rect, row[3])
        look = row[4]
        pending, closed = look == BUTTON_PENDING, look == BUTTON_CLOSED
        hovered = not pending and not closed and self._view.is_hovered(index)
        pressed = hovered and self._view.is_pressed(index)
        state = (
            self.PENDING if pending else self.CLOSED if closed else self.PRESSED if pressed
            else self.HOVERED if hovered else self.NORMAL
        )
        button = button_rect(rect, self._view.button_width)
        painter.drawPixmap(button.topLeft(), self._button(
            state, button.width(), button.height(), option.font,
            painter.device().devicePixelRatioF(),
        ))

    def _button(self, state: int, width: int, height: int, font: QFont, ratio: float) -> QPixmap:
        key = (state, width, height, font.key(), ratio, theme.VERSION)
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            if len(self._pixmaps) >= self._CACHE_LIMIT:
                self._pixmaps.clear()
            pixmap = self._pixmaps[key] = _draw_button(state, width, height, font, ratio)
        return pixmap



def _draw_button(state: int, width: int, height: int, font: QFont, ratio: float) -> QPixmap:
    pixmap = QPixmap(max(1, round(width * ratio)), max(1, round(height * ratio)))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if state == CancelButtonDelegate.PENDING:
        border, fill, text_colour, text = theme.GRID, QColor(0, 0, 0, 0), theme.FAINT_TEXT, "…"
    elif state == CancelButtonDelegate.CLOSED:  # its order closed: nothing left to cancel
        border, fill, text_colour, text = theme.GRID, QColor(0, 0, 0, 0), theme.FAINT_TEXT, (
            "Closed")
    elif state == CancelButtonDelegate.PRESSED:
        border, fill, text_colour, text = theme.SELL, _alpha(theme.SELL, 90), QColor(
            "#ffffff"), "Cancel"
    elif state == CancelButtonDelegate.HOVERED:
        border, fill, text_colour, text = theme.SELL, _alpha(theme.SELL, 40), theme.SELL, "Cancel"
    else:
        border, fill, text_colour, text = (
            theme.BUTTON_BORDER, QColor(0, 0, 0, 0), theme.BUTTON_TEXT, "Cancel"
        )
    rect = QRectF(0, 0, width, height).adjusted(0.5, 0.5, -0.5, -0.5)
    painter.setPen(QPen(border, 1))
    painter.setBrush(fill)
    painter.drawRoundedRect(rect, 3, 3)
    font = QFont(font)
    font.setItalic(False)
    painter.setFont(font)
    painter.setPen(text_colour)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


def _alpha(colour: QColor, alpha: int) -> QColor:
    result = QColor(colour)
    result.setAlpha(alpha)
    return result
