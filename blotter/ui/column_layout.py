"""Which columns the orders table shows at the window's width, and how wide each is.

The Cancel column stays at the right edge, always in view: a button at the left edge would sit
where a trader clicks to pick a row, and a misplaced click there cancels an order. To keep it
in view the table drops whole columns when the window is too narrow for all it would show, least
needed first (``DROP_ORDER``); the columns that say which order a row is (Symbol, Side, Price,
Remaining, Amount) go last, and Status takes the width that is left, never less than a trigger
price needs. A column dropped for want of room comes back when the window widens; a column the
trader hid stays hidden (the header's menu and View → Columns say which is which).

Squeezing instead of dropping was tried: at 1024 px every squeezable column became an
unreadable stub ("b…", "Li…") and Cancel was still half cut.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QFont, QFontMetrics
from PySide6.QtWidgets import QMenu, QTableView

from blotter.ui import theme
from blotter.ui.order_cells import HEADERS, Column
from blotter.ui.order_delegates import CELL_PAD

# least needed first: dropped in this order when the window is too narrow for the rest
DROP_ORDER: tuple[Column, ...] = (
    Column.CLIENT_ID, Column.GROUP, Column.TIF, Column.FLAGS, Column.NOTIONAL, Column.AVG_PRICE,
    Column.AGE, Column.VENUE, Column.ORDER_ID, Column.TRIGGER, Column.CREATED, Column.FILLED,
    Column.TYPE, Column.ACCOUNT, Column.AMOUNT, Column.REMAINING, Column.PRICE, Column.SIDE,
    Column.SYMBOL,
)
ELASTIC = Column.STATUS  # takes the width the other columns leave
HIDDEN_BY_DEFAULT = frozenset({Column.CLIENT_ID})
NO_ROOM = "no room"


def default_widths(view: QTableView, button_width: int) -> dict[Column, int]:
    """Widths that fit typical content with the view's font (the trader can change them)."""
    metrics = view.fontMetrics()
    mono = QFontMetrics(theme.mono_font(view.font()))
    bold = QFont(view.horizontalHeader().font())
    bold.setWeight(QFont.Weight.DemiBold)
    header = QFontMetrics(bold)
    pad = 2 * CELL_PAD + 4

    def text(sample: str) -> int:
        return metrics.horizontalAdvance(sample) + pad

    def digits(sample: str) -> int:
        return mono.horizontalAdvance(sample) + pad

    widths = {
        Column.VENUE: text("Bitfinex"),
        Column.ACCOUNT: text("acme/Acme Margin"),
        Column.SYMBOL: text("BTC-27MAR26-100000-C"),
        Column.SIDE: text("Sell"),
        Column.TYPE: text("EXCHANGE LIMIT"),
        Column.PRICE: digits("123,456.78"),
        Column.TRIGGER: digits("123,456.78"),
        Column.AMOUNT: digits("12,345.678"),
        Column.REMAINING: digits("12,345.678"),
        Column.FILLED: digits("0.014999 (33%)"),
        Column.AVG_PRICE: digits("123,456.78"),
        Column.NOTIONAL: digits("12,345.67 USDT"),
        Column.STATUS: text("Untriggered · trigger 101,572.62"),
        Column.TIF: text("PostOnly"),
        Column.FLAGS: text("post · reduce"),
        Column.GROUP: text("Group"),
        Column.CLIENT_ID: text("1795227360000"),
        Column.ORDER_ID: text("190077…767093"),  # ids elide in the middle
        Column.CREATED: digits("Dec 05 00:00"),
        Column.AGE: digits("59m"),
        Column.CANCEL: button_width + 14,
    }
    for column in Column:
        if column is not Column.CANCEL:
            title = HEADERS[column]
            widths[column] = max(widths[column], header.horizontalAdvance(title) + 34)
    return widths


def columns_to_drop(
    shown: Iterable[Column], widths: dict[Column, int], available: int, elastic_min: int
) -> set[Column]:
    """The columns of ``shown`` to leave out so that the rest fit in ``available`` pixels
    with the elastic column at ``elastic_min`` at least: the least needed first, no more than
    needed. Cancel and the elastic column are never left out."""
    shown = list(shown)
    need = sum(widths[c] for c in shown if c is not ELASTIC)
    if ELASTIC in shown:
        need += elastic_min
    dropped: set[Column] = set()
    for column in DROP_ORDER:
        if need <= available:
            break
        if column in shown:
            dropped.add(column)
            need -= widths[column]
    return dropped


