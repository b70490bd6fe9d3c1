"""How the orders table paints what its model cannot say in roles: the Cancel button (one
pixmap per look, hit-tested by the view in the same ``button_rect``), a Status cell that keeps
an unverified marker's time in a narrow column, and long ids elided in the middle."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from blotter.ui import theme
from blotter.ui.order_cells import CLOSED_ROLE, PENDING_ROLE

BUTTON_WIDTH = 62
BUTTON_MARGIN_V = 3


class ButtonHost(Protocol):
    """The view the Cancel buttons are painted in: which row's button the pointer is on."""

    def is_hovered(self, index: QModelIndex | QPersistentModelIndex) -> bool: ...

    def is_pressed(self, index: QModelIndex | QPersistentModelIndex) -> bool: ...


def button_rect(cell: QRect) -> QRect:
    """Where the Cancel button sits inside its cell (the view hit-tests the same rect)."""
    width = min(BUTTON_WIDTH, max(cell.width() - 8, 16))
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


class StatusDelegate(QStyledItemDelegate):
    """The Status cell: an unverified row's marker keeps its time when the column is narrow
    ("unverified since 13:07:19 · New" → "unverified since 13:07:19" → "unverified
    13:07:19"), since the time is what the trader reads there (the venue's status stays in the
    tooltip); the venue's own status text elides at its end as usual."""

    _MARKER = "unverified since "
    _PAD = 14  # the cell's padding (style.qss) and text margins

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        text = option.text
        if not text.startswith(self._MARKER):
            return
        room = option.rect.width() - self._PAD
        marker = text.split(" · ", 1)[0]
        for candidate in (text, marker, "unverified " + marker[len(self._MARKER):]):
            option.text = candidate
            if option.fontMetrics.horizontalAdvance(candidate) <= room:
                return


class CancelButtonDelegate(QStyledItemDelegate):
    """Paints a flat "Cancel" button; disabled-looking while the row's cancel is in flight.

    Each look (state, size, font, pixel ratio) is drawn once into a pixmap and then copied:
    drawing the rounded rect and its text for every visible row cost ~100 µs a row, a tenth of
    a whole repaint of the table."""

    PENDING, NORMAL, HOVERED, PRESSED, CLOSED = range(5)
    _CACHE_LIMIT = 64

    def __init__(self, view: ButtonHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._pixmaps: dict[tuple[int, int, int, str, float], QPixmap] = {}

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        # background, selection and focus as for any cell, without text
        super().paint(painter, option, index)
        pending = bool(index.data(PENDING_ROLE))
        closed = not pending and index.data(CLOSED_ROLE) is not None
        hovered = not pending and not closed and self._view.is_hovered(index)
        pressed = hovered and self._view.is_pressed(index)
        state = (
            self.PENDING if pending else self.CLOSED if closed else self.PRESSED if pressed
            else self.HOVERED if hovered else self.NORMAL
        )
        rect = button_rect(option.rect)
        painter.drawPixmap(rect.topLeft(), self._button(
            state, rect.width(), rect.height(), option.font, painter.device().devicePixelRatioF()
        ))

    def _button(self, state: int, width: int, height: int, font: QFont, ratio: float) -> QPixmap:
        key = (state, width, height, font.key(), ratio)
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            if len(self._pixmaps) >= self._CACHE_LIMIT:
                self._pixmaps.clear()
            pixmap = self._pixmaps[key] = _draw_button(state, width, height, font, ratio)
        return pixmap

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.text = ""
        option.state &= ~QStyle.StateFlag.State_HasFocus


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
