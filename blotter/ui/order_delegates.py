"""How the orders table paints: every cell's text straight from the row's prepared texts
(``RowPainter``: one Python call per cell, numbers lined up on their decimal point, ids and
option symbols cut in the middle, an unverified marker keeping its time), and the Cancel button
(one pixmap per look, hit-tested by the view in the same ``button_rect``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QStaticText,
)
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
# a row to paint: its top, height, prepared texts and looks, and whether it is selected (True,
# False, or the set of its selected columns); a column: which, its left edge and width
PaintRow = tuple[int, int, PaintedRow, "bool | frozenset[int]"]
PaintColumn = tuple[int, int, int]
CELL_PAD = 8  # each side of a cell's text (style.qss pads the header the same)
_RIGHT_COLUMNS = frozenset(int(c) for c in RIGHT_ALIGNED)
_ALIGNED_COLUMNS = tuple(int(c) for c in DECIMAL_ALIGNED)
_ELIDE_MODES = tuple(
    Qt.TextElideMode.ElideMiddle if c in MIDDLE_ELIDED else Qt.TextElideMode.ElideRight
    for c in Column
)


_LAID_KEPT = 8192  # texts kept laid out per font: many screens' worth
# a font, its metrics, its texts laid out (text → width, layout), its ascent and descent
_FontTexts = tuple[QFont, QFontMetrics, dict[str, tuple[int, QStaticText]], int, int]


def _laid_out(
    laid: dict[str, tuple[int, QStaticText]], text: str, metrics: QFontMetrics,
) -> tuple[int, QStaticText]:
    """``text``'s width and layout (plain text, never rich), kept in ``laid``."""
    if len(laid) >= _LAID_KEPT:
        laid.clear()
    static = QStaticText(text)
    static.setTextFormat(Qt.TextFormat.PlainText)
    found = laid[text] = (metrics.horizontalAdvance(text), static)
    return found


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
        # per font (by key): each text's width and its layout, made once (QStaticText: drawing
        # a laid-out text costs half of laying it out again on every paint)
        self._laid: dict[str, dict[str, tuple[int, QStaticText]]] = {}
        self._fonts: dict[int, _FontTexts] = {}
        self._tail_of: dict[str, int] = {}  # decimal_tail of the numbers in view, by text  # the cells' fonts, by id (kept alive here)

    def prepare(self, painted: list[PaintedRow], digit_width: int) -> bool:
        """The rows about to be painted: line their numbers up among themselves. True if the
        numbers now stand elsewhere than in the last paint (rows painted then and not now
        would stand out of line)."""
        tails = [0] * len(Column)
        heads = [0] * len(Column)
        tail_of = self._tail_of
        if len(tail_of) > 8192:
            tail_of.clear()
        for painted_row in painted:
            texts = painted_row[0]
            for column in _ALIGNED_COLUMNS:
                text = texts[column]
                tail = tail_of.get(text)
                if tail is None:
                    tail = tail_of[text] = decimal_tail(text)
                tails[column] = max(tails[column], tail)
                heads[column] = max(heads[column], len(text) - tail)
        digit = max(digit_width, 1)
        moved = tails != self._tails or heads != self._heads or digit != self._digit
        self._tails = tails
        self._heads = heads
        self._digit = digit
        if len(self._elided) > 4096:
            self._elided.clear()
        return moved

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
        selected = bool(option.state & _SELECTED)
        painter.save()
        painter.setFont(option.font)
        self.paint_rows(
            painter, [(rect.top(), rect.height(), row, selected)],
            [(index.column(), rect.left(), rect.width())], option.palette, option.fontMetrics)
        painter.restore()

    def paint_rows(
        self,
        painter: QPainter,
        rows: Sequence[PaintRow],
        columns: Sequence[PaintColumn],
        palette: QPalette,
        metrics: QFontMetrics,
        ground: tuple[int, int] | None = None,
    ) -> None:
        """Paint ``rows`` (top, height, prepared row, selected: the whole row or, as a set,
        some of its columns) across ``columns`` (column, left, width; the Cancel column is not
        this painter's), in one pass: each row's ground filled once (across ``ground``, left and
        width, if given; else across the columns), the pen and font set only
        where they change. ``painter`` starts in the view's font (``metrics``); it ends in it.

        Every cell reads as the table's cells always read: a number stands on its decimal point
        (see ``prepare``), a text too wide for its cell loses what matters least, then is cut
        where its end matters least (``_fit``)."""
        if not rows:
            return
        highlight = palette.color(QPalette.ColorRole.Highlight)
        text_colour = palette.color(QPalette.ColorRole.Text)
        selected_colour = palette.color(QPalette.ColorRole.HighlightedText)
        base_font = painter.font()
        fill, draw, set_pen, set_font = (
            painter.fillRect, painter.drawStaticText, painter.setPen, painter.setFont)
        fit, tails, heads, digit = self._fit, self._tails, self._heads, self._digit
        tail_of = self._tail_of
        if ground is None:
            if not columns:
                return
            left = min(c[1] for c in columns)
            right = max(c[1] + c[2] for c in columns)
        else:
            left, right = ground[0], ground[0] + ground[1]
        # per column: where its text starts and how much room it has (the same for every row)
        places = [(c, x, w - 2 * CELL_PAD, c in _RIGHT_COLUMNS) for c, x, w in columns]
        pen: QColor | None = None
        font: QFont | None = None  # None: the view's (the painter's at the start)
        base = self._font_texts(base_font, metrics)
        kept_fonts = self._fonts
        for top, height, row, selected in rows:
            texts, fonts, colours, background, _ = row
            if selected is True:
                fill(left, top, right - left, height, highlight)
            elif background is not None:
                fill(left, top, right - left, height, background)
            for column, x, room, right_aligned in places:
                cell_selected = selected if type(selected) is bool else column in selected
                if cell_selected is True and selected is not True:
                    fill(x, top, room + 2 * CELL_PAD, height, highlight)
                text = texts[column]
                if not text:
                    continue
                cell_font = fonts[column]
                if cell_font is not font:
                    set_font(base_font if cell_font is None else cell_font)
                    font = cell_font
                if cell_font is None:
                    kept = base
                else:
                    cached = kept_fonts.get(id(cell_font))
                    if cached is None or cached[0] is not cell_font:
                        cached = self._font_texts(cell_font, QFontMetrics(cell_font))
                        kept_fonts[id(cell_font)] = cached
                    kept = cached
                _, cell_metrics, laid, ascent, descent = kept
                colour = colours[column]
                if colour is None:
                    colour = selected_colour if cell_selected else text_colour
                if colour is not pen:
                    set_pen(colour)
                    pen = colour
                shift = 0
                tail = tails[column]
                if tail:
                    # the same decimal column for every row in view: as many places right of
                    # the units digit as the longest tail, or as the cell leaves beside the
                    # longest head
                    aligned = min(tail, room // digit - heads[column])
                    own = tail_of.get(text)
                    if own is None:
                        own = decimal_tail(text)
                    shift = max(0, aligned - own) * digit
                found = laid.get(text)
                if found is None:
                    found = _laid_out(laid, text, cell_metrics)
                width, static = found
                if width > room:
                    shift = 0
                    text = fit(text, column, room, cell_metrics)
                    found = laid.get(text)
                    if found is None:
                        found = _laid_out(laid, text, cell_metrics)
                    width, static = found
                if right_aligned:
                    at = x + room + CELL_PAD - shift - width
                else:
                    at = x + CELL_PAD
                # the text's top, from where its baseline stands in the cell
                draw(at, top + (height + ascent - descent) // 2 - ascent, static)
        if font is not None:
            painter.setFont(base_font)

    def _font_texts(self, font: QFont, metrics: QFontMetrics) -> _FontTexts:
        """The texts laid out in ``font`` so far (kept per font: the rows in view repeat
        their texts from paint to paint)."""
        key = font.key()
        laid = self._laid.get(key)
        if laid is None:
            laid = self._laid[key] = {}
        return font, metrics, laid, metrics.ascent(), metrics.descent()

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
        hovered = self._view.is_hovered(index)
        self.paint_button(painter, rect, row[4], hovered, hovered and self._view.is_pressed(index),
                          option.font)

    def paint_button(
        self, painter: QPainter, cell: QRect, look: int, hovered: bool, pressed: bool,
        font: QFont,
    ) -> None:
        """The button of a row whose Cancel button looks ``look`` (``BUTTON_OPEN``, pending,
        closed) in its ``cell`` (the cell's ground is painted already): lit while ``hovered``,
        darker while ``pressed``; a pending or closed row's button never lights."""
        pending, closed = look == BUTTON_PENDING, look == BUTTON_CLOSED
        state = (
            self.PENDING if pending else self.CLOSED if closed else self.PRESSED if pressed
            else self.HOVERED if hovered else self.NORMAL
        )
        button = button_rect(cell, self._view.button_width)
        painter.drawPixmap(button.topLeft(), self._button(
            state, button.width(), button.height(), font,
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
