"""When a cancel asks first: above N orders (1 by default), and Cancel All / Cancel Account
always unless turned off; kept in QSettings, set in the Preferences dialog."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QSettings

from blotter.core.cancel import CancelScope, plan_cancels
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.ui.preferences import (
    ALWAYS_ASK_KEY,
    CONFIRM_ABOVE_KEY,
    CancelPreferences,
    PreferencesDialog,
)

BFX = AccountKey("bitfinex", "bfx")


def book(n: int) -> list[Order]:
    return [Order(venue="bitfinex", account="bfx", order_id=str(i), symbol="tBTCUSD",
                  side=Side.BUY, order_type="LIMIT", amount=Decimal(1), remaining=Decimal(1),
                  status=OrderStatus.OPEN, status_text="ACTIVE") for i in range(n)]


def asks(preferences: CancelPreferences, scope: CancelScope, n: int) -> bool:
    return preferences.asks(scope, plan_cancels(scope, book(n)))


def test_by_default_one_order_goes_and_two_ask():
    default = CancelPreferences()
    symbol = CancelScope.for_symbol(BFX, "tBTCUSD")
    assert not asks(default, symbol, 1)
    assert asks(default, symbol, 2)
    assert asks(default, CancelScope.everything(), 1)  # always asked
    assert asks(default, CancelScope.for_account(BFX, Side.BUY), 0)


def test_the_threshold_and_the_broad_scopes_are_the_traders_to_set():
    five = CancelPreferences(confirm_above=5, always_ask_broad=False)
    assert not asks(five, CancelScope.for_symbol(BFX, "tBTCUSD"), 3)
    assert asks(five, CancelScope.for_symbol(BFX, "tBTCUSD"), 6)
    assert not asks(five, CancelScope.everything(), 5)
    assert asks(CancelPreferences(confirm_above=0), CancelScope.order(book(1)[0].key), 1)


def test_kept_in_settings_and_unreadable_values_fall_back(tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert CancelPreferences.load(settings) == CancelPreferences()
    CancelPreferences(7, False).save(settings)
    assert CancelPreferences.load(QSettings(str(tmp_path / "s.ini"),
                                            QSettings.Format.IniFormat)) == CancelPreferences(7, False)
    settings.setValue(CONFIRM_ABOVE_KEY, "lots")
    settings.setValue(ALWAYS_ASK_KEY, "yes please")
    assert CancelPreferences.load(settings) == CancelPreferences(1, True)
    settings.setValue(CONFIRM_ABOVE_KEY, -4)
    assert CancelPreferences.load(settings).confirm_above == 0


def test_the_dialog_shows_and_gives_the_preferences(qtbot):
    dialog = PreferencesDialog(CancelPreferences(3, False))
    qtbot.addWidget(dialog)
    assert dialog.confirm_above.value() == 3 and not dialog.always_ask.isChecked()
    dialog.confirm_above.setValue(10)
    dialog.always_ask.setChecked(True)
    assert dialog.preferences() == CancelPreferences(10, True)


def test_the_threshold_reads_as_words(qtbot):
    dialog = PreferencesDialog(CancelPreferences(1, True))
    qtbot.addWidget(dialog)
    assert dialog.confirm_above.text() == "1 order"
    dialog.confirm_above.setValue(2)
    assert dialog.confirm_above.text() == "2 orders"
