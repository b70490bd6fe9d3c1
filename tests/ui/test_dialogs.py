"""The dialogs: a cancel's confirmation says how many orders on which accounts, how each will be
sent and which accounts are not live before anything is sent. (The notice log, re-exported
here, is tested in test_notice_log.py.)"""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from blotter.core.cancel import CancelScope, plan_cancels
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.ui.dialogs import CancelConfirmDialog, confirmation_lines

BFX = AccountKey("bitfinex", "bfx")
BYBIT = AccountKey("bybit", "by-1")
ACME = AccountKey("b2trader", "acme/Acme Main")
TITLES = {"bitfinex": "Bitfinex", "bybit": "Bybit", "b2trader": "Acme"}


def label(venue: str, account: str) -> str:
    return TITLES[venue]


def order(n: int, account: AccountKey) -> Order:
    return Order(
        venue=account.venue, account=account.account, order_id=str(n), symbol="BTCUSD",
        side=Side.BUY, order_type="Limit", amount=Decimal(1), remaining=Decimal(1),
        status=OrderStatus.OPEN, status_text="New", price=Decimal(100 + n),
    )


BOOK = [order(1, BYBIT), order(2, BFX), order(3, ACME), order(4, BFX), order(5, BFX),
        order(6, BYBIT)]


@pytest.fixture
def parent(qtbot) -> QWidget:
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    return window


def confirm(qtbot, parent, scope: CancelScope, orders=BOOK, plans=None) -> CancelConfirmDialog:
    plans = plan_cancels(scope, orders) if plans is None else plans
    dialog = CancelConfirmDialog(scope, plans, parent, venue_label=label)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def texts(dialog, name: str) -> list[str]:
    return [w.text() for w in dialog.findChildren(QLabel) if w.objectName() == name]


def test_cancel_all_asks_how_many_on_which_accounts(qtbot, parent):
    dialog = confirm(qtbot, parent, CancelScope.everything())
    assert dialog.windowTitle() == "Cancel All Orders"
    assert dialog.question == "Cancel 6 open orders?"
    # one line per account, in a fixed order (venue, then account)
    assert dialog.lines == ["acme/Acme Main (Acme): 1", "bfx (Bitfinex): 3", "by-1 (Bybit): 2"]
    assert dialog.summary() == "Cancel 6 open orders?\n" + "\n".join(dialog.lines)
    assert texts(dialog, "dialogTitle") == ["Cancel 6 open orders?"]
    assert texts(dialog, "dialogDetail") == ["\n".join(dialog.lines)]
    assert texts(dialog, "dialogScope") == ["All orders on every account"]
    # no promise of a venue's cancel-all: how each account is sent is its client's to say
    assert texts(dialog, "dialogNote") == []
    assert texts(dialog, "dialogRoute") == []
    assert dialog.confirm_button.text() == "Cancel 6 Orders"
    assert dialog.confirm_button.isEnabled() and dialog.confirm_button.isDefault()
    assert dialog.keep_button.text() == "Keep Orders"


def test_accounts_that_are_not_live_are_named_with_what_their_cancel_will_do(qtbot, parent):
    warnings = [
        "by-1: cannot be cancelled now: Bybit refused the API key: 10003",
        ("bfx is not connected: its 3 orders will be cancelled by REST and confirmed when it "
         "is back"),
    ]
    plans = plan_cancels(CancelScope.everything(), BOOK)
    dialog = CancelConfirmDialog(CancelScope.everything(), plans, parent, venue_label=label,
                                 warnings=warnings)
    qtbot.addWidget(dialog)
    dialog.open()
    assert texts(dialog, "dialogWarning") == warnings
    assert all(w.isVisible() for w in dialog.findChildren(QLabel)
               if w.objectName() == "dialogWarning")
    assert dialog.summary().splitlines()[-2:] == warnings
    assert dialog.confirm_button.isEnabled()  # the live accounts' orders still go
    assert texts(confirm(qtbot, parent, CancelScope.everything()), "dialogWarning") == []


