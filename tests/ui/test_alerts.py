"""Alerts: a fill, a cancel at the venue not asked for, a refused cancel and an account gone
stale or failed raise a desktop notification (through the tray's showMessage), each kind as set
in Preferences; nothing for the trader's own cancel; fills pause above 50 a minute."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QCheckBox, QLabel, QSystemTrayIcon

from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import Closed, OrderStatus, Upsert
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.ui.alerts import Alerts, TrayNotifier
from blotter.ui.main_window import MainWindow
from blotter.ui.preferences import AlertPreferences
from tests.helpers import until
from tests.ui.book import make_order
from tests.ui.conftest import close_window


class RecordingTray(QSystemTrayIcon):
    """The tray as the desktop would get it: every message asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[str, str, QSystemTrayIcon.MessageIcon]] = []

    def showMessage(self, title, msg, icon=QSystemTrayIcon.MessageIcon.Information,
                    msecs=10000) -> None:
        self.messages.append((title, msg, icon))


class Recorder(TrayNotifier):
    def __init__(self) -> None:
        self.recording = RecordingTray()
        super().__init__(QIcon(), tray=self.recording)
        self.beeps = 0

    @property
    def messages(self):
        return self.recording.messages

    def beep(self) -> None:
        self.beeps += 1


class Clock:
    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def setup(tmp_path):
    clock = Clock()
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    engine = Engine(store, notices, states, clock)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    recorder = Recorder()
    alerts = Alerts(engine, lambda: settings, recorder)
    for n in range(1, 4):
        store.apply(Upsert(make_order(n, price="95130", amount="0.5")))
    store.flush()
    yield engine, alerts, recorder, clock, settings
    alerts.detach()


def close(engine: Engine, n: int, status: OrderStatus, text: str = "", account: str = "acct"):
    order = make_order(n, price="95130", amount="0.5", account=account)
    final = replace(order, status=status, status_text=text or status.value,
                    remaining=Decimal(0) if status is OrderStatus.FILLED else order.remaining)
    engine.store.apply(Closed(final))
    engine.store.flush()


def test_the_tray_is_asked_with_the_words_and_the_level():
    recorder = Recorder()
    recorder.notify("Filled", "acct: tBTCUSD buy 0.5 @ 95,130 filled", Level.SUCCESS)
    recorder.notify("Cancel refused", "Order not found.", Level.ERROR)
    assert recorder.messages == [
        ("Filled", "acct: tBTCUSD buy 0.5 @ 95,130 filled",
         QSystemTrayIcon.MessageIcon.Information),
        ("Cancel refused", "Order not found.", QSystemTrayIcon.MessageIcon.Critical),
    ]


def test_a_fill_and_a_cancel_at_the_venue_alert_but_a_cancel_of_yours_does_not(setup):
    engine, alerts, recorder, _, _ = setup
    close(engine, 1, OrderStatus.FILLED)
    alerts.flush()
    assert recorder.messages[-1][:2] == ("Filled", "acct: tBTCUSD buy 0.5 @ 95,130 filled")
    # the trader cancels order 2: its close is theirs, no alert
    engine.store.name_cancel([make_order(2).key], "Cancel")
    engine.store.begin_cancel([make_order(2)])
    close(engine, 2, OrderStatus.CANCELLED, "CANCELED")
    alerts.flush()
    assert len(recorder.messages) == 1
    close(engine, 3, OrderStatus.CANCELLED, "CANCELED by admin")
    alerts.flush()
    title, text, icon = recorder.messages[-1]
    assert title == "Cancelled at the venue" and "CANCELED by admin" in text
    assert icon == QSystemTrayIcon.MessageIcon.Warning
    assert recorder.beeps == 0  # sound is off by default


