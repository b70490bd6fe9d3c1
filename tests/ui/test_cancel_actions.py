"""The cancel actions: enabled and labelled for the current row and what its venue can do (a
venue without groups says why in its own words), and each hands over the right CancelScope."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from blotter.core.cancel import CancelScope
from blotter.core.order import AccountKey, Order, OrderStatus, Side, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities
from blotter.ui.cancel_actions import CancelActions
from blotter.ui.orders_model import Column, OrdersModel
from blotter.ui.orders_view import OrdersProxyModel, OrdersView
from tests.ui.conftest import select_row

BYBIT = AccountKey("bybit", "by-1")
BITFINEX = AccountKey("bitfinex", "bfx")
GONE = AccountKey("bitfinex", "bfx-gone")  # rows still shown, client no longer there

CAPS = {
    BYBIT: Capabilities(group_cancel=False, cancel_all=True, dead_man_switch=False,
                        group_cancel_reason="Bybit has no order groups."),
    BITFINEX: Capabilities(group_cancel=True, cancel_all=True, dead_man_switch=True),
}


def order(n: int, account: AccountKey = BYBIT, group: str | None = None,
          symbol: str = "BTCUSDT") -> Order:
    return Order(
        venue=account.venue, account=account.account, order_id=str(n), symbol=symbol,
        side=Side.SELL if n % 2 else Side.BUY, order_type="Limit", amount=Decimal("1.5"),
        remaining=Decimal("1.5"), status=OrderStatus.OPEN, status_text="New",
        price=Decimal(100 + n), group_id=group, created_ms=1_700_000_000_000 + n,
    )


@dataclass
class Bench:
    store: OrderStore
    proxy: OrdersProxyModel
    view: OrdersView
    actions: CancelActions
    requested: list[CancelScope]

    def row(self, order_id: str) -> int:
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, Column.ORDER_ID).data() == order_id:
                return r
        raise AssertionError(order_id)

    def select(self, *order_ids: str) -> None:
        for i, order_id in enumerate(order_ids):
            select_row(self.view, self.row(order_id), add=i > 0)


def bench(qtbot, orders: list[Order]) -> Bench:
    store = OrderStore()
    for o in orders:
        store.apply(Upsert(o))
    store.flush()
    model = OrdersModel(store)
    proxy = OrdersProxyModel()
    proxy.setSourceModel(model)
    view = OrdersView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    actions = CancelActions(view, CAPS.get, view)
    # as the window does: the actions follow the current row and the selection
    selection = view.selectionModel()
    selection.selectionChanged.connect(actions.refresh)
    selection.currentChanged.connect(actions.refresh)
    requested: list[CancelScope] = []
    actions.requested.connect(requested.append)
    return Bench(store, proxy, view, actions, requested)


@pytest.fixture
def bybit(qtbot) -> Bench:
    return bench(qtbot, [order(n, group="g1" if n < 2 else None) for n in range(4)])


@pytest.fixture
def mixed(qtbot) -> Bench:
    return bench(qtbot, [
        order(1, BITFINEX, group="7", symbol="tBTCUSD"),
        order(2, BITFINEX, group="7", symbol="tBTCUSD"),
        order(3, BITFINEX, symbol="tETHUSD"),
        order(4, GONE, group="9", symbol="tBTCUSD"),
        order(5, BYBIT),
    ])


def test_group_cancel_disabled_with_the_venues_reason(bybit):
    select_row(bybit.view, bybit.row("0"))
    group = bybit.actions.group
    assert not group.isEnabled()
    assert group.toolTip() == "Bybit has no order groups."
    select_row(bybit.view, bybit.row("3"))
    assert not group.isEnabled()
    # on a venue without groups the venue's reason comes first, not "not in a group"
    assert group.toolTip() == "Bybit has no order groups."
    assert group.text() == "Cancel Group"
    assert bybit.actions.symbol.isEnabled()
    assert bybit.actions.symbol.text() == "Cancel BTCUSDT on by-1"


def test_on_a_venue_without_groups_a_grouped_row_still_names_its_group(bybit):
    select_row(bybit.view, bybit.row("1"))
    assert bybit.actions.group.text() == "Cancel Group g1"
    assert not bybit.actions.group.isEnabled()
    bybit.actions.group.trigger()
    assert bybit.requested == []


def state(action) -> tuple[bool, str, str]:
    return action.isEnabled(), action.text(), action.toolTip()


def test_with_no_row_chosen_only_cancel_all_is_offered(mixed):
    a = mixed.actions
    assert state(a.order) == (False, "Cancel Order", "Select an order to cancel it")
    assert state(a.selected) == (False, "Cancel Selected", "Select orders to cancel them together")
    assert state(a.group) == (False, "Cancel Group", "Select an order of a group")
    assert state(a.symbol) == (False, "Cancel Symbol", "Select an order of the symbol")
    assert state(a.account) == (False, "Cancel Account…", "Select an order of the account")
    assert state(a.all) == (
        True, "Cancel All…",
        "Cancel every open order on every account (asks first) (Ctrl+Shift+X)",
    )


def test_the_actions_are_labelled_for_the_current_row(mixed):
    mixed.select("1")
    a = mixed.actions
    assert state(a.order) == (True, "Cancel Order", "Cancel order 1 (tBTCUSD on bfx) (Del)")
    assert a.order.statusTip() == "Cancel order 1 (tBTCUSD on bfx)"  # no shortcut there
    assert state(a.selected) == (True, "Cancel Selected (1)",
                                 "Cancel the 1 selected orders (Shift+Del)")
    assert state(a.group) == (True, "Cancel Group 7",
                              "Cancel every order of group 7 on bfx (Ctrl+G)")
    assert state(a.symbol) == (True, "Cancel tBTCUSD on bfx",
                               "Cancel every tBTCUSD order on bfx (Ctrl+Shift+S)")
    assert state(a.account) == (True, "Cancel Account bfx…",
                                "Cancel every open order on bfx (asks first) (Ctrl+Shift+A)")
    assert a.account.iconText() == "Cancel Account"  # the toolbar keeps its short label


def test_a_row_outside_any_group_says_so(mixed):
    mixed.select("3")
    assert state(mixed.actions.group) == (False, "Cancel Group", "This order is not in a group")


def test_a_row_of_an_account_that_is_not_connected_cannot_cancel_its_group(mixed):
    mixed.select("4")
    assert state(mixed.actions.group) == (False, "Cancel Group 9", "bfx-gone is not connected")
    assert mixed.actions.symbol.isEnabled()  # the engine says what became of it


def test_a_row_being_cancelled_is_not_offered_again(mixed):
    mixed.store.begin_cancel([order(2, BITFINEX, group="7", symbol="tBTCUSD")])
    mixed.store.flush()
    mixed.select("2")
    assert state(mixed.actions.order) == (False, "Cancel Order", "Cancel was sent for order 2")
    mixed.actions.order.trigger()
    assert mixed.requested == []
    mixed.select("1", "2", "3")
    assert mixed.actions.selected.text() == "Cancel Selected (2)"  # the pending row not counted
    mixed.actions.selected.trigger()
    keys = [order(n, BITFINEX).key for n in (1, 3)]
    assert mixed.requested == [CancelScope.selected(keys)]


def test_each_action_requests_its_scope(mixed):
    mixed.select("2")
    a = mixed.actions
    for action in (a.order, a.group, a.symbol, a.buys, a.sells, a.everywhere, a.account,
                   a.account_buys, a.account_sells, a.all, a.all_buys, a.all_sells):
        action.trigger()
    mixed.select("5", "1")
    a.selected.trigger()
    two = order(2, BITFINEX, group="7", symbol="tBTCUSD")
    assert mixed.requested == [
        CancelScope.order(two.key),
        CancelScope.group(BITFINEX, "7"),
        CancelScope.for_instrument(two),
        CancelScope.for_instrument(two, Side.BUY),
        CancelScope.for_instrument(two, Side.SELL),
        CancelScope.symbol_everywhere("bitfinex", "tBTCUSD"),
        CancelScope.for_account(BITFINEX),
        CancelScope.for_account(BITFINEX, Side.BUY),
        CancelScope.for_account(BITFINEX, Side.SELL),
        CancelScope.everything(),
        CancelScope.everything(Side.BUY),
        CancelScope.everything(Side.SELL),
        CancelScope.selected([order(1, BITFINEX).key, order(5, BYBIT).key]),  # table order
    ]


def test_symbol_means_the_rows_instrument_and_says_which(qtbot):
    linear = order(1, symbol="BTCUSDT")
    linear = Order(**{**{f: getattr(linear, f) for f in linear.__dataclass_fields__},
                      "category": "linear"})
    b = bench(qtbot, [linear])
    b.select("1")
    a = b.actions
    assert state(a.symbol) == (True, "Cancel BTCUSDT Linear on by-1",
                               "Cancel every BTCUSDT Linear order on by-1 (Ctrl+Shift+S)")
    assert state(a.buys) == (True, "Cancel BTCUSDT Linear Buys on by-1",
                             "Cancel every buy order of BTCUSDT Linear on by-1 (Alt+B)")
    assert state(a.sells)[1] == "Cancel BTCUSDT Linear Sells on by-1"
    assert state(a.everywhere) == (
        True, "Cancel BTCUSDT Linear on Every bybit Account",
        "Cancel every BTCUSDT Linear order on every bybit account (Ctrl+Shift+E)")
    a.symbol.trigger()
    assert b.requested == [CancelScope.for_symbol(BYBIT, "BTCUSDT", "linear")]


def test_delete_follows_the_selection(mixed):
    a = mixed.actions
    mixed.select("1", "3")
    assert state(a.order) == (True, "Cancel 2 Selected", "Cancel the 2 selected orders (Del)")
    a.order.trigger()
    mixed.select("3")
    a.order.trigger()
    assert mixed.requested == [
        CancelScope.selected([order(1, BITFINEX).key, order(3, BITFINEX).key]),
        CancelScope.order(order(3, BITFINEX).key),
    ]


def test_cancel_visible_takes_the_rows_the_filter_shows(mixed):
    a = mixed.actions
    assert state(a.visible) == (True, "Cancel 5 visible of 5",
                                "Cancel the 5 orders the filter shows (of 5 open) (Ctrl+Shift+V)")
    mixed.proxy.set_filter_text("tbtcusd")
    a.refresh()
    assert a.visible.text() == "Cancel 3 visible of 5"
    a.visible.trigger()
    shown = [mixed.proxy.index(r, Column.ORDER_ID).data() for r in range(3)]
    assert mixed.requested == [
        CancelScope.visible(next(o.key for o in mixed.store if o.order_id == oid)
                            for oid in shown)
    ]
    assert sorted(shown) == ["1", "2", "4"]
    mixed.proxy.set_filter_text("nothing like it")
    a.refresh()
    assert state(a.visible) == (False, "Cancel Visible", "No order is shown")


def test_the_key_of_an_action_that_cannot_run_says_why(mixed):
    a = mixed.actions
    assert a.refusal(QKeySequence("Delete")) == "Cancel Order: Select an order to cancel it"
    mixed.select("3")
    assert a.refusal(QKeySequence("Ctrl+G")) == "Cancel Group: This order is not in a group"
    assert a.refusal(QKeySequence("Delete")) is None  # it can run
    assert a.refusal(QKeySequence("Ctrl+K")) is None  # not a cancel key
    a.refresh(open_tab=False)  # the open orders are out of sight
    assert not a.order.isEnabled() and not a.visible.isEnabled()
    assert a.refusal(QKeySequence("Delete")) == (
        "Cancel Order: Switch to the open orders (Ctrl+1) to cancel")
    assert a.all.isEnabled()


def test_shortcuts_and_menu_layout(mixed):
    a = mixed.actions
    keyed = [x for x in a.actions() if not x.shortcut().isEmpty()]
    assert {x.objectName(): x.shortcut().toString() for x in keyed} == {
        "cancel-order": "Del", "cancel-selected": "Shift+Del", "cancel-visible": "Ctrl+Shift+V",
        "cancel-group": "Ctrl+G", "cancel-symbol": "Ctrl+Shift+S", "cancel-buys": "Alt+B",
        "cancel-sells": "Alt+S", "cancel-everywhere": "Ctrl+Shift+E",
        "cancel-account": "Ctrl+Shift+A", "cancel-all": "Ctrl+Shift+X",
    }
    # no two actions share a key
    assert len({x.shortcut().toString() for x in keyed}) == len(keyed)
    assert all(x.shortcutContext() is Qt.ShortcutContext.WindowShortcut for x in keyed)
    assert a.menu_entries() == [
        a.order, a.selected, a.visible, None, a.group, a.symbol, a.buys, a.sells, a.everywhere,
        None, a.account, a.account_buys, a.account_sells, None, a.all, a.all_buys, a.all_sells]
    assert a.context_entries() == [
        a.order, a.selected, a.visible, None, a.group, a.symbol, a.buys, a.sells, a.everywhere,
        None, a.account, None, a.all]
    # every enabled action's tooltip says what its key does
    mixed.select("1")
    for action in keyed:
        if action.isEnabled():
            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            assert action.toolTip().endswith(f" ({shortcut})"), action.objectName()