class ColumnLayout(QObject):
    """Keeps the orders table's columns fitted to its width (see the module's words)."""

    def __init__(self, view: QTableView, button_width: int) -> None:
        super().__init__(view)
        self._view = view
        self._button_width = button_width
        self._widths: dict[Column, int] = {}
        self._defaults: dict[Column, int] = {}  # at the text size the widths were set in
        self._hidden: set[Column] = set(HIDDEN_BY_DEFAULT)  # by the trader
        self._dropped: set[Column] = set()  # for want of room
        self._fitting = False
        self.elastic_min = 130
        header = view.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        header.sectionResized.connect(self._section_resized)
        self.header_menu: QMenu | None = None

    # -- what the trader chose ---------------------------------------------------------------
    def hidden(self) -> set[Column]:
        """The columns the trader hid (not those left out for want of room)."""
        return set(self._hidden)

    def dropped(self) -> set[Column]:
        """The columns left out for want of room, at the table's width now."""
        return set(self._dropped)

    def set_hidden(self, columns: Iterable[Column]) -> None:
        self._hidden = {c for c in columns if c is not Column.CANCEL and c is not ELASTIC}
        self.fit()

    def show_column(self, column: Column, shown: bool) -> None:
        if shown:
            self._hidden.discard(column)
        elif column is not Column.CANCEL:
            self._hidden.add(column)
        self.fit()

    def apply_defaults(self) -> None:
        """Every column at its default width, the default ones shown."""
        self._widths = default_widths(self._view, self._button_width)
        self._defaults = dict(self._widths)
        self.elastic_min = self._widths[ELASTIC]
        self._hidden = set(HIDDEN_BY_DEFAULT)
        self.fit()

    def refont(self, button_width: int) -> None:
        """The text size changed: each width scales as its default does (a column the trader
        made wider stays that much wider), and what fits is worked out again."""
        self._button_width = button_width
        if not self._widths:
            return
        new = default_widths(self._view, button_width)
        for column, width in self._widths.items():
            before = self._defaults.get(column) or new[column]
            self._widths[column] = max(round(width * new[column] / before), 16)
        self._widths[Column.CANCEL] = new[Column.CANCEL]
        self._defaults = new
        self.elastic_min = new[ELASTIC]
        self.fit()

    def take_widths(self) -> None:
        """Take the widths the header has now as the trader's (after a saved layout came back);
        hidden sections keep the width they had."""
        if not self._widths:
            self._widths = default_widths(self._view, self._button_width)
            self._defaults = dict(self._widths)
            self.elastic_min = self._widths[ELASTIC]
        header = self._view.horizontalHeader()
        for column in Column:
            if column is not ELASTIC and not header.isSectionHidden(column):
                size = header.sectionSize(column)
                if size > 0:
                    self._widths[column] = size

    # -- fitting -----------------------------------------------------------------------------
    def fit(self) -> None:
        """Show what fits, drop what does not (least needed first), give Status the rest."""
        view = self._view
        header = view.horizontalHeader()
        if not self._widths:
            return
        shown = [Column(header.logicalIndex(v)) for v in range(header.count())]
        shown = [c for c in shown if c not in self._hidden]
        available = view.viewport().width()
        self._dropped = columns_to_drop(shown, self._widths, available, self.elastic_min)
        self._fitting = True
        try:
            others = 0
            for column in Column:
                hide = column in self._hidden or column in self._dropped
                if header.isSectionHidden(column) != hide:
                    header.setSectionHidden(column, hide)
                if not hide and column is not ELASTIC:
                    if header.sectionSize(column) != self._widths[column]:
                        header.resizeSection(column, self._widths[column])
                    others += self._widths[column]
            if ELASTIC not in self._hidden:
                header.resizeSection(ELASTIC, max(self.elastic_min, available - others))
        finally:
            self._fitting = False

    def _section_resized(self, logical: int, old: int, new: int) -> None:
        if self._fitting or new <= 0 or not self._widths:
            return
        column = Column(logical)
        if column is ELASTIC:
            return
        self._widths[column] = new  # the trader's width, kept when the column comes back
        self.fit()

    # -- the menus ---------------------------------------------------------------------------
    def fill_menu(self, menu: QMenu) -> None:
        """One check mark per column (Cancel is always there); a column left out for want of
        room says so."""
        for column in Column:
            if column is Column.CANCEL:
                continue
            title = HEADERS[column]
            if column in self._dropped:
                title = f"{title} ({NO_ROOM})"
            action = QAction(title, menu)
            action.setCheckable(True)
            action.setChecked(column not in self._hidden)
            action.setEnabled(column is not ELASTIC)
            if column in self._dropped:
                action.setToolTip("Shown when the window is wide enough, or hide another column")
            action.toggled.connect(lambda on, c=column: self.show_column(c, on))
            menu.addAction(action)
        menu.setToolTipsVisible(True)

    def chooser(self, parent: QMenu) -> QMenu:
        """A "Columns" submenu of ``parent`` with the header menu's items, filled afresh each
        time it opens (what has room changes with the window's width)."""
        menu = parent.addMenu("Columns")

        def fill() -> None:
            menu.clear()
            self.fill_menu(menu)

        menu.aboutToShow.connect(fill)
        fill()
        return menu

    def _header_menu(self, pos: QPoint) -> None:
        header = self._view.horizontalHeader()
        menu = QMenu(self._view)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.fill_menu(menu)
        menu.popup(header.mapToGlobal(pos))
        self.header_menu = menu
