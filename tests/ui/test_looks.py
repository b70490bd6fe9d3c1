"""How the window looks and feels, as the trader meets it with the app's own style: the
toolbar's overflow button, Ctrl+F, the sort arrows, the View menu's column chooser, the
themes and the font size."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QItemSelectionModel, QRect, QSettings, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPalette
from PySide6.QtWidgets import QApplication, QHeaderView, QToolButton

from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import Side, Snapshot
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.ui import theme
from blotter.ui.main_window import MainWindow
from blotter.ui.order_cells import HEADERS
from blotter.ui.orders_model import Column
from blotter.ui.resources import read_text
from blotter.ui.style import apply_scheme, apply_style
from tests.ui.book import make_order
from tests.ui.conftest import close_window, select_row


@pytest.fixture
def styled(qapp):
    """The app's own look (Fusion, palette, stylesheet) for the test, then Qt's plain one."""
    palette, font, sheet = qapp.palette(), qapp.font(), qapp.styleSheet()
    apply_style(qapp)
    yield qapp
    apply_scheme(qapp, "dark")
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    qapp.setFont(font)


@pytest.fixture
def window(styled, qtbot, tmp_path):
    store = OrderStore()
    engine = Engine(store, NoticeBus(), StateBus())
    for n in range(6):
        order = make_order(n, price=str(100 + n), account=f"acct-{n}",
                           side=Side.SELL if n % 2 else Side.BUY)
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
    view.selectionModel().setCurrentIndex(  # the cell the keys go to, the row kept selected
        view.model().index(0, Column.ACCOUNT), QItemSelectionModel.SelectionFlag.NoUpdate)
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


# -- the column chooser in the View menu -------------------------------------------------------
def test_the_view_menu_chooses_columns_as_the_header_menu_does(window):
    window.resize(1024, 700)
    QApplication.processEvents()
    menu = window.columns_menu
    assert menu in [a.menu() for a in window.view_menu.actions() if a.menu() is not None]
    menu.aboutToShow.emit()
    items = {a.text(): a for a in menu.actions()}
    assert all(a.isCheckable() for a in items.values())
    dropped = window.view.columns.dropped()
    assert dropped  # 1024 px has no room for every column
    for column in dropped:
        assert items[f"{HEADERS[column]} (no room)"].isChecked()
    assert not items[HEADERS[Column.CLIENT_ID]].isChecked()  # hidden by default
    header = window.view.horizontalHeader()
    assert not header.isSectionHidden(Column.ACCOUNT)
    items[HEADERS[Column.ACCOUNT]].trigger()  # the trader hides Account
    assert header.isSectionHidden(Column.ACCOUNT)
    assert Column.ACCOUNT in window.view.columns.hidden()
    menu.aboutToShow.emit()  # filled afresh: Account unchecked now
    assert not {a.text(): a for a in menu.actions()}[HEADERS[Column.ACCOUNT]].isChecked()


# -- themes ------------------------------------------------------------------------------------
def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return (0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF())
                + 0.0722 * channel(c.blueF()))
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_each_scheme_has_text_that_reads_on_its_ground(scheme):
    pairs = theme.colour_pairs()
    light = scheme == "light"

    def colour(name: str) -> QColor:
        return pairs[name][light]

    for ground in ("BASE", "ALT_BASE"):
        assert contrast(colour("TEXT"), colour(ground)) >= 7
        for name in ("BUY", "SELL", "DIM_TEXT", "WARNING", "ACCENT", "BUTTON_TEXT"):
            assert contrast(colour(name), colour(ground)) >= 4.5, (name, ground)
        for name in ("level INFO", "level SUCCESS", "level WARNING", "level ERROR"):
            assert contrast(colour(name), colour(ground)) >= 4.5, name
        # unverified rows are quieter, yet read; the hatch and the highlight stay a ground
        for name in ("UNVERIFIED_TEXT", "UNVERIFIED_BUY", "UNVERIFIED_SELL", "FAINT_TEXT"):
            assert contrast(colour(name), colour(ground)) >= 2.5, name
        assert contrast(colour("TEXT"), colour("HIGHLIGHT")) >= 7
        assert contrast(colour("UNVERIFIED_HATCH"), colour(ground)) < 1.6
    # a status-bar light is seen on the bar
    for state in ("LIVE", "FAILED", "RECONNECTING", "STALE", "AUTHENTICATING"):
        assert contrast(colour(f"state {state}"), colour("WINDOW")) >= 2.2, state
    assert colour("BUY") != colour("SELL")


def test_every_stylesheet_and_icon_colour_has_a_light_counterpart():
    sheet = read_text("style.qss")
    colours = set(re.findall(r"#[0-9a-fA-F]{6}", sheet.lower()))
    assert colours and colours <= set(theme.QSS_LIGHT), colours - set(theme.QSS_LIGHT)
    light = theme.in_scheme(sheet, "light")
    assert not set(re.findall(r"#[0-9a-fA-F]{6}", light.lower())) & (
        colours - set(theme.QSS_LIGHT.values()))
    inks = {ink for name in ("search", "log", "more", "cancel", "buys", "sells", "cancel-all")
            for ink in re.findall(r"#[0-9a-fA-F]{6}", read_text(f"icons/{name}.svg").lower())}
    assert inks <= set(theme.ICON_LIGHT), inks - set(theme.ICON_LIGHT)


def mean_lightness(image: QImage) -> float:
    step = 7
    values = [image.pixelColor(x, y).lightness()
              for x in range(0, image.width(), step) for y in range(0, image.height(), step)]
    return sum(values) / len(values)


def has_colour(image: QImage, colour: QColor) -> bool:
    """Whether text in ``colour`` is painted in ``image`` (anti-aliased: its core pixels)."""
    return any(
        abs(image.pixelColor(x, y).red() - colour.red()) < 10
        and abs(image.pixelColor(x, y).green() - colour.green()) < 10
        and abs(image.pixelColor(x, y).blue() - colour.blue()) < 10
        for x in range(image.width()) for y in range(image.height())
    )


def sell_colour(window: MainWindow) -> QColor:
    """The colour the table paints a sell's Side in."""
    model = window.model
    row = next(r for r in range(model.rowCount()) if model.order_at(r).side is Side.SELL)
    colour = model.painted_row(row)[2][Column.SIDE]
    assert colour is not None
    return colour


