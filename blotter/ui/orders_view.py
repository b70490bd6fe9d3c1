"""The orders table: proxy (sort + filter) and the view.

No widget per cell: the Cancel button is painted by ``CancelButtonDelegate``
(order_delegates.py) and its clicks are hit-tested by ``OrdersView``. The rows hold still while
the trader aims (``RowHold``, row_hold.py). What the cancel actions do is ``cancel_actions.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QTableView,
    QWidget,
)
from shiboken6 import isValid

from blotter.core.order import Order
from blotter.ui import theme
from blotter.ui.column_layout import ColumnLayout
from blotter.ui.export import PLAIN_COPIED, plain_cell
from blotter.ui.order_cells import PaintedRow
from blotter.ui.order_delegates import (
    BUTTON_WIDTH,
    CancelButtonDelegate,
    MiddleElideDelegate,
    RowPainter,
    button_rect,
    cancel_button_width,
)
from blotter.ui.orders_model import (
    CLOSED_ROLE,
    FILTER_ROLE,
    ORDER_ROLE,
    PENDING_ROLE,
    SORT_ROLE,
    Column,
    OrdersModel,
)
from blotter.ui.row_hold import RowHold, waiting_words
from blotter.ui.sort_header import SortHeader
from blotter.ui.table_paint import can_paint_in_one_pass, paint_ground, paint_in_one_pass

# the names the window, the other table and the tests have always taken from here
__all__ = [
    "BUTTON_WIDTH", "MiddleElideDelegate", "OrdersProxyModel", "OrdersView",
    "filter_expression", "passes", "set_up_rows", "typed_words",
]


# -- proxy --------------------------------------------------------------------------------------
class OrdersProxyModel(QSortFilterProxyModel):
    """Filters by words; sorting is handed to the source model (see ``OrdersModel.sort``).

    Every word typed must appear somewhere in the row (symbol, account, venue, status, ids…), in
    any case; the test of a row runs in C++ (``filter_expression``), not per row in Python. The
    source's flush asks the same question in Python (``passes``), so a change of a row that stays
    hidden is not even signalled (``_concerns``).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(0)
        self.setDynamicSortFilter(True)
        self._filter_text = ""
        self._typed: tuple[str, ...] = ()
        self._holding = False
        self._source: QAbstractItemModel | None = None

    @property
    def filter_text(self) -> str:
        return self._filter_text

    def setSourceModel(self, sourceModel: QAbstractItemModel) -> None:
        super().setSourceModel(sourceModel)
        self._source = sourceModel
        if isinstance(sourceModel, OrdersModel):
            self._follow_filter(sourceModel)

    def multiData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        roleDataSpan: QModelRoleDataSpan | QModelRoleData,
    ) -> None:
        """Forward a delegate's roles in one call (QSortFilterProxyModel would map the index and
        ask the source once per role: seven round trips into Python per painted cell)."""
        source = self._source
        if source is None:
            super().multiData(index, roleDataSpan)
            return
        source.multiData(self.mapToSource(index), roleDataSpan)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting is the source model's job (Python keys, no data() call per comparison)."""
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

    def set_filter_text(self, text: str) -> None:
        self._filter_text = text
        self._typed = typed_words(text)
        if isinstance(self._source, OrdersModel):
            self._follow_filter(self._source)
        self.setFilterRegularExpression(filter_expression(text))
        if self._holding and self._typed:
            self.setDynamicSortFilter(False)

    def hold_rows(self, on: bool) -> None:
        """While the rows hold still a changed row is not dropped or let in by the filter (it
        is re-tested when the hold ends); without a filter there is nothing to hold."""
        self._holding = on
        if on:
            if self._typed:
                self.setDynamicSortFilter(False)
        elif not self.dynamicSortFilter():
            self.setDynamicSortFilter(True)
            self._retest_rows()

    def refilter(self) -> None:
        """Re-test every row against the filter (what waited while held was just shown)."""
        if not self.dynamicSortFilter():
            self._retest_rows()

    def _follow_filter(self, source: OrdersModel) -> None:
        """While a filter is set, the source signals only the changes that concern the rows
        shown (``_concerns``), each range of changed rows on its own: the proxy re-tests every
        row of a signal, and a merged span would hold thousands."""
        filtering = bool(self._typed)
        source.coarse_changes = not filtering
        source.concerns_view = self._concerns if filtering else None

    def _concerns(self, row: int) -> bool:
        """Whether a change of the source's ``row`` concerns the rows shown: it is one of them
        (it may leave, or its cells changed), or its order passes the filter now (it comes in)."""
        source = self._source
        if not isinstance(source, OrdersModel):
            return True
        if self.mapFromSource(source.index(row, 0)).isValid():
            return True
        order = source.order_at(row)
        return order is None or self.accepts(order)

    def _retest_rows(self) -> None:
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def accepts(self, order: Order) -> bool:
        """Whether the filter lets ``order`` in (a new order the table does not show yet)."""
        if not self._typed or not isinstance(self._source, OrdersModel):
            return True
        return passes(self._source.filter_words(order), self._typed)


