"""Export Visible Orders…: the rows the table shows, in its column order, to CSV with exact
plain numbers and UTC times; struck rows whose order closed are left out; the file dialog does
not stall the loop. Ctrl+C copies numbers without thousands separators."""

from __future__ import annotations

import csv
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import Closed, Upsert
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.ui.export import OrdersExport, iso_ms, plain_number
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import CLOSED_ROLE, Column, OrdersModel
from blotter.ui.orders_view import OrdersProxyModel, OrdersView
from tests.helpers import until
from tests.ui.book import T0, make_order
from tests.ui.conftest import close_window, select_row


def read(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


@pytest.fixture
def table(qtbot):
    store, notices = OrderStore(), NoticeBus()
    store.apply(Upsert(make_order(1, price="97100.123456789", amount="12345.5",
                                  remaining="12000", group="7")))
    store.apply(Upsert(make_order(2, price="0.00000001", amount="1000000", symbol="tDOGE:USD")))
    store.apply(Upsert(make_order(3, price="101", amount="2")))
    store.flush()
    model = OrdersModel(store)
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    view = OrdersView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.apply_default_widths()
    view.resize(1024, 400)  # narrow: some columns are left out of view for want of room
    view.show()
    said: list[str] = []
    notices.subscribe(lambda n: said.append(n.text))
    export = OrdersExport(view, store, notices, lambda venue, account: "Bitfinex", view,
                          no_room=view.columns.dropped)
    return store, model, proxy, view, export, said


def test_plain_numbers_and_utc_times():
    assert plain_number(Decimal("97100.1234567890")) == "97100.123456789"
    assert plain_number(Decimal("1E+6")) == "1000000"
    assert plain_number(Decimal("1E-8")) == "0.00000001"
    assert plain_number(None) == ""
    assert iso_ms(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"


def test_export_writes_the_rows_shown_in_their_column_order(table, tmp_path):
    _store, _model, proxy, view, export, said = table
    header = view.horizontalHeader()
    header.moveSection(header.visualIndex(Column.PRICE), 0)
    view.columns.show_column(Column.STATUS, False)  # the trader hides it
    view.columns.show_column(Column.AGE, False)  # and the Age
    assert Column.ORDER_ID in view.columns.dropped()  # no room for it in view at 1024 px
    proxy.set_filter_text("tbtcusd")  # the DOGE order is filtered away
    path = tmp_path / "orders.csv"
    assert export.export_to(path) == 2
    rows = read(path)
    # every column the trader shows, in the table's order: those left out of a narrow window
    # for want of room too, not those the trader hid (Status, Age, Client ID) nor Cancel
    assert rows[0] == ["Price", "Venue", "Account", "Symbol", "Side", "Type", "Trigger",
                       "Amount", "Remaining", "Filled", "Avg Price", "Notional", "TIF", "Flags",
                       "Group", "Order ID", "Created"]
    by_id = {r[15]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert by_id["1"] == {
        "Price": "97100.123456789", "Venue": "Bitfinex", "Account": "acct", "Symbol": "tBTCUSD",
        "Side": "Buy", "Type": "EXCHANGE LIMIT", "Trigger": "", "Amount": "12345.5",
        "Remaining": "12000", "Filled": "345.5", "Avg Price": "", "Notional": "", "TIF": "",
        "Flags": "", "Group": "7", "Order ID": "1", "Created": iso_ms(T0 + 1000)}
    assert by_id["3"]["Price"] == "101" and by_id["3"]["Filled"] == "0"
    assert [r[15] for r in rows[1:]] == [proxy.index(r, Column.ORDER_ID).data()
                                         for r in range(proxy.rowCount())]  # the table's order
    assert said[-1] == f"Exported 2 orders to {path}"
    assert export.export_to(tmp_path / "no-such-dir" / "x.csv") == 0
    assert said[-1].startswith("Could not export the orders to")


def test_struck_rows_are_left_out_and_shown_rows_are_as_the_store_has_them(table, tmp_path):
    store, model, proxy, _view, export, _said = table
    model.hold_rows(True)  # the trader aims: rows hold still
    store.apply(Closed(store.get(next(o.key for o in store if o.order_id == "2"))))
    changed = replace(make_order(3, price="101", amount="2"), status_text="PARTIALLY FILLED",
                      remaining=Decimal("1.25"))
    store.apply(Upsert(changed))
    store.apply(Upsert(make_order(4, price="99")))  # new: waits unseen
    store.flush()
    struck = [r for r in range(proxy.rowCount())
              if proxy.index(r, 0).data(CLOSED_ROLE) is not None]
    assert len(struck) == 1 and proxy.rowCount() == 3  # the closed row is still drawn
    path = tmp_path / "held.csv"
    assert export.export_to(path) == 2
    lines = read(path)
    rows = {r["Order ID"]: r for r in (dict(zip(lines[0], line)) for line in lines[1:])}
    assert sorted(rows) == ["1", "3"]
    assert rows["3"]["Filled"] == "0.75" and rows["3"]["Status"] == "Partially filled 37%"


def test_copy_gives_numbers_without_thousands_separators(table):
    _store, _model, proxy, view, _export, _said = table
    row = next(r for r in range(proxy.rowCount())
               if proxy.index(r, Column.ORDER_ID).data() == "1")
    assert proxy.index(row, Column.PRICE).data() == "97,100.123456789"  # shown grouped
    select_row(view, row)
    copied = view.copy_selection().splitlines()
    line = dict(zip(copied[0].split("\t"), copied[1].split("\t")))  # the columns in view
    assert line["Price"] == "97100.123456789"
    assert line["Amount"] == "12345.5" and line["Remaining"] == "12000"
    assert QGuiApplication.clipboard().text().splitlines()[1] == copied[1]


async def test_file_export_from_the_window_menu(qtbot, tmp_path):
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    engine = Engine(store, notices, states)
    store.apply(Upsert(make_order(1, price="12345.678")))
    store.flush()
    window = MainWindow(engine, settings=QSettings(str(tmp_path / "s.ini"),
                                                   QSettings.Format.IniFormat))
    window.show()
    try:
        await until(lambda: window.proxy.rowCount() == 1)
        file_menu = window.menuBar().actions()[0].menu()
        action = next(a for a in file_menu.actions() if a.text() == "Export Visible Orders…")
        action.trigger()
        dialog = window.orders_export.dialog
        # asked without a nested loop: the coroutine runs on while the dialog is up
        assert isinstance(dialog, QFileDialog) and dialog.isVisible()
        path = tmp_path / "chosen.csv"
        dialog.fileSelected.emit(str(path))
        dialog.close()
        assert read(path)[1][Column.PRICE] == "12345.678"
        await until(lambda: window.status_bar.text.endswith(f"Exported 1 order to {path}"))
    finally:
        close_window(window)
        await engine.stop()
