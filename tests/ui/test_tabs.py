"""The tabs' titles count their rows without repainting the table at the rate of a flood."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from blotter.ui.closed_view import ClosedView
from blotter.ui.tabs import CLOSED, OPEN, OrderTabs
from tests.helpers import until


async def test_counts_reach_the_titles_at_once_then_at_most_once_a_second(qtbot) -> None:
    tabs = OrderTabs(QWidget(), ClosedView())
    qtbot.addWidget(tabs)
    titled: list[str] = []
    original = tabs.setTabText
    tabs.setTabText = lambda i, t: (titled.append(t), original(i, t))[1]  # type: ignore[method-assign]
    tabs.count_open(10)
    assert tabs.tabText(OPEN) == "Open Orders (10)"  # the first change shows at once
    for rows in range(11, 300):  # a flood of rows
        tabs.count_open(rows)
    assert tabs.title(OPEN) == "Open Orders (299)"  # what it will read, already known
    await until(lambda: tabs.tabText(OPEN) == "Open Orders (299)")
    assert titled == ["Open Orders (10)", "Open Orders (299)"]
    tabs.count_open(299)  # no change, no retitle
    assert len(titled) == 2 and tabs.tabText(CLOSED) == "Recently Closed (0)"


class BusyTableTabs(OrderTabs):
    FRAME_WAIT_MS = 60_000  # the table never goes quiet within this test


async def test_a_title_that_comes_due_shows_with_the_tables_next_frame(qtbot) -> None:
    # a retitle repaints the table: under a flood it waits for the repaint the rows cause
    tabs = BusyTableTabs(QWidget(), ClosedView())
    qtbot.addWidget(tabs)
    tabs.count_open(10)
    tabs.count_open(11)
    assert tabs.tabText(OPEN) == "Open Orders (10)" and not tabs.titles_due
    await until(lambda: tabs.titles_due)  # its second is up
    tabs.count_open(12)
    assert tabs.tabText(OPEN) == "Open Orders (10)"  # still waiting for the table's frame
    tabs.at_frame()
    assert tabs.tabText(OPEN) == "Open Orders (12)" and not tabs.titles_due
    tabs.at_frame()  # nothing due: nothing changes
    assert tabs.tabText(OPEN) == "Open Orders (12)"
