"""The dialogs: the Cancel All / Cancel Account confirmation says how many orders on which
accounts before anything is sent, and the notice log lists what the venues said, newest first."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from blotter.core.cancel import CancelScope, plan_cancels
from blotter.core.notices import Level, Notice
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.ui import theme
from blotter.ui.dialogs import CancelConfirmDialog, NoticeLogDialog, confirmation_lines
from blotter.ui.status_bar import LoggedNotice

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
    assert texts(dialog, "dialogNote") == [
        "Uses each venue's own cancel-all, so orders not yet shown here go too."
    ]
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


# -- the notice log -----------------------------------------------------------------------
def entry(text: str, level: Level = Level.INFO, *, second: int = 0, source: str = "",
          venue: str = "bybit", account: str = "by-1", status: str | None = None) -> LoggedNotice:
    notice = Notice(venue, account, level, text, status=status)
    return LoggedNotice(datetime(2024, 5, 1, 9, 30, second), notice, source)


def row(dialog: NoticeLogDialog, r: int) -> list[str]:
    return [dialog.table.item(r, c).text() for c in range(dialog.table.columnCount())]


@pytest.fixture
def log(qtbot) -> NoticeLogDialog:
    dialog = NoticeLogDialog([
        entry("first", second=1, source="Bybit · by-1"),
        entry("Order not found.", Level.ERROR, second=2, source="Bitfinex · bfx",
              status="ERROR"),
        entry("Demo mode", second=3, venue="blotter", account=""),
    ])
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_log_lists_newest_first(log):
    assert [log.table.horizontalHeaderItem(c).text() for c in range(3)] == [
        "Time", "Source", "Message"
    ]
    assert log.messages() == ["Demo mode", "ERROR: Order not found.", "first"]
    assert row(log, 0) == ["09:30:03", "blotter", "Demo mode"]  # its source, from the notice
    assert row(log, 1) == ["09:30:02", "Bitfinex · bfx", "ERROR: Order not found."]
    assert log.table.item(1, 2).foreground().color() == theme.LEVEL_COLOURS[Level.ERROR]
    assert log.table.item(1, 2).toolTip() == "ERROR: Order not found."


def test_a_new_notice_goes_on_top(log):
    log.add(entry("later", Level.SUCCESS, second=4, source="Acme · acme/Main"))
    assert row(log, 0) == ["09:30:04", "Acme · acme/Main", "later"]
    assert log.table.rowCount() == 4


def test_copy_gives_the_selected_rows_else_all(log, qtbot):
    log.copy_selected()
    assert QGuiApplication.clipboard().text().split("\n") == [
        "09:30:03\tblotter\tDemo mode",
        "09:30:02\tBitfinex · bfx\tERROR: Order not found.",
        "09:30:01\tBybit · by-1\tfirst",
    ]
    log.table.selectRow(1)
    copy = next(b for b in log.findChildren(QPushButton) if b.text() == "Copy")
    qtbot.mouseClick(copy, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == (
        "09:30:02\tBitfinex · bfx\tERROR: Order not found."
    )


def test_the_log_keeps_at_most_two_thousand_rows(qtbot):
    dialog = NoticeLogDialog([entry(f"n{n}") for n in range(2001)])
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 2000
    assert dialog.messages()[0] == "n2000" and dialog.messages()[-1] == "n1"