def side_cells(window: MainWindow) -> QImage:
    """The Side column of the rows in view, as painted."""
    view = window.view
    header = view.horizontalHeader()
    left, width = header.sectionViewportPosition(Column.SIDE), header.sectionSize(Column.SIDE)
    rows = view.verticalHeader().length()
    return view.viewport().grab(QRect(left, 0, width, rows)).toImage()


def test_view_theme_switches_the_painted_rows_and_is_remembered(window, qtbot, tmp_path):
    looks = window.looks
    assert [a.text() for a in looks.theme_menu.actions()] == [
        "Follow the Desktop", "Light", "Dark"]
    assert looks.theme_actions["system"].isChecked()
    window.engine.states.publish(AccountState("bitfinex", "acct-1", VenueState.LIVE))
    window.engine.notices.publish(Notice("bitfinex", "acct-1", Level.ERROR, "Refused"))
    QApplication.processEvents()
    bar = window.status_bar
    assert [i.dot.colour for i in bar.indicators()] == [theme.STATE_COLOURS[VenueState.LIVE]]
    assert theme.LEVEL_COLOURS[Level.ERROR].name() in bar.notice_label.styleSheet()
    toolbar_height = window.toolbar.height()
    dark = window.view.viewport().grab().toImage()
    dark_sides = side_cells(window)
    dark_sell = QColor(sell_colour(window))
    looks.theme_actions["light"].trigger()
    assert looks.theme_actions["light"].isChecked() and theme.SCHEME == "light"
    QApplication.processEvents()
    light = window.view.viewport().grab().toImage()
    assert mean_lightness(dark) < 80
    assert mean_lightness(light) > 200
    # the rows' side colours switch too: a sell reads in the light scheme's red
    light_sides = side_cells(window)
    assert has_colour(dark_sides, dark_sell) and not has_colour(light_sides, dark_sell)
    light_sell = sell_colour(window)
    assert light_sell in (theme.SELL, theme.UNVERIFIED_SELL)  # (no stream vouches for these)
    assert has_colour(light_sides, light_sell)
    assert window.toolbar.height() == toolbar_height  # restyled, not reshaped
    # the status bar's lights and the notice's colour too
    assert [i.dot.colour for i in bar.indicators()] == [theme.STATE_COLOURS[VenueState.LIVE]]
    assert theme.STATE_COLOURS[VenueState.LIVE] == theme.colour_pairs()["state LIVE"][1]
    assert theme.LEVEL_COLOURS[Level.ERROR].name() in bar.notice_label.styleSheet()
    assert contrast(window.view.palette().color(QPalette.ColorRole.Base), theme.TEXT) >= 7
    # the toolbar's icons are drawn in the light scheme's ink
    icon_image = window.log_action.icon().pixmap(16, 16).toImage()
    inked = [icon_image.pixelColor(x, y) for x in range(16) for y in range(16)
             if icon_image.pixelColor(x, y).alpha() > 200]
    assert inked and max(c.lightness() for c in inked) < 128
    # remembered: the next window comes up light
    looks.set_theme("dark")
    assert theme.SCHEME == "dark"
    looks.set_theme("light")
    again = MainWindow(window.engine, settings=window._settings_store())
    qtbot.addWidget(again)
    assert again.looks.choice == "light" and again.looks.theme_actions["light"].isChecked()


