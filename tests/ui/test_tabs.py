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
