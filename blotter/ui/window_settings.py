"""What the window remembers between runs: its size and place, the toolbar's state, and the
orders table's columns (order, widths, hidden ones, the sort), kept in ``QSettings``."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from blotter.ui.orders_model import Column
from blotter.ui.orders_view import OrdersView

SETTINGS_VERSION = 2  # bump when a saved header would no longer fit the columns


def restore_layout(window: QMainWindow, view: OrdersView, settings: QSettings) -> None:
    """Put the window and the table's columns back as they were saved (a header saved for
    other columns is ignored)."""
    geometry = settings.value("window/geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    state = settings.value("window/state")
    if isinstance(state, QByteArray) and not state.isEmpty():
        window.restoreState(state)
    header = settings.value("orders/header")
    version = settings.value("orders/version")
    same_columns = str(version) == f"{SETTINGS_VERSION}:{len(Column)}"
    if isinstance(header, QByteArray) and not header.isEmpty() and same_columns:
        view.horizontalHeader().restoreState(header)
        view.columns.take_widths()
        hidden = settings.value("orders/hidden")
        if isinstance(hidden, str):  # one name, or none (QSettings flattens short lists)
            hidden = [hidden] if hidden else []
        if isinstance(hidden, list):
            view.columns.set_hidden(Column[name] for name in hidden if name in Column.__members__)
    # the model sorts itself: make it follow the (restored) sort indicator
    indicator = view.horizontalHeader()
    view.sortByColumn(indicator.sortIndicatorSection(), indicator.sortIndicatorOrder())


def save_layout(window: QMainWindow, view: OrdersView, settings: QSettings) -> None:
    """Keep the window's and the table's layout for the next run."""
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    settings.setValue("orders/header", view.horizontalHeader().saveState())
    # the columns the trader hid (those left out of a narrow window for want of room come back
    # when it widens: they are not saved as hidden)
    settings.setValue("orders/hidden", sorted(c.name for c in view.columns.hidden()))
    settings.setValue("orders/version", f"{SETTINGS_VERSION}:{len(Column)}")
    settings.sync()


def reset_columns(view: OrdersView) -> None:
    """Every column back in its place, shown, at its default width."""
    header = view.horizontalHeader()
    for logical in range(header.count()):
        header.moveSection(header.visualIndex(logical), logical)
        header.showSection(logical)
    view.apply_default_widths()
