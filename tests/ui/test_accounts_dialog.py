"""The accounts dialog and the first-run view through real widgets: add an account (Test
connection first, against a simulator that refuses the key, then with the right one), see it
connect without a restart, remove it; a broken accounts file is shown, not raised. (The form on
its own is tests/ui/test_account_form.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from blotter.account_manager import AccountManager
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.sim.bybit import BybitSimulator
from blotter.ui.main_window import MainWindow
from blotter.venues.base import Backoff
from tests.helpers import until
from tests.test_secrets import MemoryKeyring
from tests.ui.conftest import close_window


@pytest.fixture
def memory(memory_keyring: MemoryKeyring) -> MemoryKeyring:
    return memory_keyring


@pytest.fixture
async def window(qtbot: Any, tmp_path: Path, memory: MemoryKeyring) -> Any:
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    win = MainWindow(engine, settings=QSettings(str(tmp_path / "s.ini"),
                                                QSettings.Format.IniFormat))
    manager = AccountManager(engine, tmp_path / "config.toml",
                             client_options={"backoff": Backoff(0.05, 2.0, 0.3)})
    manager.load()
    win.set_account_manager(manager)
    win.show()
    try:
        yield win
    finally:
        close_window(win)
        await asyncio.wait_for(engine.stop(), 10)


@pytest.fixture
async def sim() -> Any:
    simulator = BybitSimulator(seed=8, initial_orders=4)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def fill_bybit_form(form: Any, sim: Any, key: str, secret: str) -> None:
    form.name_edit.setText("by-main")
    form.venue_box.setCurrentIndex(form.venue_box.findData("bybit"))
    form.rest_edit.setText(sim.rest_url)
    form.ws_edit.setText(sim.ws_url)
    form.secret_edits["api_key"].setText(key)
    form.secret_edits["api_secret"].setText(secret)


async def test_first_run_add_account_tests_the_key_then_connects_without_restart(
    window: Any, sim: Any, qtbot: Any, tmp_path: Path, memory: MemoryKeyring
) -> None:
    empty = window.empty
    assert window.stack.currentWidget() is empty
    assert empty.title.text() == "No accounts yet"
    assert empty.demo_button.isVisible() and empty.add_button.isVisible()

    qtbot.mouseClick(empty.add_button, Qt.MouseButton.LeftButton)
    form = window.account_form
    assert form is not None and form.isVisible()
    assert not form.form.isRowVisible(form.secret_edits["api_token"])  # Bybit takes key+secret
    credentials = sim.credentials
    fill_bybit_form(form, sim, credentials["api_key"], credentials["api_secret"])

    sim.refuse_key = True  # the venue says no: the form shows its words
    qtbot.mouseClick(form.test_button, Qt.MouseButton.LeftButton)
    await until(lambda: "10003" in form.message.text(), timeout=15)
    assert form.message.text() == "10003: API key is invalid."
    assert credentials["api_key"] not in form.message.text()

    sim.refuse_key = False
    qtbot.mouseClick(form.test_button, Qt.MouseButton.LeftButton)
    await until(lambda: form.message.text().startswith("Signed in"), timeout=15)
    assert form.message.text() == "Signed in: 4 open orders"
    assert window.engine.clients == {}  # testing connects nothing

    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: window.account_form is None)
    await until(lambda: window.model.rowCount() == 4, timeout=10)
    await until(lambda: window.stack.currentWidget() is window.view)  # the next refresh
    text = (tmp_path / "config.toml").read_text()
    assert 'name = "by-main"' in text and sim.rest_url in text
    assert credentials["api_key"] not in text and credentials["api_secret"] not in text
    assert memory.entries[("blotter", "by-main/api_key")] == credentials["api_key"]
    indicator = window.status_bar.indicator(AccountKey("bybit", "by-main"))
    assert indicator is not None


async def test_remove_disconnects_and_forgets_the_keys(
    window: Any, sim: Any, qtbot: Any, memory: MemoryKeyring
) -> None:
    from blotter import config as cfg

    account = cfg.make_account("by-main", "bybit", rest_url=sim.rest_url, ws_url=sim.ws_url)
    await window.accounts.add(account, sim.credentials)
    await until(lambda: window.model.rowCount() == 4, timeout=10)

    dialog = window.show_accounts()
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 0).text() == "by-main"
    assert dialog.table.item(0, 3).text() == "in keyring"
    await until(lambda: dialog.table.item(0, 4).text() == "live")
    dialog.table.selectRow(0)
    box = dialog.remove()
    remove = next(b for b in box.buttons()
                  if box.buttonRole(b) is QMessageBox.ButtonRole.DestructiveRole)
    remove.click()
    await until(lambda: dialog.table.rowCount() == 0)
    await until(lambda: window.model.rowCount() == 0)
    assert window.status_bar.indicator(AccountKey("bybit", "by-main")) is None
    assert memory.entries == {}
    await until(lambda: window.empty.title.text() == "No accounts yet")  # the next refresh
    assert sim.open_orders()  # removing an account cancels nothing at the venue
    dialog.accept()


async def test_test_connection_from_the_list_reports_a_refused_key(
    window: Any, sim: Any
) -> None:
    from blotter import config as cfg

    account = cfg.make_account("by-main", "bybit", rest_url=sim.rest_url, ws_url=sim.ws_url)
    await window.accounts.add(account, sim.credentials)
    dialog = window.show_accounts()
    dialog.table.selectRow(0)
    sim.refuse_key = True
    dialog.test_connection()
    await until(lambda: "10003" in dialog.message.text(), timeout=15)
    assert dialog.message.text() == "by-main: 10003: API key is invalid."
    dialog.accept()


async def test_a_broken_accounts_file_is_shown_with_file_line_and_field(
    qtbot: Any, tmp_path: Path, memory: MemoryKeyring
) -> None:
    from blotter.app import Options, _open_accounts

    path = tmp_path / "config.toml"
    path.write_text('[[accounts]]\nname = "x"\nvenue = "bybit"\nenv = "mainnet"\n')
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    win = MainWindow(engine, settings=QSettings(str(tmp_path / "s.ini"),
                                                QSettings.Format.IniFormat))
    win.show()
    try:
        _open_accounts(engine, win, Options(config=path))
        assert win.empty.title.text() == "The accounts file has an error"
        detail = win.empty.detail.text()
        assert "config.toml, line 4: accounts[0].env" in detail and "mainnet" in detail
        assert detail in win.status_bar.text
    finally:
        close_window(win)
        await engine.stop()


async def test_a_dead_man_switch_that_is_on_is_shown_beside_the_account(
    window: Any, tmp_path: Path
) -> None:
    from blotter import config as cfg
    from blotter.sim.bitfinex import BitfinexSimulator

    sim = BitfinexSimulator(seed=3)
    await sim.start()
    try:
        on = cfg.make_account("bfx-dms", "bitfinex", rest_url=sim.rest_url, ws_url=sim.ws_url,
                              dead_man_switch=True)
        window.accounts.nonce_dir = tmp_path / "nonces"
        await window.accounts.add(on, sim.credentials)
        key = AccountKey("bitfinex", "bfx-dms")
        await until(lambda: window.status_bar.indicator(key) is not None)
        indicator = window.status_bar.indicator(key)
        await until(lambda: indicator.label.text() == "bfx-dms · dead-man switch on")
        assert "cancels this account's orders if the connection drops" in indicator.toolTip()
    finally:
        await window.engine.stop()
        await sim.stop()


async def test_try_the_demo_asks_the_app_for_the_demo(window: Any, qtbot: Any) -> None:
    asked: list[bool] = []
    window.demo_requested.connect(lambda: asked.append(True))
    qtbot.mouseClick(window.empty.demo_button, Qt.MouseButton.LeftButton)
    assert asked == [True]
    window.add_demo_menu([])  # what app.py does once the simulators run
    window.refresh()
    assert not window.empty.first_run.isVisible()  # demo accounts: no first-run offer


async def test_an_account_that_cannot_connect_says_why_without_widening_the_window(
    window: Any, tmp_path: Path
) -> None:
    from blotter import config as cfg

    account = cfg.make_account("by-main", "bybit", env="testnet")
    cfg.save_config(tmp_path / "config.toml", cfg.Config((account,)))
    window.accounts.load()
    long_reason = "No usable OS keyring: " + "how to install one, " * 40 + "\nand more lines"
    window.engine.states.publish(
        AccountState("bybit", "by-main", VenueState.FAILED, long_reason)
    )
    window.engine.notices.publish(Notice("bybit", "by-main", Level.ERROR, long_reason))
    window.refresh()
    assert window.empty.title.text() == "No account is connected"
    assert "\n" not in window.status_bar.text and window.status_bar.text.endswith("…")
    assert window.minimumSizeHint().width() < 1000
    assert window.status_bar.minimumSizeHint().width() < 1000
