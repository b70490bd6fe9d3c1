"""Window behaviour that needs no venue: a scripted fake client stands in for the real one.
(What the cancel actions say and request on their own is tests/ui/test_cancel_actions.py.)"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, Order, OrderStatus, Side, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities
from blotter.engine import Engine
from blotter.ui import theme
from blotter.ui.empty_state import NO_ACCOUNTS
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import Column
from tests.helpers import until
from tests.ui.conftest import close_window, select_row

ACCOUNT = AccountKey("bybit", "by-1")


def order(n: int, group: str | None = None, symbol: str = "BTCUSDT") -> Order:
    return Order(
        venue=ACCOUNT.venue, account=ACCOUNT.account, order_id=str(n), symbol=symbol,
        side=Side.SELL if n % 2 else Side.BUY, order_type="Limit", amount=Decimal("1.5"),
        remaining=Decimal("1.5"), status=OrderStatus.OPEN, status_text="New",
        price=Decimal(100 + n), group_id=group, created_ms=1_700_000_000_000 + n,
    )


class FakeClient:
    """A venue client without a venue: the VenueClient surface, answering from memory."""

    connection_note = ""
    venue_label = "Bybit"
    cancel_timeout = 10.0
    last_message_ms: int | None = None  # no frames: there is no stream

    def __init__(self, store: OrderStore, states: StateBus, caps: Capabilities) -> None:
        self.account = ACCOUNT
        self.capabilities = caps
        self.store = store
        self.states = states
        self.plans: list[CancelPlan] = []
        self.hold: asyncio.Event | None = None  # when set, cancels wait for it
        self.fail: Exception | None = None

    async def run(self) -> None:
        self.states.publish(AccountState(ACCOUNT.venue, ACCOUNT.account, VenueState.LIVE))
        self.store.apply(Snapshot(ACCOUNT, tuple(order(n, "g1" if n < 2 else None)
                                                 for n in range(4))))
        await asyncio.Event().wait()

    def cancel_route(self, plan: CancelPlan) -> str:
        return ""  # a client with nothing to say about its route: none is shown

    async def cancel(self, plan: CancelPlan) -> CancelResult:
        self.plans.append(plan)
        if self.fail is not None:
            raise self.fail
        self.store.begin_cancel(plan.orders)
        if self.hold is not None:
            await self.hold.wait()
        result = CancelResult(plan)
        for o in plan.orders:
            self.store.apply(Closed(o))
            result.outcomes[o.key] = OrderOutcome(o.key, Outcome.CANCELLED, "Cancelled")
        return result

    def serves(self, account: AccountKey) -> bool:
        return account == ACCOUNT

    def accounts(self) -> tuple[AccountKey, ...]:
        return (ACCOUNT,)

    async def check(self) -> bool:
        return True

    def reconnect_now(self) -> None:
        pass

    async def probe(self) -> str | None:
        return None

    async def close(self) -> None:
        pass


@pytest.fixture
async def fake(qtbot, tmp_path):
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    engine = Engine(store, notices, states)
    client = FakeClient(store, states, Capabilities(
        group_cancel=False, cancel_all=True, dead_man_switch=False,
        group_cancel_reason="Bybit has no order groups.",
    ))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings=settings)
    window.show()
    window.activateWindow()
    engine.add_client(client)
    await until(lambda: window.proxy.rowCount() == 4)
    await until(lambda: window.stack.currentWidget() is window.view)
    try:
        yield window, engine, client
    finally:
        close_window(window)
        await engine.stop()


def proxy_row(window: MainWindow, order_id: str) -> int:
    for r in range(window.proxy.rowCount()):
        if window.proxy.index(r, Column.ORDER_ID).data() == order_id:
            return r
    raise AssertionError(order_id)


async def test_context_menu_lists_the_cancel_actions(fake, qtbot):
    window, _, _ = fake
    view = window.view
    rect = view.visualRect(window.proxy.index(proxy_row(window, "1"), Column.SYMBOL))
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, rect.center(), view.viewport().mapToGlobal(rect.center())
    )
    QApplication.sendEvent(view.viewport(), event)
    menu = view.context_menu
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == [
        "Cancel Order", "Cancel Selected (1)", "Cancel 4 visible of 4", "Cancel Group g1",
        "Cancel BTCUSDT on by-1", "Cancel BTCUSDT Buys on by-1", "Cancel BTCUSDT Sells on by-1",
        "Cancel BTCUSDT on Every Bybit Account", "Cancel Account by-1…", "Cancel All…",
    ]
    assert view.current_order().order_id == "1"  # the row under the cursor became the choice
    group = next(a for a in menu.actions() if a.text() == "Cancel Group g1")
    assert not group.isEnabled() and "no order groups" in group.toolTip()
    menu.close()


async def test_pending_row_ignores_a_second_click(fake, qtbot):
    window, _, client = fake
    client.hold = asyncio.Event()
    row = proxy_row(window, "2")
    index = window.proxy.index(row, Column.CANCEL)
    pos = window.view.cancel_button_rect(index).center()
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    await until(lambda: window.proxy.index(proxy_row(window, "2"), Column.STATUS).data()
                == "Cancelling…")
    await until(lambda: "1 cancelling" in window.windowTitle())
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    await asyncio.sleep(0.05)
    assert len(client.plans) == 1
    client.hold.set()
    await until(lambda: window.proxy.rowCount() == 3)


async def test_a_failing_cancel_becomes_an_error_notice(fake, monkeypatch):
    window, engine, _ = fake

    async def broken(scope, plans=None, prove=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "cancel", broken)
    select_row(window.view, proxy_row(window, "1"))
    window.actions_.order.trigger()
    await until(lambda: "boom" in window.status_bar.text)
    assert window.status_bar.text == "blotter — Cancel of order 1 failed: boom"
    assert window.status_bar.latest.level is Level.ERROR
    await until(lambda: not window.pending_tasks)
    assert window.proxy.rowCount() == 4  # nothing pretended to be cancelled


async def test_client_error_is_reported_not_swallowed(fake):
    window, _, client = fake
    client.fail = ConnectionError("socket closed")
    select_row(window.view, proxy_row(window, "3"))
    window.actions_.order.trigger()
    await until(lambda: "socket closed" in window.status_bar.text)
    assert window.status_bar.latest.level is Level.ERROR
    # back as it was, marked as refused until the venue changes it
    assert window.proxy.index(proxy_row(window, "3"), Column.STATUS).data() == "⚠ rejected · Open"


async def test_cancel_account_asks_and_counts(fake):
    window, _, client = fake
    select_row(window.view, 0)
    window.actions_.account.trigger()
    dialog = window.confirm_dialog
    assert dialog is not None and dialog.windowModality() == Qt.WindowModality.WindowModal
    assert dialog.summary() == "Cancel 4 open orders?\nby-1 (Bybit): 4"
    dialog.accept()
    await until(lambda: window.model.rowCount() == 0)
    assert [p.kind.value for p in client.plans] == ["account"]


async def test_the_confirmed_plan_is_the_plan_that_is_sent(fake):
    # The dialog said "4 orders"; an order that arrives while the trader reads it is not
    # silently added to what was confirmed (the venue's own cancel-all still reaches it).
    window, engine, client = fake
    select_row(window.view, 0)
    window.actions_.account.trigger()
    dialog = window.confirm_dialog
    assert dialog is not None and dialog.summary() == "Cancel 4 open orders?\nby-1 (Bybit): 4"
    engine.store.apply(Upsert(order(9)))
    await until(lambda: window.model.rowCount() == 5)
    dialog.accept()
    await until(lambda: len(client.plans) == 1)
    assert sorted(o.order_id for o in client.plans[0].orders) == ["0", "1", "2", "3"]
    assert client.plans[0].everything  # the venue still cancels what it has for the account


async def test_status_bar_notice_and_log(fake, qtbot):
    window, engine, _ = fake
    engine.notices.publish(Notice("bybit", "by-1", Level.ERROR, "Order does not exist.", "110001"))
    bar = window.status_bar
    assert bar.text == "Bybit · by-1 — 110001: Order does not exist."
    assert theme.LEVEL_COLOURS[Level.ERROR].name() in bar.notice_label.styleSheet()
    engine.notices.publish(Notice("bybit", "by-1", Level.SUCCESS, "OK", "0"))
    # a second notice within 100 ms waits for the throttle; the line shows it then
    await until(lambda: bar.notice_label.text() == "Bybit · by-1 — 0: OK")
    assert theme.LEVEL_COLOURS[Level.SUCCESS].name() in bar.notice_label.styleSheet()
    qtbot.mouseClick(bar.notice_label, Qt.MouseButton.LeftButton)
    log = window.notice_log
    assert log is not None and log.isVisible()
    assert log.messages()[:2] == ["0: OK", "110001: Order does not exist."]
    engine.notices.publish(Notice("blotter", "", Level.INFO, "later"))
    assert log.messages()[0] == "later"
    assert log.row(0)[0].count(":") == 2  # hh:mm:ss


async def test_connection_indicator_follows_states(fake):
    window, engine, _ = fake
    indicator = window.status_bar.indicator(ACCOUNT)
    assert indicator.dot.colour == theme.STATE_COLOURS[VenueState.LIVE]
    engine.states.publish(AccountState("bybit", "by-1", VenueState.FAILED, "API key is invalid."))
    assert indicator.dot.colour == theme.STATE_COLOURS[VenueState.FAILED]
    assert indicator.toolTip().splitlines()[0] == "by-1 (Bybit): failed — API key is invalid."
    # in words, not only a colour, and the venue's reason in the status bar itself
    assert indicator.label.text() == "by-1 failed: API key is invalid."
    engine.states.publish(AccountState("bybit", "by-1", VenueState.LIVE))
    assert indicator.label.text() == "by-1"


async def test_filter_box_and_find_shortcut(fake, qtbot):
    window, _, _ = fake
    await until(lambda: QApplication.activeWindow() is window, timeout=2)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.filter_edit.hasFocus()
    qtbot.keyClicks(window.filter_edit, "zzz")
    await until(lambda: window.empty.title.text() == "No orders match")
    assert window.stack.currentWidget() is window.empty
    assert "zzz" in window.empty.detail.text()
    qtbot.keyClick(window.filter_edit, Qt.Key.Key_Escape)
    assert window.filter_edit.text() == ""
    await until(lambda: window.stack.currentWidget() is window.view)
    assert window.view.hasFocus()


async def test_column_widths_are_saved_and_restored(fake, qtbot, tmp_path):
    window, engine, _ = fake
    # (Status takes what the other columns leave: the width the trader sets is another's)
    window.view.setColumnWidth(Column.SYMBOL, 233)
    window.save_settings()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    again = MainWindow(engine, settings=settings)
    qtbot.addWidget(again)
    again.resize(1440, 760)
    again.show()
    await until(lambda: again.view.columnWidth(Column.SYMBOL) > 0)
    assert again.view.columnWidth(Column.SYMBOL) == 233


def test_no_accounts_shows_how_to_start(qtbot, tmp_path):
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    window = MainWindow(
        engine, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    window.show()
    assert window.stack.currentWidget() is window.empty
    assert window.empty.detail.text() == NO_ACCOUNTS
    assert not window.actions_.all.isEnabled()
    assert window.windowTitle() == "blotter — 0 open orders"


async def test_copy_and_escape_in_the_table(fake, qtbot):
    window, _, _ = fake
    select_row(window.view, proxy_row(window, "1"))
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    text = QApplication.clipboard().text().splitlines()
    assert text[0].startswith("Account\tSymbol\tSide")  # the columns in view
    assert text[1].startswith("by-1\tBTCUSDT\tSell\tLimit\t101\t\t1.5\t1.5\t0\tOpen\t")
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert window.view.selected_orders() == []
    assert not window.actions_.order.isEnabled()


async def test_in_a_narrow_window_the_filter_stays_in_view_and_ctrl_f_reaches_it(fake, qtbot):
    # at 1024 px the toolbar folds its tail into the overflow menu: the filter is not there
    window, _, _ = fake
    window.resize(1024, 700)
    await until(lambda: QApplication.activeWindow() is window, timeout=2)
    await until(lambda: window.width() == 1024, timeout=2)
    assert window.filter_edit.isVisible()
    left = window.filter_edit.mapTo(window, QPoint(0, 0)).x()
    assert 0 <= left and left + window.filter_edit.width() <= window.width()  # wholly in view
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.filter_edit.hasFocus()