def test_each_accounts_route_is_shown_as_its_client_says_it(qtbot, parent):
    routes = {"bitfinex": "one cancel-all request (all: 1)", "bybit": "",
              "b2trader": "one DELETE per order, 4 at a time (the broker has no bulk cancel)"}
    plans = plan_cancels(CancelScope.everything(), BOOK)
    dialog = CancelConfirmDialog(CancelScope.everything(), plans, parent, venue_label=label,
                                 route=lambda p: routes[p.account.venue])
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.routes == [
        "acme/Acme Main: one DELETE per order, 4 at a time (the broker has no bulk cancel)",
        "bfx: one cancel-all request (all: 1)",
    ]
    assert texts(dialog, "dialogRoute") == dialog.routes
    assert dialog.summary() == "\n".join(["Cancel 6 open orders?", *dialog.lines, *dialog.routes])


def test_a_narrow_scope_says_what_was_aimed_at(qtbot, parent):
    scope = CancelScope.for_symbol(BFX, "BTCUSD", side=Side.BUY)
    dialog = confirm(qtbot, parent, scope)
    assert dialog.windowTitle() == "Cancel Orders"
    assert texts(dialog, "dialogScope") == ["Buys of BTCUSD on bfx"]
    assert dialog.summary() == "Cancel 3 open orders?\nbfx (Bitfinex): 3"
    assert dialog.confirm_button.text() == "Cancel 3 Orders"
    sells = confirm(qtbot, parent, CancelScope.everything(Side.SELL))
    assert sells.windowTitle() == "Cancel All Sells"
    assert sells.question == "Cancel 0 open orders?"


def test_the_confirmation_is_window_modal(qtbot, parent):
    dialog = confirm(qtbot, parent, CancelScope.everything())
    assert dialog.windowModality() == Qt.WindowModality.WindowModal
    assert dialog.isVisible() and dialog.parentWidget() is parent


def test_one_account_with_one_order(qtbot, parent):
    dialog = confirm(qtbot, parent, CancelScope.for_account(ACME))
    assert dialog.windowTitle() == "Cancel Account Orders"
    assert dialog.summary() == "Cancel 1 open order?\nacme/Acme Main (Acme): 1"
    assert dialog.confirm_button.text() == "Cancel 1 Order"


def test_an_account_showing_no_rows_still_asks_the_venue(qtbot, parent):
    quiet = AccountKey("bybit", "by-quiet")
    dialog = confirm(qtbot, parent, CancelScope.for_account(quiet))
    assert dialog.summary() == "Cancel 0 open orders?\nby-quiet (Bybit): 0"
    assert dialog.confirm_button.text() == "Send Cancel All"
    assert dialog.confirm_button.isEnabled()
    assert texts(dialog, "dialogNote") == [
        "The table shows none, but the venue will be asked to cancel any it has."
    ]


def test_with_no_plans_there_is_nothing_to_confirm(qtbot, parent):
    dialog = confirm(qtbot, parent, CancelScope.everything(), orders=[])
    assert dialog.plans == []
    assert dialog.summary() == "Cancel 0 open orders?"
    assert texts(dialog, "dialogNote") == ["No account is connected: there is nothing to cancel."]
    assert texts(dialog, "dialogDetail") == []
    assert not dialog.confirm_button.isEnabled()


def test_enter_confirms_and_escape_keeps_the_orders(qtbot, parent):
    kept = confirm(qtbot, parent, CancelScope.everything())
    with qtbot.waitSignal(kept.rejected, timeout=1000):
        qtbot.keyClick(kept, Qt.Key.Key_Escape)
    confirmed = confirm(qtbot, parent, CancelScope.everything())
    with qtbot.waitSignal(confirmed.accepted, timeout=1000):
        qtbot.keyClick(confirmed, Qt.Key.Key_Return)
    again = confirm(qtbot, parent, CancelScope.everything())
    with qtbot.waitSignal(again.accepted, timeout=1000):
        qtbot.mouseClick(again.confirm_button, Qt.MouseButton.LeftButton)


def test_the_plans_shown_are_the_plans_kept(qtbot, parent):
    plans = plan_cancels(CancelScope.everything(), BOOK)
    dialog = confirm(qtbot, parent, CancelScope.everything(), plans=plans)
    assert dialog.plans == plans and dialog.plans is not plans


def test_confirmation_lines_name_the_venue_by_default():
    plans = plan_cancels(CancelScope.for_account(BFX), BOOK)
    assert confirmation_lines(plans) == ("Cancel 3 open orders?", ["bfx (bitfinex): 3"])