def typed_words(text: str) -> tuple[str, ...]:
    """The words typed in a filter box, as rows are matched against them (lower case)."""
    return tuple(text.lower().split())


def passes(words: str, typed: Sequence[str]) -> bool:
    """Whether a row whose FILTER_ROLE ``words`` (lower case) are these holds every ``typed``
    word (``typed_words``) somewhere: "btc sell" passes a row of tBTCUSD that sells. The same
    test as ``filter_expression``'s, in Python."""
    return all(word in words for word in typed)


def filter_expression(text: str) -> QRegularExpression:
    """``passes`` as one regular expression of look-aheads, run in C++ over a row's FILTER_ROLE
    words: each typed word, lower-cased as the words are and taken literally, somewhere in them
    (``.`` also across a line break; no case folding of its own, so both sides are lower-cased
    alike, by Python)."""
    pattern = "".join(f"(?=.*{QRegularExpression.escape(w)})" for w in typed_words(text))
    return QRegularExpression(pattern, QRegularExpression.PatternOption.DotMatchesEverythingOption)


# -- the shared look ---------------------------------------------------------------------------
def set_up_rows(view: QTableView) -> None:
    """The look both tables share: whole rows, no grid, pixel scrolling, fixed row heights
    without a row header, and column headers the trader can move (left-aligned, none
    stretched)."""
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setCornerButtonEnabled(False)
    if not isinstance(view.horizontalHeader(), SortHeader):
        sorting = SortHeader(view)
        sorting.setSectionsClickable(True)
        view.setHorizontalHeader(sorting)  # ▲ ascending, ▼ descending (sort_header.py)
    vertical = view.verticalHeader()
    vertical.setVisible(False)
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    fit_row_height(view)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionsMovable(True)
    header.setStretchLastSection(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


def fit_row_height(view: QTableView) -> None:
    """Rows as tall as the view's text needs (again when the text size changes)."""
    view.verticalHeader().setDefaultSectionSize(max(view.fontMetrics().height() + 10, 24))


# -- view ---------------------------------------------------------------------------------------
class OrdersView(QTableView):
    """The table. Emits ``cancel_clicked(Order)`` when a row's Cancel button is clicked."""

    cancel_clicked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orders")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        set_up_rows(self)  # (its header first: sorting connects to the header it finds)
        self.setSortingEnabled(True)
        self.setMouseTracking(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.horizontalHeader().setMinimumSectionSize(28)
        self.button_width = cancel_button_width(self.font())
        self.columns = ColumnLayout(self, self.button_width)
        # the Age cells count on by themselves: their column is repainted once a second
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._repaint_ages)
        self._clock.start()
        self._painted: dict[int, PaintedRow] = {}
        # the viewport painted in one pass (table_paint.py); False: cell by cell by QTableView
        # through the same delegates, to the same pixels (slower: a Python call per cell)
        self.one_pass = True
        # the viewport paints all of itself (its ground too, table_paint.py): what lies under
        # it is not painted first on every repaint
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._digit = ("", 8)  # the font it was measured in, the width of a digit
        self._painter = RowPainter(self, self._painted_row)
        self.setItemDelegate(self._painter)
        self._delegate = CancelButtonDelegate(self, self._painted_row, self)
        self.setItemDelegateForColumn(Column.CANCEL, self._delegate)
        self._hover: QPersistentModelIndex | None = None
        self._pressed: QPersistentModelIndex | None = None
        self._menu_actions: list[QAction | None] = []
        # the rows hold still while the trader aims (row_hold.py)
        self.hold = RowHold(self)
        self.hold.held_changed.connect(self._hold_changed)
        self.hold.apply_requested.connect(self.apply_waiting)
        self._held_model: OrdersModel | None = None

    # -- holding still while the trader aims ----------------------------------------------------
    def setModel(self, model: QAbstractItemModel | None) -> None:
        old = self._held_model
        if old is not None and isValid(old):
            old.waiting_changed.disconnect(self._show_waiting)
            old.hold_rows(False)  # no longer this view's to hold
        super().setModel(model)
        self._held_model = self._orders_model()
        if self._held_model is not None:
            self._held_model.waiting_changed.connect(self._show_waiting)
            self._held_model.hold_rows(self.hold.held)
        self._show_waiting()

    def _orders_model(self) -> OrdersModel | None:
        model = self.model()
        source = model.sourceModel() if isinstance(model, QSortFilterProxyModel) else model
        return source if isinstance(source, OrdersModel) else None

    def _hold_changed(self, held: bool) -> None:
        proxy, source = self.model(), self._held_model
        if held:
            if isinstance(proxy, OrdersProxyModel):
                proxy.hold_rows(True)
            if source is not None:
                source.hold_rows(True)
        else:
            if source is not None:
                source.hold_rows(False)  # what waited is shown
            if isinstance(proxy, OrdersProxyModel):
                proxy.hold_rows(False)

    def apply_waiting(self) -> None:
        """Show what waits while the rows hold still (the marker, F5, a rested pointer); the
        rows that came in or moved light up for a moment."""
        source, proxy = self._held_model, self.model()
        if source is not None:
            source.apply_waiting(highlight=True)
        if isinstance(proxy, OrdersProxyModel):
            proxy.refilter()

    def _show_waiting(self) -> None:
        source, proxy = self._held_model, self.model()
        if source is None:
            self.hold.show_waiting("")
            return
        held = source.waiting()
        new, closed, moved = held.counts()
        if isinstance(proxy, OrdersProxyModel) and proxy.filter_text.split():
            # what the filter shows, not what the store has
            new = sum(1 for order in held.new.values() if proxy.accepts(order))
            rows = (source.row_of(key) for key in held.gone)
            closed = sum(1 for row in rows
                         if row is not None and proxy.mapFromSource(source.index(row, 0)).isValid())
        self.hold.show_waiting(waiting_words(new, closed, moved))

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        # the rows in view, prepared once for this paint (texts made once per order change)
        moved = self._prepare_rows()
        try:
            if self._painted and self.one_pass and can_paint_in_one_pass(self):
                paint_in_one_pass(self, event.rect(), self._painted, self._painter,
                                  self._delegate, self._row_of(self._hover),
                                  self._row_of(self._pressed))
            else:
                paint_ground(self, event.rect())
                super().paintEvent(event)
        finally:
            self._painted.clear()
        if moved and not event.rect().contains(self.viewport().rect()):
            # the numbers line up among all the rows in view: those this paint left alone
            # must follow (next frame)
            self.viewport().update()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if dy:
            # rows came into view and others left: the numbers may line up elsewhere, so all
            # of the rows repaint, not only the strip the scroll uncovered
            self.viewport().update()

    @staticmethod
    def _row_of(index: QPersistentModelIndex | None) -> int:
        return index.row() if index is not None and index.isValid() else -1

    def _prepare_rows(self) -> bool:
        """Prepare the rows in view; True if their numbers line up elsewhere than before."""
        painted = self._painted
        painted.clear()
        source = self._held_model
        proxy = self.model()
        if source is None or proxy is None:
            return False
        count = proxy.rowCount()
        if not count:
            return False
        first = max(self.rowAt(0), 0)
        last = self.rowAt(self.viewport().height() - 1)
        if last < 0:
            last = count - 1
        for row in range(first, last + 1):
            source_row = self._source_row(row)
            if 0 <= source_row < source.rowCount():
                painted[row] = source.painted_row(source_row)
        return self._painter.prepare(list(painted.values()), self._digit_width())

    def _source_row(self, row: int) -> int:
        proxy = self.model()
        if isinstance(proxy, QSortFilterProxyModel):
            return proxy.mapToSource(proxy.index(row, 0)).row()
        return row

    def lay_out_now(self) -> None:
        """Lay the rows out now if a change asked for it (Qt would do it on its next turn, or
        while the whole view repaints, and then ask for one more repaint)."""
        self.executeDelayedItemsLayout()

    def _repaint_ages(self) -> None:
        header = self.horizontalHeader()
        if header.isSectionHidden(Column.AGE) or not self.isVisible():
            return
        left = header.sectionViewportPosition(Column.AGE)
        width = header.sectionSize(Column.AGE)
        if left + width > 0 and left < self.viewport().width():
            self.viewport().update(QRect(left, 0, width, self.viewport().height()))

    def _digit_width(self) -> int:
        key = self.font().key()
        if self._digit[0] != key:  # measured once per font, not per paint
            self._digit = (key, QFontMetrics(theme.mono_font(self.font())).horizontalAdvance("0"))
        return self._digit[1]

    def _painted_row(self, row: int) -> PaintedRow | None:
        """The prepared row ``row`` of the view (prepared now if the paint did not)."""
        found = self._painted.get(row)
        if found is not None:
            return found
        source = self._held_model
        if source is None or self.model() is None:
            return None
        row = self._source_row(row)
        return source.painted_row(row) if 0 <= row < source.rowCount() else None

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # the text size changed (View menu)
            fit_row_height(self)
            self.button_width = cancel_button_width(self.font())
            if self._held_model is not None:
                self._held_model.refresh_fonts()
            self.columns.refont(self.button_width)

    # -- column layout (column_layout.py) ------------------------------------------------------
    def apply_default_widths(self) -> None:
        """Widths that fit typical content with the app's font; the default columns shown, as
        many as fit (the trader can change both)."""
        self.columns.apply_defaults()

    @property
    def header_menu(self) -> QMenu | None:
        return self.columns.header_menu

    def viewportEvent(self, event: QEvent) -> bool:
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:  # the window, or a scroll bar came or went
            self.columns.fit()
        return handled

    # -- cancel button hit-testing ---------------------------------------------------------------
    def cancel_button_rect(self, index: QModelIndex) -> QRect:
        """The button of ``index``'s row in viewport coordinates (empty if not visible)."""
        cell = self.visualRect(index.siblingAtColumn(Column.CANCEL))
        return button_rect(cell, self.button_width) if cell.isValid() else QRect()

    def _button_at(self, pos: QPoint) -> QModelIndex:
        index = self.indexAt(pos)
        if (
            index.isValid()
            and index.column() == Column.CANCEL
            and self.cancel_button_rect(index).contains(pos)
        ):
            return index
        return QModelIndex()

    def is_hovered(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        return self._hover is not None and self._hover.isValid() and self._hover.row() == index.row()

    def is_pressed(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        return (
            self._pressed is not None
            and self._pressed.isValid()
            and self._pressed.row() == index.row()
        )

    def _repaint_row_button(self, index: QPersistentModelIndex | None) -> None:
        if index is not None and index.isValid():
            # a persistent index converts to a plain one (PySide6's stubs lack that overload)
            self.viewport().update(self.visualRect(QModelIndex(index)))  # type: ignore[call-overload]

    def _set_hover(self, index: QModelIndex) -> None:
        new = QPersistentModelIndex(index) if index.isValid() else None
        if new == self._hover:
            return
        old, self._hover = self._hover, new
        self._repaint_row_button(old)
        self._repaint_row_button(new)
        if new is not None and not index.data(PENDING_ROLE) and index.data(CLOSED_ROLE) is None:
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.viewport().unsetCursor()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self._button_at(event.position().toPoint())
        if index.isValid() and event.button() == Qt.MouseButton.LeftButton:
            # A button press neither selects nor starts a drag-selection.
            self._pressed = QPersistentModelIndex(index)
            self._repaint_row_button(self._pressed)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        # Qt turns the second of two quick clicks into a double click. On a button it is a press
        # like any other: the rows move up as orders leave, so the second click may be on the next
        # order. The same order is not cancelled twice: its row is pending by now, and the release
        # ignores pending rows.
        if self._button_at(event.position().toPoint()).isValid():
            self.mousePressEvent(event)
            return
        super().mouseDoubleClickEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pressed is not None:
            pressed, self._pressed = self._pressed, None
            self._repaint_row_button(pressed)
            index = self._button_at(event.position().toPoint())
            if (
                event.button() == Qt.MouseButton.LeftButton
                and index.isValid()
                and pressed.isValid()
                and index.row() == pressed.row()
                and not index.data(PENDING_ROLE)
                and index.data(CLOSED_ROLE) is None  # its order closed: nothing to cancel
            ):
                order = index.data(ORDER_ROLE)
                if order is not None:
                    self.cancel_clicked.emit(order)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._set_hover(self._button_at(event.position().toPoint()))
        if self._pressed is None:
            super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._set_hover(QModelIndex())
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self.selectionModel() is not None:
            self.selectionModel().clearSelection()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyboardSearch(self, search: str) -> None:
        """No find-as-you-type: letters typed in the table would jump the current row to a
        match (a Delete then cancels that order); the filter box (Ctrl+F) is the way to find."""

    def copy_selection(self) -> str:
        """Copy the selected rows (visible columns, as shown; numbers plain, without thousands
        separators) as tab-separated text."""
        header = self.horizontalHeader()
        columns = [
            header.logicalIndex(v) for v in range(header.count())
            if not header.isSectionHidden(header.logicalIndex(v))
            and header.logicalIndex(v) != Column.CANCEL
        ]
        model = self.model()
        selection = self.selectionModel()
        if model is None or selection is None:
            return ""
        rows = sorted(i.row() for i in selection.selectedRows())
        lines = ["\t".join(str(model.headerData(c, Qt.Orientation.Horizontal)) for c in columns)]
        for r in rows:
            order = model.index(r, 0).data(ORDER_ROLE)
            lines.append("\t".join(
                plain_cell(order, c) if c in PLAIN_COPIED and isinstance(order, Order)
                else str(model.index(r, c).data() or "") for c in columns))
        text = "\n".join(lines) if rows else ""
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    # -- reading the selection -------------------------------------------------------------------
    def is_pending(self, order: Order) -> bool:
        """Whether the row of ``order`` shows a cancel in flight."""
        model = self.model()
        source = model.sourceModel() if isinstance(model, QSortFilterProxyModel) else model
        return isinstance(source, OrdersModel) and source.is_pending(order.key)

    def open_counts(self) -> tuple[int, int]:
        """(open orders the table shows, open orders in all). While the rows hold still these
        are not the row counts: a struck row's order has closed, and new orders wait unseen."""
        model = self.model()
        shown = model.rowCount() if model is not None else 0
        source = model.sourceModel() if isinstance(model, QSortFilterProxyModel) else model
        if not isinstance(source, OrdersModel):
            return shown, shown
        held = source.waiting()
        total = source.rowCount() + len(held.new) - len(held.gone)
        if isinstance(model, QSortFilterProxyModel):
            for key in held.gone:
                row = source.row_of(key)
                if row is not None and model.mapFromSource(source.index(row, 0)).isValid():
                    shown -= 1
        return shown, total

    def current_order(self) -> Order | None:
        index = self.currentIndex()
        if not index.isValid():
            return None
        selection = self.selectionModel()
        if selection is not None and not selection.isRowSelected(index.row(), index.parent()):
            return None  # the focus frame alone is not a choice
        if index.data(CLOSED_ROLE) is not None:
            return None  # a row kept in view after its order closed: nothing to act on
        order = index.data(ORDER_ROLE)
        return order if isinstance(order, Order) else None

    def selected_orders(self) -> list[Order]:
        """The orders of the selected rows, in table order (not the rows whose order closed)."""
        selection = self.selectionModel()
        if selection is None:
            return []
        rows = sorted(selection.selectedRows(), key=lambda i: i.row())
        orders = [i.data(ORDER_ROLE) for i in rows if i.data(CLOSED_ROLE) is None]
        return [o for o in orders if isinstance(o, Order)]

    # -- context menu ---------------------------------------------------------------------------
    def set_menu_actions(self, actions: list[QAction | None]) -> None:
        """The context menu's entries (None is a separator), shared with the toolbar and menu."""
        self._menu_actions = list(actions)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.indexAt(event.pos())
        selection = self.selectionModel()
        if index.isValid() and selection is not None:
            flags = QItemSelectionModel.SelectionFlag.Rows
            if selection.isRowSelected(index.row(), index.parent()):
                flags |= QItemSelectionModel.SelectionFlag.NoUpdate
            else:
                flags |= QItemSelectionModel.SelectionFlag.ClearAndSelect
            # makes the row current, which refreshes the actions for it before the menu shows
            selection.setCurrentIndex(index, flags)
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for action in self._menu_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        # popup(), not exec(): a nested event loop would stall the asyncio loop (qasync)
        menu.popup(event.globalPos())
        if menu.isVisible():  # (an empty menu is not shown)
            self.hold.hold_while_open(menu)  # the menu acts on these rows: they stay put
        self.context_menu = menu
