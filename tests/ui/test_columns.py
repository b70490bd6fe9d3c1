"""The columns a trader reads: the status in one vocabulary, ages and dates, notionals, flags,
numbers standing on their decimal point, and which columns give way in a narrow window."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from decimal import Decimal

from PySide6.QtCore import QModelIndex, QRect
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView

from blotter.core.order import Flag, OrderStatus
from blotter.ui import theme
from blotter.ui.column_layout import DROP_ORDER, ELASTIC, columns_to_drop
from blotter.ui.formatting import (
    age_text,
    created_text,
    flags_short,
    format_notional,
    status_words,
)
from blotter.ui.order_cells import BUTTON_OPEN, Column
from blotter.ui.order_delegates import RowPainter, decimal_tail
from tests.ui.book import make_order

DAY = 86_400_000


def test_the_status_reads_in_one_vocabulary_for_every_venue():
    assert status_words(make_order(1, status_text="ACTIVE")) == "Open"
    assert status_words(make_order(1, status_text="New")) == "Open"  # Bybit's word
    assert status_words(make_order(1, status_text="Pending")) == "Open"  # a broker's
    half = dataclasses.replace(make_order(1, amount="2", remaining="0.92"),
                               avg_price=Decimal("97471.87"))
    assert status_words(half) == "Partially filled 54% @ 97,471.87"
    no_avg = make_order(1, amount="2", remaining="1")
    assert status_words(no_avg) == "Partially filled 50%"
    stop = dataclasses.replace(make_order(1), status=OrderStatus.UNTRIGGERED,
                               trigger_price=Decimal(101000))
    assert status_words(stop) == "Untriggered · trigger 101,000"  # never without its price
    gone = dataclasses.replace(make_order(1), status=OrderStatus.FILLED)
    assert status_words(gone) == "Filled"


def test_age_in_its_largest_whole_unit_and_created_with_its_date_when_not_today():
    now = int(time.time() * 1000)
    assert [age_text(now - s * 1000, now) for s in (0, 59, 60, 3599, 3600, 86_399, 86_400)] == [
        "0s", "59s", "1m", "59m", "1h", "23h", "1d"]
    assert age_text(None, now) == ""
    today = datetime.fromtimestamp(now / 1000).astimezone()
    assert created_text(now, now) == today.strftime("%H:%M:%S")
    earlier = now - 400 * DAY
    assert created_text(earlier, now) == datetime.fromtimestamp(
        earlier / 1000).astimezone().strftime("%Y-%m-%d")
    other_day = now - 2 * DAY
    if datetime.fromtimestamp(other_day / 1000).year == today.year:
        assert created_text(other_day, now).endswith(
            datetime.fromtimestamp(other_day / 1000).astimezone().strftime("%H:%M"))
        assert len(created_text(other_day, now)) > 8  # more than a time of day


def test_notional_and_flags_read_short():
    assert format_notional((Decimal("1198.834561"), "USDT")) == "1,198.83 USDT"
    assert format_notional((Decimal("0.1186495"), "BTC")) == "0.11865 BTC"
    assert format_notional(None) == ""
    order = make_order(1, flags=frozenset({Flag.POST_ONLY, Flag.REDUCE_ONLY}))
    assert flags_short(order) == "post · reduce"
    assert flags_short(make_order(2)) == ""


def test_the_part_right_of_the_units_digit():
    assert decimal_tail("95,130") == 0
    assert decimal_tail("95,130.5") == 2
    assert decimal_tail("11.1 (59%)") == 8
    assert decimal_tail("52,589 CHF") == 4
    assert decimal_tail("") == 0


def test_columns_give_way_least_needed_first_and_only_as_many_as_needed():
    widths = {c: 100 for c in Column}
    shown = [c for c in Column if c is not Column.CLIENT_ID]
    everything = sum(widths[c] for c in shown)
    assert columns_to_drop(shown, widths, everything, 100) == set()
    one_short = columns_to_drop(shown, widths, everything - 1, 100)
    assert one_short == {next(c for c in DROP_ORDER if c in shown)}
    narrow = columns_to_drop(shown, widths, 900, 100)
    kept = [c for c in shown if c not in narrow]
    assert Column.CANCEL in kept and ELASTIC in kept and Column.SYMBOL in kept
    assert sum(widths[c] for c in kept) <= 900


def ink_right_edge(image: QImage, top: int, height: int) -> int:
    """The rightmost column of ``image`` with text ink between ``top`` and ``top+height``."""
    background = image.pixelColor(0, top).rgb()
    for x in range(image.width() - 1, -1, -1):
        if any(image.pixelColor(x, y).rgb() != background for y in range(top, top + height)):
            return x
    return -1


def test_cells_read_as_plain_text_drawn_where_qt_draws_it(qtbot):
    # the painter keeps each text laid out (QStaticText); what it draws must be the very pixels
    # of QPainter.drawText at the same baseline, in either font, markup shown as typed
    view = QTableView()
    qtbot.addWidget(view)
    mono = theme.mono_font(view.font())
    words = ("EXCHANGE LIMIT", "<b>not bold</b> & co", "Partially filled 56% @ 187.92")
    numbers = ("92,514.5", "0.014999 (33%)", "2027-01-03")
    rows = {}
    for row, (word, number) in enumerate(zip(words, numbers)):
        texts = [""] * len(Column)
        texts[Column.TYPE], texts[Column.PRICE] = word, number
        fonts = [None] * len(Column)
        fonts[Column.PRICE] = mono
        rows[row] = (texts, fonts, [QColor("black")] * len(Column), None, BUTTON_OPEN)
    painter_delegate = RowPainter(view, rows.get)
    painter_delegate.prepare([], QFontMetrics(mono).horizontalAdvance("0"))  # no alignment
    size, height = (420, 90), 30

    def image() -> QImage:
        picture = QImage(*size, QImage.Format.Format_RGB32)
        picture.fill(QColor("white"))
        return picture

    painted, expected = image(), image()
    painter = QPainter(painted)
    painter.setFont(view.font())
    painter_delegate.paint_rows(
        painter, [(row * height, height, rows[row], False) for row in rows],
        [(int(Column.TYPE), 0, 260), (int(Column.PRICE), 260, 160)], view.palette(),
        QFontMetrics(view.font()))
    painter.end()
    painter = QPainter(expected)
    painter.setPen(QColor("black"))
    for row, (word, number) in enumerate(zip(words, numbers)):
        for font, text, left in ((view.font(), word, None), (mono, number, 260)):
            metrics = QFontMetrics(font)
            painter.setFont(font)
            x = 8 if left is None else left + 160 - 8 - metrics.horizontalAdvance(text)
            y = row * height + (height + metrics.ascent() - metrics.descent()) // 2
            painter.drawText(x, y, text)
    painter.end()
    differ = sum(1 for y in range(size[1]) for x in range(size[0])
                 if painted.pixel(x, y) != expected.pixel(x, y))
    assert differ == 0


def test_numbers_in_a_column_stand_on_their_decimal_point(qtbot):
    view = QTableView()
    qtbot.addWidget(view)
    mono = theme.mono_font(view.font())
    rows = {}
    for row, price in enumerate(("1.5", "10.25", "100")):
        texts = [""] * len(Column)
        texts[Column.PRICE] = price
        fonts = [None] * len(Column)
        fonts[Column.PRICE] = mono
        colours = [QColor("black")] * len(Column)
        rows[row] = (texts, fonts, colours, None, BUTTON_OPEN)
    painter_delegate = RowPainter(view, rows.get)
    digit = QFontMetrics(mono).horizontalAdvance("0")
    painter_delegate.prepare(list(rows.values()), digit)
    image = QImage(200, 90, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    model = view.model()
    assert model is None  # the delegate reads its rows, not a model

    class Index(QModelIndex):
        def __init__(self, row: int) -> None:
            super().__init__()
            self._row = row

        def row(self) -> int:  # type: ignore[override]
            return self._row

        def column(self) -> int:  # type: ignore[override]
            return int(Column.PRICE)

    for row in rows:
        option = QStyleOptionViewItem()
        option.initFrom(view)
        option.rect = QRect(0, row * 30, 200, 30)
        option.font = view.font()
        painter_delegate.paint(painter, option, Index(row))
    painter.end()
    edges = [ink_right_edge(image, row * 30, 30) for row in rows]
    # "1.5" ends one digit left of "10.25" (its missing hundredth), "100" three (".25")
    assert abs((edges[1] - edges[0]) - digit) <= 1
    assert abs((edges[1] - edges[2]) - 3 * digit) <= 1
    assert edges[1] > 200 - 8 - digit  # right-aligned: the longest tail ends at the edge