def test_blotter_theme_in_the_environment_wins_for_the_run(styled, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("BLOTTER_THEME", "light")
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(engine, settings=settings)
    qtbot.addWidget(win)
    assert theme.SCHEME == "light" and win.looks.theme_actions["light"].isChecked()
    assert settings.value("looks/theme") is None  # not saved as the trader's choice


# -- text size ---------------------------------------------------------------------------------
def test_text_size_keys_grow_the_rows_columns_and_cancel_button_and_are_remembered(
    window, qtbot
):
    view = window.view
    view.setFocus()
    header = view.horizontalHeader()
    before = (view.verticalHeader().defaultSectionSize(), header.sectionSize(Column.SYMBOL),
              header.sectionSize(Column.CANCEL), view.button_width, QApplication.font().pointSizeF())
    index = window.proxy.index(0, Column.CANCEL)
    assert view.cancel_button_rect(index).width() == before[3]
    qtbot.keyClick(view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()
    after = (view.verticalHeader().defaultSectionSize(), header.sectionSize(Column.SYMBOL),
             header.sectionSize(Column.CANCEL), view.button_width, QApplication.font().pointSizeF())
    assert after[4] == before[4] + 2
    assert all(a > b for a, b in zip(after[:4], before[:4], strict=True)), (before, after)
    assert view.cancel_button_rect(index).width() == after[3]  # painted and hit-tested alike
    text = QFontMetrics(view.font()).horizontalAdvance("Cancel")
    assert view.cancel_button_rect(index).width() >= text + 8  # its word fits
    # remembered for the next run
    again = MainWindow(window.engine, settings=window._settings_store())
    qtbot.addWidget(again)
    assert QApplication.font().pointSizeF() == after[4]
    qtbot.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.font().pointSizeF() == before[4] + 1
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()
    assert QApplication.font().pointSizeF() == before[4]
    assert view.verticalHeader().defaultSectionSize() == before[0]
    assert header.sectionSize(Column.SYMBOL) == before[1]
    assert window._settings_store().value("looks/text_points") is None


# -- the empty state ---------------------------------------------------------------------------
def test_the_column_titles_stay_over_a_filter_that_matches_nothing(window, qtbot):
    window.view.sortByColumn(Column.PRICE, Qt.SortOrder.AscendingOrder)
    window.focus_filter()
    qtbot.keyClicks(window.filter_edit, "nothing-like-this")
    window.refresh()
    QApplication.processEvents()
    assert window.stack.currentWidget() is window.empty
    assert window.empty.title.text() == "No orders match"
    titles, table = window.empty.header, window.view.horizontalHeader()
    assert titles is not None and titles.isVisible()
    assert titles.mapTo(window, titles.rect().topLeft()).y() < window.empty.title.mapTo(
        window, window.empty.title.rect().topLeft()).y()  # above the message

    def shown(header: QHeaderView) -> list[tuple[int, int]]:
        return [(header.logicalIndex(v), header.sectionSize(header.logicalIndex(v)))
                for v in range(header.count())
                if not header.isSectionHidden(header.logicalIndex(v))]

    assert shown(titles) == shown(table) and len(shown(titles)) >= 6
    assert titles.height() == table.height()
    assert (titles.sortIndicatorSection(), titles.sortIndicatorOrder()) == (
        Column.PRICE, Qt.SortOrder.AscendingOrder)
    window.resize(1024, 700)  # the table drops columns for want of room: the titles follow
    QApplication.processEvents()
    assert shown(titles) == shown(table)
    qtbot.keyClick(window.filter_edit, Qt.Key.Key_Escape)
    window.refresh()
    assert window.stack.currentWidget() is window.view


def test_icons_are_drawn_crisp_up_to_four_times_a_toolbars_size_and_the_apps_for_a_switcher():
    """An action's icon up to 128 px (each drawing stays resident: one at 256 px is 256 KB);
    the app's own icon also at 256 px, for a task switcher."""
    from PySide6.QtCore import QSize

    from blotter.ui.resources import icon

    assert [s.width() for s in icon("cancel").availableSizes()] == [16, 20, 24, 32, 48, 64, 128]
    assert max(s.width() for s in icon("app").availableSizes()) == 256
    assert icon("cancel").pixmap(QSize(128, 128)).width() == 128