def test_a_refused_cancel_alerts_and_a_good_receipt_does_not(setup):
    engine, alerts, recorder, _, _ = setup
    engine.notices.publish(Notice("bitfinex", "acct", Level.SUCCESS, "Cancelled 1 of 1 on acct",
                                  receipt=True))
    engine.notices.publish(Notice("bitfinex", "acct", Level.ERROR, "Order not found.",
                                  status="ERROR"))  # a venue notice, not the action's end
    alerts.flush()
    assert recorder.messages == []
    engine.notices.publish(Notice("bitfinex", "acct", Level.ERROR,
                                  "Cancelled 0 of 1 on acct: Order not found.", receipt=True))
    alerts.flush()
    assert recorder.messages[-1][:2] == ("Cancel refused",
                                         "Cancelled 0 of 1 on acct: Order not found.")


def test_an_account_going_stale_or_failing_alerts_once(setup):
    engine, alerts, recorder, _, _ = setup
    states = engine.states
    states.publish(AccountState("bybit", "by-1", VenueState.LIVE))
    states.publish(AccountState("bybit", "by-1", VenueState.STALE, "no message for 12 s"))
    states.publish(AccountState("bybit", "by-1", VenueState.STALE, "no message for 13 s"))
    alerts.flush()
    assert recorder.messages == [("by-1 stale", "by-1 is stale: no message for 12 s",
                                  QSystemTrayIcon.MessageIcon.Warning)]
    states.publish(AccountState("bybit", "by-1", VenueState.FAILED, "API key is invalid."))
    alerts.flush()
    assert recorder.messages[-1][:2] == ("by-1 failed", "by-1 is failed: API key is invalid.")
    states.publish(AccountState("bybit", "by-1", VenueState.LIVE))
    states.publish(AccountState("bybit", "by-1", VenueState.STALE, "again"))
    alerts.flush()
    assert len(recorder.messages) == 3


def test_each_kind_is_the_traders_to_switch_off_and_sound_on(setup):
    engine, alerts, recorder, _, settings = setup
    alerts.set_preferences(AlertPreferences(fills=False, connection=False, sound=True))
    assert AlertPreferences.load(settings) == AlertPreferences(fills=False, connection=False,
                                                               sound=True)
    close(engine, 1, OrderStatus.FILLED)
    engine.states.publish(AccountState("bybit", "by-1", VenueState.FAILED, "down"))
    alerts.flush()
    assert recorder.messages == []
    close(engine, 3, OrderStatus.CANCELLED, "CANCELED by admin")
    alerts.flush()
    assert len(recorder.messages) == 1 and recorder.beeps == 1


def test_fills_pause_above_fifty_a_minute_per_account_and_come_together(setup):
    engine, alerts, recorder, clock, _ = setup
    for n in range(10, 62):  # 52 fills on one account within a minute
        engine.store.apply(Upsert(make_order(n, price="95130", amount="0.5")))
        engine.store.flush()
        close(engine, n, OrderStatus.FILLED)
        clock.ms += 100
    engine.store.apply(Upsert(make_order(99, price="95130", amount="0.5", account="other")))
    engine.store.flush()
    close(engine, 99, OrderStatus.FILLED, account="other")
    alerts.flush()
    title, text, _ = recorder.messages[-1]
    assert title == "51 alerts: Filled"  # 50 of the busy account, 1 of the other
    assert "… and 45 more (the Notice Log has them)" in text
    clock.ms += 61_000  # a quiet minute later each fill alerts again
    engine.store.apply(Upsert(make_order(70, price="95130", amount="0.5")))
    engine.store.flush()
    close(engine, 70, OrderStatus.FILLED)
    alerts.flush()
    assert recorder.messages[-1][0] == "Filled"


