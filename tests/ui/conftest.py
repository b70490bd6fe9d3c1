"""UI tests run their coroutines on a qasync loop, so Qt and asyncio share one thread.

Inside a coroutine never call ``qtbot.wait*``, ``processEvents()`` or ``QDialog.exec()``: they
re-enter the loop and hang. Wait with ``await until(...)`` (tests/helpers.py) instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _qasync_loop() -> asyncio.AbstractEventLoop:
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"qasync": _qasync_loop}


@pytest.fixture
def store():
    """A fresh store for a model under test."""
    from blotter.core.store import OrderStore

    return OrderStore()


@pytest.fixture
def model(store, qtmodeltester):
    """The orders model over ``store``, checked by Qt's model tester at every signal."""
    from blotter.ui.orders_model import OrdersModel

    model = OrdersModel(store)
    qtmodeltester.check(model)  # keeps checking every signal for the rest of the test
    return model


@pytest.fixture(autouse=True)
def _qt_app(qapp):
    """The QApplication exists before any loop is made for the test, and closing the last
    window does not quit it (that would stop the qasync loop under a running test)."""
    qapp.setQuitOnLastWindowClosed(False)
    return qapp


def close_window(window) -> None:
    """Close a window the test (not qtbot) owns; qtbot closes its widgets before fixtures end."""
    from shiboken6 import isValid

    if isValid(window):
        window.close()
        window.deleteLater()


def select_row(view, row: int, add: bool = False) -> None:
    """Select a row and make it current through the selection model.

    ``QTableView.selectRow`` reads the application's keyboard modifiers, which QTest key clicks
    of an earlier test (Shift+Delete, Ctrl+G) can leave looking pressed.
    """
    from PySide6.QtCore import QItemSelectionModel

    flags = QItemSelectionModel.SelectionFlag
    command = (flags.Select if add else flags.ClearAndSelect) | flags.Rows
    view.selectionModel().setCurrentIndex(view.model().index(row, 0), command)
