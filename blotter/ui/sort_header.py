"""The tables' column header, with the sort arrow the usual way round.

Qt's header asks the style for a "sort down" arrow (▼) on an ascending sort and "sort up" (▲)
on a descending one (the arrow points where the larger values are, an old Windows habit).
Spreadsheets and most tables a trader knows show ▲ for ascending (A→Z, small→large, oldest
first) and ▼ for descending, so the header tells the style the other one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QStyleOptionHeader, QWidget

_FLIPPED = {
    QStyleOptionHeader.SortIndicator.SortUp: QStyleOptionHeader.SortIndicator.SortDown,
    QStyleOptionHeader.SortIndicator.SortDown: QStyleOptionHeader.SortIndicator.SortUp,
}


class SortHeader(QHeaderView):
    """A horizontal header that draws ▲ for an ascending sort and ▼ for a descending one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)

    def initStyleOptionForIndex(self, option: QStyleOptionHeader, logicalIndex: int) -> None:
        super().initStyleOptionForIndex(option, logicalIndex)
        option.sortIndicator = _FLIPPED.get(option.sortIndicator, option.sortIndicator)
