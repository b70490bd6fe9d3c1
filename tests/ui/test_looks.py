"""How the window looks and feels, as the trader meets it with the app's own style: the
toolbar's overflow button, Ctrl+F, the sort arrows, the View menu's column chooser, the
themes and the font size."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QHeaderView, QToolButton

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import Snapshot
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import Column
from blotter.ui.style import apply_style
from tests.ui.book import make_order
from tests.ui.conftest import close_window, select_row


@pytest.fixture
def styled(qapp):
    """The app's own look (Fusion, palette, stylesheet) for the test, then Qt's plain one."""
    palette, font, sheet = qapp.palette(), qapp.font(), qapp.styleSheet()
    apply_style(qapp)
    yield qapp
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    qapp.setFont(font)


@pytest.fixture
def window(styled, qtbot, tmp_path):
    store = OrderStore()
    engine = Engine(store, NoticeBus(), StateBus())
    for n in range(6):
        order = make_order(n, price=str(100 + n), account=f"acct-{n}")
        store.apply(Snapshot(order.key.account_key, (order,)))
    store.flush()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(engine, settings=settings)
    win.resize(1440, 760)
    win.show()
    QApplication.processEvents()
    assert win.proxy.rowCount() == 6
    yield win
    close_window(win)


def ink(image: QImage, background_lightness: int) -> int:
    """How many pixels of ``image`` stand out from a ground of ``background_lightness``."""
    return sum(
        1 for x in range(image.width()) for y in range(image.height())
        if abs(image.pixelColor(x, y).lightness() - background_lightness) > 60
    )


def test_a_narrow_window_shows_a_visible_overflow_arrow_with_the_hidden_actions(window):
    window.resize(800, 700)
    QApplication.processEvents()
    button = window.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
    assert button is not None and button.isVisible()
    right = button.mapTo(window, button.rect().topRight()).x()
    assert right <= window.width()  # inside the window, not cut off
    ground = window.toolbar.palette().color(window.toolbar.backgroundRole()).lightness()
    assert ink(button.grab().toImage(), ground) >= 6  # an arrow is drawn, not a blank
    hidden = [a for a in window.toolbar.actions()
              if (w := window.toolbar.widgetForAction(a)) is not None and not w.isVisible()]
    assert window.log_action in hidden
    # the filter is beside the tabs, never folded into the overflow
    assert window.filter_edit.isVisible()
    left = window.filter_edit.mapTo(window, window.filter_edit.rect().topLeft()).x()
    assert left + window.filter_edit.width() <= window.width()


def test_letters_typed_in_the_table_do_not_move_the_row_and_ctrl_f_finds(window, qtbot):
    select_row(window.view, 0)
    view = window.view
    view.setCurrentIndex(view.model().index(0, Column.ACCOUNT))  # the cell the keys go to
    window.view.setFocus()
    chosen = window.view.current_order()
    assert chosen is not None
    # find-as-you-type would jump to the row of account acct-3
    qtbot.keyClicks(window.view, "acct-3")
    assert window.view.current_order() == chosen
    qtbot.keyClick(window.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.filter_edit.hasFocus()
    qtbot.keyClicks(window.filter_edit, "acct-3")
    assert window.filter_edit.text() == "acct-3"
    assert window.proxy.rowCount() == 1


def arrow_points_up(header: QHeaderView, section: int) -> bool:
    """Whether the sort arrow painted in ``section`` is ▲ (its widest row at the bottom)."""
    image = header.grab().toImage()
    left = header.sectionViewportPosition(section)
    width = header.sectionSize(section)
    ground = image.pixelColor(left + width - 3, 2).lightness()
    title = header.fontMetrics().horizontalAdvance(
        str(header.model().headerData(section, Qt.Orientation.Horizontal))) + 20
    rows = [
        sum(1 for x in range(left + title, left + width - 3)
            if abs(image.pixelColor(x, y).lightness() - ground) > 40)
        for y in range(2, image.height() - 2)
    ]
    inked = [n for n in rows if n]
    assert len(inked) >= 3, rows  # an arrow is drawn
    return inked[-1] > inked[0]


@pytest.mark.parametrize("order, up", [(Qt.SortOrder.AscendingOrder, True),
                                       (Qt.SortOrder.DescendingOrder, False)])
def test_sort_arrows_point_up_for_ascending_and_down_for_descending(window, order, up):
    header = window.view.horizontalHeader()
    window.view.sortByColumn(Column.SYMBOL, order)
    QApplication.processEvents()
    assert header.sortIndicatorOrder() == order
    assert arrow_points_up(header, Column.SYMBOL) is up
    closed = window.closed_view.horizontalHeader()
    window.tabs.setCurrentWidget(window.closed_view)
    window.closed_view.sortByColumn(closed.logicalIndex(1), order)
    QApplication.processEvents()
    assert arrow_points_up(closed, closed.logicalIndex(1)) is up