async def test_the_window_alerts_a_fill_and_preferences_switch_kinds(qtbot, tmp_path):
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    engine = Engine(store, notices, states)
    store.apply(Upsert(make_order(1, price="95130", amount="0.5")))
    store.flush()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings=settings)
    window.show()
    recorder = Recorder()
    window.alerts.notifier = recorder
    try:
        close(engine, 1, OrderStatus.FILLED)
        await until(lambda: recorder.messages)  # the burst ends on the loop's timer
        assert recorder.messages[0][0] == "Filled"
        dialog = window.show_preferences()
        boxes = {b.objectName(): b for b in dialog.findChildren(QCheckBox)}
        assert all(boxes[f"alert-{k}"].isChecked()
                   for k in ("fills", "venue_cancels", "refused", "connection"))
        assert not boxes["alert-sound"].isChecked()
        assert any("more than 50 fills a minute" in label.text()
                   for label in dialog.findChildren(QLabel))
        assert window.show_preferences() is dialog  # open already: one alerts section
        assert len([b for b in dialog.findChildren(QCheckBox) if b.objectName() ==
                    "alert-fills"]) == 1
        boxes["alert-fills"].setChecked(False)
        dialog.accept()
        assert not window.alerts.preferences.fills
        assert AlertPreferences.load(settings).fills is False
    finally:
        close_window(window)
        await engine.stop()


def test_a_partial_fill_of_an_open_order_alerts_with_how_much(setup):
    engine, alerts, recorder, _, _ = setup
    engine.store.apply(Upsert(make_order(1, price="95130", amount="0.5", remaining="0.2")))
    engine.store.flush()
    alerts.flush()
    assert recorder.messages[-1][:2] == (
        "Partly filled", "acct: tBTCUSD buy 0.5 @ 95,130 filled 0.3 (60%)")
    engine.store.apply(Upsert(make_order(1, price="95130", amount="0.5", remaining="0.2")))
    engine.store.flush()
    alerts.flush()
    assert len(recorder.messages) == 1  # the same rest again is no fill


def test_a_partial_fill_alerts_through_the_windows_orders_model_also_while_it_holds(tmp_path):
    """In the window the orders model, which holds every open order, hands Alerts each update
    with the order before it: a row's, and a new order's waiting while the rows hold still."""
    from PySide6.QtCore import Qt

    from blotter.ui.orders_model import Column, OrdersModel

    store = OrderStore()
    engine = Engine(store, NoticeBus(), StateBus(), Clock())
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    recorder = Recorder()
    model = OrdersModel(store, sort=(Column.CREATED, Qt.SortOrder.DescendingOrder))
    alerts = Alerts(engine, lambda: settings, recorder, None, model)
    store.apply(Upsert(make_order(1, price="95130", amount="0.5")))
    store.flush()
    store.apply(Upsert(make_order(1, price="95130", amount="0.5", remaining="0.2")))
    store.flush()
    alerts.flush()
    assert [m[:2] for m in recorder.messages] == [
        ("Partly filled", "acct: tBTCUSD buy 0.5 @ 95,130 filled 0.3 (60%)")]
    model.hold_rows(True)
    store.apply(Upsert(make_order(1, price="95130", amount="0.5", remaining="0.1")))
    store.apply(Upsert(make_order(2, price="95131", amount="1")))
    store.flush()
    store.apply(Upsert(make_order(2, price="95131", amount="1", remaining="0.25")))
    store.apply(Upsert(make_order(1, price="95130", amount="0.5", remaining="0.1")))
    store.flush()
    alerts.flush()
    title, text, _ = recorder.messages[1]
    assert title == "2 alerts: Partly filled"
    assert text.splitlines() == [
        "Partly filled — acct: tBTCUSD buy 0.5 @ 95,130 filled 0.4 (80%)",
        "Partly filled — acct: tBTCUSD buy 1 @ 95,131 filled 0.75 (75%)"]
    assert len(recorder.messages) == 2  # the same rest again is no fill
    alerts.detach()
    store.apply(Upsert(make_order(2, price="95131", amount="1", remaining="0.1")))
    store.flush()
    alerts.flush()
    assert len(recorder.messages) == 2
