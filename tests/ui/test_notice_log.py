"""The notice log: newest first with the newest in view, filters by words, level, account and
kind, connection events as rows of their own, a cancel's receipt grouping its action's venue
notices and every order's outcome, earlier runs' notices, copy and CSV export."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QPushButton

from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.ui import theme
from blotter.ui.dialogs import NoticeLogDialog
from blotter.ui.notice_log_model import MESSAGE
from blotter.ui.status_bar import LoggedNotice, StatusBar, state_entry


def entry(text: str, level: Level = Level.INFO, *, second: int = 0, source: str = "",
          venue: str = "bybit", account: str = "by-1", status: str | None = None,
          details: tuple[str, ...] = (), order_ids: tuple[str, ...] = (),
          receipt: bool = False, minute: int = 30) -> LoggedNotice:
    notice = Notice(venue, account, level, text, status=status, details=details,
                    order_ids=order_ids, receipt=receipt)
    return LoggedNotice(datetime(2024, 5, 1, 9, minute, second), notice, source)


def button(dialog, text: str) -> QPushButton:
    return next(b for b in dialog.findChildren(QPushButton) if b.text() == text)


@pytest.fixture
def log(qtbot) -> NoticeLogDialog:
    dialog = NoticeLogDialog([
        entry("first", second=1, source="Bybit · by-1"),
        entry("Order not found.", Level.ERROR, second=2, source="Bitfinex · bfx",
              status="ERROR", venue="bitfinex", account="bfx"),
        entry("Demo mode", second=3, venue="blotter", account=""),
    ])
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_log_lists_newest_first(log, qtmodeltester):
    qtmodeltester.check(log.model)
    assert [log.model.headerData(c, Qt.Orientation.Horizontal) for c in range(5)] == [
        "Time", "Kind", "Source", "Action", "Message"]
    assert log.messages() == ["Demo mode", "ERROR: Order not found.", "first"]
    assert log.row(0) == ["09:30:03", "notice", "blotter", "", "Demo mode"]  # source: notice's
    assert log.row(1) == ["09:30:02", "notice", "Bitfinex · bfx", "", "ERROR: Order not found."]
    index = log.model.index(1, MESSAGE)
    assert index.data(Qt.ItemDataRole.ForegroundRole) == theme.LEVEL_COLOURS[Level.ERROR]
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "ERROR: Order not found."
    assert log.model.rowCount(log.model.index(1, 0)) == 0


def test_a_new_notice_goes_on_top_and_stays_in_view(log):
    log.add(entry("later", Level.SUCCESS, second=4, source="Acme · acme/Main"))
    assert log.row(0) == ["09:30:04", "notice", "Acme · acme/Main", "", "later"]
    assert log.model.rowCount() == 4
    # many more than fit: the newest is what the trader sees
    for n in range(200):
        log.add(entry(f"n{n}", second=5))
    assert log.table.verticalScrollBar().value() == 0
    assert log.table.indexAt(log.table.viewport().rect().topLeft()).data() == "09:30:05"
    assert log.messages()[0] == "n199"


def test_it_opens_with_the_newest_in_view(qtbot):
    dialog = NoticeLogDialog([entry(f"n{n}") for n in range(500)])
    qtbot.addWidget(dialog)
    dialog.table.scrollToBottom()
    dialog.hide()
    dialog.show()
    assert dialog.table.verticalScrollBar().value() == 0
    assert dialog.model.row_at(dialog.table.indexAt(
        dialog.table.viewport().rect().topLeft())).message == "n499"


RECEIPT_DETAILS = ("bfx · order 1 (tBTCUSD buy 1 @ 101): cancelled",
                   "bfx · order 2 (tBTCUSD buy 1 @ 102): rejected: ERROR: Order not found.")


def test_a_receipt_unfolds_to_every_orders_outcome(log, qtbot):
    receipt = entry("Cancelled 1 of 2 on bfx; 1 rejected: ERROR: Order not found. (order 2)",
                    Level.ERROR, second=5, source="Bitfinex · bfx", details=RECEIPT_DETAILS,
                    venue="bitfinex", account="bfx", order_ids=("1", "2"), receipt=True)
    log.add(receipt)
    assert log.row(0)[1:4] == ["cancel", "Bitfinex · bfx", "cancel · 2 orders"]
    assert log.details(0) == list(RECEIPT_DETAILS)
    assert not log.is_expanded(0)  # folded until asked for
    assert "every order's outcome" in log.model.index(0, MESSAGE).data(
        Qt.ItemDataRole.ToolTipRole)
    index = log.reveal(receipt.notice)
    assert index is not None and index.row() == 0
    assert log.is_expanded(0) and log.current().notice is receipt.notice
    assert log.reveal(Notice("bybit", "by-1", Level.INFO, "never logged")) is None
    # the receipt is copied with its lines
    qtbot.mouseClick(button(log, "Copy"), Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text().split("\n") == [
        ("09:30:05\tcancel\tBitfinex · bfx\tcancel · 2 orders\tCancelled 1 of 2 on bfx; "
         "1 rejected: ERROR: Order not found. (order 2)"),
        *(f"\t\t\t\t  {line}" for line in RECEIPT_DETAILS),
    ]


def test_a_cancel_groups_its_venue_notices_under_its_receipt(qtbot):
    dialog = NoticeLogDialog([
        entry("Order 1 canceled earlier", venue="bitfinex", account="bfx", order_ids=("1",),
              second=1),
        entry("Cancelled 1 of 1 on bfx", Level.SUCCESS, venue="bitfinex", account="bfx",
              order_ids=("1",), receipt=True, second=2),
        entry("Submitting cancel of 2 orders", venue="bitfinex", account="bfx",
              order_ids=("1", "2"), second=3),
        entry("BTCUSDT filled", venue="bybit", account="by-1", order_ids=("2",), second=4),
        entry("Order 2: Order not found.", Level.ERROR, venue="bitfinex", account="bfx",
              order_ids=("2",), second=5),
        entry("unrelated", venue="bitfinex", account="bfx", order_ids=("9",), second=6),
    ])
    qtbot.addWidget(dialog)
    dialog.add(entry("Cancelled 1 of 2 on bfx", Level.ERROR, venue="bitfinex", account="bfx",
                     order_ids=("1", "2"), receipt=True, details=RECEIPT_DETAILS, second=7))
    # the action's venue notices moved under its receipt, oldest first, then the outcomes;
    # another venue's notice and the earlier action's stay where they were
    assert dialog.messages() == ["Cancelled 1 of 2 on bfx", "unrelated", "BTCUSDT filled",
                                 "Cancelled 1 of 1 on bfx"]
    assert dialog.details(3) == ["Order 1 canceled earlier"]  # the earlier action's own
    assert dialog.details(0) == ["Submitting cancel of 2 orders", "Order 2: Order not found.",
                                 *RECEIPT_DETAILS]
    child = dialog.model.index(0, 3, dialog.model.index(0, 0))
    assert child.data() == "cancel · 2 orders"  # each line says its action
    assert dialog.model.parent(child).row() == 0
    # the text filter finds an action by a line under it
    dialog.set_filter(text="not found")
    assert dialog.messages() == ["Cancelled 1 of 2 on bfx"]


def test_filters_by_words_level_account_and_kind(qtbot):
    dialog = NoticeLogDialog([
        entry("BTCUSDT buy filled", venue="bybit", account="by-1", second=1),
        entry("Order not found.", Level.ERROR, venue="bitfinex", account="bfx", second=2),
        entry("is stale", Level.WARNING, venue="bitfinex", account="bfx", second=3),
        state_entry(AccountState("bybit", "by-1", VenueState.FAILED, "API key is invalid."),
                    datetime(2024, 5, 1, 9, 30, 4), "Bybit · by-1"),
        entry("Cancelled 2 of 2: Bitfinex 1, Bybit 1", Level.SUCCESS, venue="blotter",
              account="", receipt=True, order_ids=("7", "8"), second=5,
              details=("bfx · order 7: cancelled", "by-1 · order 8: cancelled")),
    ])
    qtbot.addWidget(dialog)
    assert dialog.row(1) == ["09:30:04", "connection", "Bybit · by-1", "",
                             "failed: API key is invalid."]
    dialog.set_filter(text="FILLED btcusdt")
    assert dialog.messages() == ["BTCUSDT buy filled"]
    dialog.set_filter(level="errors")
    assert dialog.messages() == ["failed: API key is invalid.", "Order not found."]
    dialog.set_filter(level="warnings")
    assert dialog.messages() == ["failed: API key is invalid.", "is stale", "Order not found."]
    assert dialog.count_label.text() == "3 of 5"
    # an account: its notices, its connection events, and the actions that touched it
    accounts = [dialog.account_box.itemText(i) for i in range(dialog.account_box.count())]
    assert accounts == ["All accounts", "by-1", "bfx"]
    dialog.set_filter(account="by-1")
    assert dialog.messages() == ["Cancelled 2 of 2: Bitfinex 1, Bybit 1",
                                 "failed: API key is invalid.", "BTCUSDT buy filled"]
    dialog.set_filter(kind="connection")
    assert dialog.messages() == ["failed: API key is invalid."]
    dialog.set_filter(kind="cancel", account="bfx")
    assert dialog.messages() == ["Cancelled 2 of 2: Bitfinex 1, Bybit 1"]
    dialog.set_filter()
    assert len(dialog.messages()) == 5
    # a new line the filter refuses is not shown, one it lets through is
    dialog.set_filter(level="errors")
    dialog.add(entry("fine", second=6))
    dialog.add(entry("refused", Level.ERROR, second=7))
    assert dialog.messages()[0] == "refused" and "fine" not in dialog.messages()


def test_earlier_runs_notices_come_below_this_runs(qtbot):
    past = [entry("yesterday's fill", minute=1), entry("yesterday's error", Level.ERROR,
                                                       minute=2)]
    dialog = NoticeLogDialog([entry("today", minute=40)], history=lambda: past)
    qtbot.addWidget(dialog)
    assert dialog.messages() == ["today", "yesterday's error", "yesterday's fill"]


def test_copy_gives_the_selected_rows_else_all(log, qtbot):
    log.copy_selected()
    assert QGuiApplication.clipboard().text().split("\n") == [
        "09:30:03\tnotice\tblotter\t\tDemo mode",
        "09:30:02\tnotice\tBitfinex · bfx\t\tERROR: Order not found.",
        "09:30:01\tnotice\tBybit · by-1\t\tfirst",
    ]
    log.table.setCurrentIndex(log.model.index(1, 0))
    qtbot.mouseClick(button(log, "Copy"), Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == (
        "09:30:02\tnotice\tBitfinex · bfx\t\tERROR: Order not found."
    )


def test_export_writes_the_filtered_notices_to_csv(log, tmp_path):
    log.add(entry("Cancelled 1 of 2 on bfx", Level.ERROR, second=5, venue="bitfinex",
                  account="bfx", source="Bitfinex · bfx", order_ids=("1", "2"), receipt=True, details=RECEIPT_DETAILS))
    log.set_filter(account="bfx")
    path = tmp_path / "notices.csv"
    assert log.export_to(path) == 4
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["time_utc", "kind", "level", "venue", "account", "source", "action",
                       "message", "order_ids"]
    when = datetime(2024, 5, 1, 9, 30, 5).astimezone(UTC)
    assert rows[1] == [when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "cancel", "error", "bitfinex",
                       "bfx", "Bitfinex · bfx", "cancel · 2 orders", "Cancelled 1 of 2 on bfx",
                       "1 2"]
    assert [r[1] for r in rows[1:]] == ["cancel", "outcome", "outcome", "notice"]
    assert rows[2][7] == RECEIPT_DETAILS[0]
    assert rows[4][7] == "ERROR: Order not found."
    assert f"Exported 4 lines to {path}" == log.count_label.text()
    # the button asks where, without a modal loop of its own
    qtbot_dialog = log.choose_export()
    assert isinstance(qtbot_dialog, QFileDialog) and qtbot_dialog.isVisible()
    other = tmp_path / "chosen.csv"
    qtbot_dialog.fileSelected.emit(str(other))
    assert other.exists() and log.exported == other
    qtbot_dialog.close()
    # a place that cannot be written says so
    assert log.export_to(tmp_path / "missing" / "x.csv") == 0
    assert log.count_label.text().startswith("Could not export to")


def test_thousands_of_notices_filter_and_trim(qtbot):
    dialog = NoticeLogDialog([entry(f"n{n}", account=f"acc{n % 7}") for n in range(3000)],
                             max_entries=2000)
    qtbot.addWidget(dialog)
    assert dialog.model.rowCount() == 2000
    assert dialog.messages()[0] == "n2999" and dialog.messages()[-1] == "n1000"
    dialog.set_filter(account="acc3")
    assert all(int(m[1:]) % 7 == 3 for m in dialog.messages())
    assert len(dialog.messages()) == sum(1 for n in range(1000, 3000) if n % 7 == 3)
    for n in range(300):
        dialog.add(entry(f"m{n}", account="acc3"))
    assert dialog.model.all_rows() <= 2200 and dialog.messages()[0] == "m299"


async def test_connection_events_reach_the_log_once_per_change(qtbot):
    notices, states = NoticeBus(), StateBus()
    states.publish(AccountState("bybit", "by-1", VenueState.CONNECTING))
    bar = StatusBar(notices, states)
    qtbot.addWidget(bar)
    logged: list[LoggedNotice] = []
    bar.connection_logged.connect(logged.append)
    states.publish(AccountState("bybit", "by-1", VenueState.LIVE))
    states.publish(AccountState("bybit", "by-1", VenueState.LIVE))  # the same: no new row
    states.publish(AccountState("bybit", "by-1", VenueState.STALE, "no message for 12 s"))
    states.publish(AccountState("bybit", "by-1", VenueState.RECONNECTING, "closed 1006",
                                attempt=2, retry_in=4.0))
    notices.publish(Notice("bybit", "by-1", Level.INFO, "a notice"))
    assert [e.notice.text for e in logged] == [
        "live", "stale: no message for 12 s",
        "reconnecting (attempt 2, next try in 4 s): closed 1006"]
    assert [e.notice.level for e in logged] == [Level.SUCCESS, Level.WARNING, Level.WARNING]
    assert [e.kind for e in bar.entries()] == ["connection"] * 4 + ["notice"]
    assert [e.notice.text for e in bar.log] == ["a notice"]  # the notices alone
    dialog = NoticeLogDialog(bar.entries())
    qtbot.addWidget(dialog)
    assert dialog.messages()[:2] == ["a notice",
                                     "reconnecting (attempt 2, next try in 4 s): closed 1006"]
    assert dialog.messages()[-1] == "connecting"
