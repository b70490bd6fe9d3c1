"""The orders table's viewport painted in one pass, as QTableView would paint it cell by cell.

QTableView paints a cell by building a style option, asking the style for the row's ground
(``PE_PanelItemViewRow``) and calling the cell's delegate: for the 10k-order table at its default
size that is ~275 calls from C++ into Python per paint, and their overhead was half of a
repaint's time. Here the view's rows are painted by one Python call: each row's ground once
(the style's, then the selection or the row's own background over it), the cells' texts by
``RowPainter.paint_rows`` (pen and font set only where they change, texts laid out once), the
Cancel buttons by ``CancelButtonDelegate.paint_button``. The pixels are the same as the cell by
cell paint's (tests/ui/test_orders_view.py compares the two). The viewport paints its ground
too (``paint_ground``), so the widgets under it are not painted first at every repaint.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QTableView

from blotter.ui.order_cells import Column, PaintedRow
from blotter.ui.order_delegates import CancelButtonDelegate, PaintColumn, PaintRow, RowPainter

_CANCEL = int(Column.CANCEL)
_ROOT = QModelIndex()
_ALTERNATE = QStyleOptionViewItem.ViewItemFeature.Alternate
_SELECTED = QStyle.StateFlag.State_Selected
_ENABLED = QStyle.StateFlag.State_Enabled
_ROW_GROUND = QStyle.PrimitiveElement.PE_PanelItemViewRow


def can_paint_in_one_pass(view: QTableView) -> bool:
    """Whether ``view`` looks the way the one pass paints it: no grid, left to right (the
    orders table always does, and never spans cells; anything else is left to QTableView)."""
    return not view.showGrid() and not view.isRightToLeft()


def paint_ground(view: QTableView, area: QRect, painter: QPainter | None = None) -> None:
    """Fill ``area`` of ``view``'s viewport with its ground (its palette's Base, which the style
    sheet's background sets): the viewport paints itself whole (``WA_OpaquePaintEvent``), so
    the widgets under it need not paint first at every repaint."""
    viewport = view.viewport()
    brush = viewport.palette().brush(viewport.backgroundRole())
    if painter is not None:
        painter.fillRect(area, brush)
        return
    own = QPainter(viewport)
    own.fillRect(area, brush)
    own.end()


def paint_in_one_pass(
    view: QTableView,
    area: QRect,
    painted: dict[int, PaintedRow],
    cells: RowPainter,
    buttons: CancelButtonDelegate,
    hovered_row: int,
    pressed_row: int,
) -> None:
    """Paint the rows of ``painted`` (view row → its prepared row; ``cells.prepare`` has seen
    them) that meet ``area`` of ``view``'s viewport. ``hovered_row`` and ``pressed_row`` say
    which row's Cancel button the pointer is on and presses (-1: none)."""
    header = view.horizontalHeader()
    columns: list[PaintColumn] = []
    button_cell: tuple[int, int] | None = None
    area_left, area_right = area.left(), area.right()
    for visual in range(header.count()):
        column = header.logicalIndex(visual)
        if header.isSectionHidden(column):
            continue
        left, width = header.sectionViewportPosition(column), header.sectionSize(column)
        if width <= 0 or left > area_right or left + width <= area_left:
            continue
        if column == _CANCEL:
            button_cell = (left, width)
        else:
            columns.append((column, left, width))
    if not columns and button_cell is None:
        paint_ground(view, area)
        return
    edges = [(left, left + width) for _, left, width in columns]
    if button_cell is not None:
        edges.append((button_cell[0], button_cell[0] + button_cell[1]))
    row_left = min(e[0] for e in edges)
    row_width = max(e[1] for e in edges) - row_left

    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    # a cell's colours are those of the Normal group while the view is enabled (as QTableView's)
    if option.state & _ENABLED:
        option.palette.setCurrentColorGroup(QPalette.ColorGroup.Normal)
    state = option.state
    alternate = view.alternatingRowColors()
    style = view.style()
    selection = view.selectionModel()
    any_selected = selection is not None and selection.hasSelection()
    model = view.model()
    vertical = view.verticalHeader()
    top_row, bottom_row = view.rowAt(area.top()), view.rowAt(area.bottom())
    if top_row < 0:
        top_row = min(painted) if painted else 0
    if bottom_row < 0:
        bottom_row = max(painted) if painted else -1

    painter = QPainter(view.viewport())
    paint_ground(view, area, painter)
    painter.setFont(option.font)
    rows: list[PaintRow] = []
    view_rows: list[int] = []
    for row in range(top_row, bottom_row + 1):
        prepared = painted.get(row)
        if prepared is None or vertical.isSectionHidden(row):
            continue
        top, height = view.rowViewportPosition(row), view.rowHeight(row)
        selected: bool | frozenset[int] = False
        if any_selected and selection.rowIntersectsSelection(row, _ROOT):
            if selection.isRowSelected(row, _ROOT):
                selected = True
            else:
                selected = frozenset(
                    c for c in range(model.columnCount())
                    if selection.isSelected(model.index(row, c)))
        # the row's ground from the style, once for the row (QTableView asks once per cell)
        option.rect = QRect(row_left, top, row_width, height)
        option.state = state | _SELECTED if selected is True else state
        if alternate and vertical.visualIndex(row) & 1:
            option.features |= _ALTERNATE
        else:
            option.features &= ~_ALTERNATE
        style.drawPrimitive(_ROW_GROUND, option, painter, view)
        rows.append((top, height, prepared, selected))
        view_rows.append(row)
    cells.paint_rows(painter, rows, columns, option.palette, option.fontMetrics,
                     (row_left, row_width))
    if button_cell is not None:
        highlight = option.palette.color(QPalette.ColorRole.Highlight)
        left, width = button_cell
        for (top, height, prepared, selected), row in zip(rows, view_rows):
            cell = QRect(left, top, width, height)
            if selected is not True and selected and _CANCEL in selected:
                painter.fillRect(cell, highlight)
            hovered = row == hovered_row
            buttons.paint_button(painter, cell, prepared[4], hovered,
                                 hovered and row == pressed_row, option.font)
    painter.end()

