"""The cancel actions with their shortcuts, enabled and labelled for the current row, the
selection and the rows the filter shows.

- Cancel Order (Delete): the selected rows when several are selected, else the current row;
- Cancel Selected (Shift+Delete): every selected row;
- Cancel Group (Ctrl+G): the row's group on its account;
- Cancel Symbol (Ctrl+Shift+S): the row's instrument (symbol in its market) on its account;
- Cancel Buys / Sells (Alt+B / Alt+S): one side of the row's instrument on its account; the
  Orders menu also has one side of the row's whole account, and of every account;
- Cancel Symbol Everywhere (Ctrl+Shift+E): the row's instrument on every account of its venue;
- Cancel Visible (Ctrl+Shift+V): every row the filter shows;
- Cancel Account (Ctrl+Shift+A) and Cancel All (Ctrl+Shift+X).

Every action builds a ``CancelScope`` and hands it to whoever listens to
``CancelActions.requested``; the window decides what needs a confirmation. A venue's
capabilities come from the engine (``Capabilities`` is a core type): an action the venue cannot
do is disabled and says why, in the venue's own reason where it gave one; its key then says the
same in the status bar (``refusal``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from blotter.core.cancel import CancelScope
from blotter.core.order import AccountKey, Order, Side
from blotter.core.venue import Capabilities
from blotter.ui.formatting import VenueLabel, default_venue_label
from blotter.ui.orders_model import CLOSED_ROLE, ORDER_ROLE
from blotter.ui.orders_view import OrdersView
from blotter.ui.resources import set_icon

CapabilitiesLookup = Callable[[AccountKey], Capabilities | None]

_SIDES = {Side.BUY: "Buys", Side.SELL: "Sells"}


class CancelActions(QObject):
    """The cancel actions with their shortcuts; enabled and labelled for the current row.

    ``requested`` carries the ``CancelScope``; the window decides what needs a confirmation.
    """

    requested = Signal(object)

    SHORTCUTS: ClassVar[dict[str, str]] = {
        "order": "Delete",
        "selected": "Shift+Delete",
        "group": "Ctrl+G",
        "symbol": "Ctrl+Shift+S",
        "buys": "Alt+B",
        "sells": "Alt+S",
        "everywhere": "Ctrl+Shift+E",
        "visible": "Ctrl+Shift+V",
        "account": "Ctrl+Shift+A",
        "all": "Ctrl+Shift+X",
    }

    def __init__(
        self,
        view: OrdersView,
        capabilities: CapabilitiesLookup,
        parent: QObject | None = None,
        venue_label: VenueLabel = default_venue_label,
    ) -> None:
        super().__init__(parent)
        self._view = view
        self._capabilities = capabilities
        self._venue_label = venue_label
        self._open_tab = True
        self.order = self._action("Cancel Order", "cancel", "order", self._cancel_order)
        self.selected = self._action(
            "Cancel Selected", "cancel-selected", "selected", self._cancel_selected
        )
        self.group = self._action("Cancel Group", "group", "group", self._cancel_group)
        self.symbol = self._action("Cancel Symbol", "symbol", "symbol", self._cancel_symbol)
        self.buys = self._action("Cancel Buys", "buys", "buys",
                                 lambda: self._cancel_instrument_side(Side.BUY))
        self.sells = self._action("Cancel Sells", "sells", "sells",
                                  lambda: self._cancel_instrument_side(Side.SELL))
        self.everywhere = self._action("Cancel Symbol Everywhere", "everywhere", "everywhere",
                                       self._cancel_everywhere)
        self.visible = self._action("Cancel Visible", "visible", "visible", self._cancel_visible)
        self.account = self._action("Cancel Account…", "account", "account",
                                    lambda: self._cancel_account())
        self.account_buys = self._action("Cancel Account Buys…", "buys", "account-buys",
                                         lambda: self._cancel_account(Side.BUY))
        self.account_sells = self._action("Cancel Account Sells…", "sells", "account-sells",
                                          lambda: self._cancel_account(Side.SELL))
        self.all = self._action("Cancel All…", "cancel-all", "all", lambda: self._cancel_all())
        self.all_buys = self._action("Cancel All Buys…", "buys", "all-buys",
                                     lambda: self._cancel_all(Side.BUY))
        self.all_sells = self._action("Cancel All Sells…", "sells", "all-sells",
                                      lambda: self._cancel_all(Side.SELL))
        self.all.setToolTip("Cancel every open order on every account (asks first)")
        self.refresh()

    def actions(self) -> list[QAction]:
        """Every cancel action, in the order of the Orders menu."""
        return [a for a in self.menu_entries() if a is not None]

    def toolbar_entries(self) -> list[tuple[QAction, list[QAction]] | None]:
        """The toolbar's buttons, each with the actions of its drop-down (the sides, the
        instrument everywhere), and None for a separator."""
        return [(self.order, []), (self.selected, []), (self.group, []),
                (self.symbol, [self.buys, self.sells, self.everywhere]), (self.visible, []),
                (self.account, [self.account_buys, self.account_sells]), None,
                (self.all, [self.all_buys, self.all_sells])]

    def add_to_toolbar(self, bar: QToolBar) -> None:
        """Put the toolbar's buttons on ``bar``: a button with more scopes opens them from its
        arrow (a click on the button itself is its own action)."""
        for entry in self.toolbar_entries():
            if entry is None:
                bar.addSeparator()
                continue
            action, more = entry
            bar.addAction(action)
            button = bar.widgetForAction(action)
            if more and isinstance(button, QToolButton):
                menu = QMenu(button)
                menu.setToolTipsVisible(True)
                menu.addActions(more)
                button.setMenu(menu)
                button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)

    def context_entries(self) -> list[QAction | None]:
        """A row's context menu (None is a separator): what can be aimed at from one row."""
        return [self.order, self.selected, self.visible, None, self.group, self.symbol,
                self.buys, self.sells, self.everywhere, None, self.account, None, self.all]

    def menu_entries(self) -> list[QAction | None]:
        """The Orders menu (None is a separator): the row's scopes, then the account's and
        every account's, each whole and by side."""
        return [self.order, self.selected, self.visible, None, self.group, self.symbol,
                self.buys, self.sells, self.everywhere, None, self.account, self.account_buys,
                self.account_sells, None, self.all, self.all_buys, self.all_sells]

    def _action(self, text: str, icon_name: str, key: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        set_icon(action, icon_name)
        # the toolbar keeps a short, fixed label; menus show the detailed text for the row
        action.setIconText(text.rstrip("…"))
        if key in self.SHORTCUTS:
            action.setShortcut(QKeySequence(self.SHORTCUTS[key]))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setObjectName(f"cancel-{key}")
        action.triggered.connect(slot)
        return action

    @staticmethod
    def _set(action: QAction, enabled: bool, text: str, tip: str) -> None:
        action.setEnabled(enabled)
        action.setText(text)
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({shortcut})" if shortcut and enabled else tip)
        action.setStatusTip(tip)

    def refusal(self, keys: QKeySequence) -> str | None:
        """Why the action whose shortcut is ``keys`` cannot run now (it is disabled), as a
        status line: "Cancel Group: Bybit has no order groups."; None when no disabled
        action has that key."""
        for action in self.actions():
            if not action.isEnabled() and not action.shortcut().isEmpty() and (
                action.shortcut().matches(keys) is QKeySequence.SequenceMatch.ExactMatch
            ):
                return f"{action.iconText()}: {action.statusTip()}"
        return None

    def refresh(self, *signal_args: object, open_tab: bool | None = None) -> None:
        """Enable and label the actions for the current row, the selection and the filter;
        ``open_tab`` False: the open orders are out of sight, only Cancel All is offered.
        (A signal may call it with its own arguments: they are ignored.)"""
        if open_tab is not None:
            self._open_tab = open_tab
        order = self._view.current_order() if self._open_tab else None
        selected = self._view.selected_orders() if self._open_tab else []
        live_selected = [o for o in selected if not self._view_pending(o)]
        n = len(live_selected)
        away = "Switch to the open orders (Ctrl+1) to cancel"
        if not self._open_tab:
            self._set(self.order, False, "Cancel Order", away)
        elif n > 1:
            self._set(self.order, True, f"Cancel {n} Selected",
                      f"Cancel the {n} selected orders")
        elif order is None:
            self._set(self.order, False, "Cancel Order", "Select an order to cancel it")
        else:
            pending = self._view_pending(order)
            self._set(
                self.order, not pending, "Cancel Order",
                f"Cancel was sent for order {order.order_id}" if pending
                else f"Cancel order {order.order_id} ({order.symbol} on {order.account})",
            )
        self._set(
            self.selected, n > 0, f"Cancel Selected ({n})" if n else "Cancel Selected",
            f"Cancel the {n} selected orders" if n
            else away if not self._open_tab else "Select orders to cancel them together",
        )
        self._refresh_group(order, away)
        self._refresh_instrument(order, away)
        self._refresh_visible(away)
        if order is None:
            why = away if not self._open_tab else "Select an order of the account"
            for action, text in ((self.account, "Cancel Account…"),
                                 (self.account_buys, "Cancel Account Buys…"),
                                 (self.account_sells, "Cancel Account Sells…")):
                self._set(action, False, text, why)
        else:
            where = order.account
            self._set(self.account, True, f"Cancel Account {where}…",
                      f"Cancel every open order on {where} (asks first)")
            for action, side in ((self.account_buys, Side.BUY), (self.account_sells, Side.SELL)):
                word = _SIDES[side]
                self._set(action, True, f"Cancel {word} on {where}…",
                          f"Cancel every {word[:-1].lower()} order on {where}")
        self._set(self.all, True, "Cancel All…",
                  "Cancel every open order on every account (asks first)")
        for action, side in ((self.all_buys, Side.BUY), (self.all_sells, Side.SELL)):
            word = _SIDES[side]
            self._set(action, True, f"Cancel All {word}…",
                      f"Cancel every {word[:-1].lower()} order on every account")

    def _refresh_group(self, order: Order | None, away: str) -> None:
        caps = self._capabilities(order.account_key) if order is not None else None
        if order is None:
            why = away if not self._open_tab else "Select an order of a group"
            self._set(self.group, False, "Cancel Group", why)
        elif caps is not None and not caps.group_cancel:
            # said first: on a venue without groups "not in a group" would read like a fault
            reason = caps.group_cancel_reason or "This venue cannot cancel an order group"
            title = f"Cancel Group {order.group_id}" if order.group_id else "Cancel Group"
            self._set(self.group, False, title, reason)
        elif not order.group_id:
            self._set(self.group, False, "Cancel Group", "This order is not in a group")
        elif caps is None:
            self._set(self.group, False, f"Cancel Group {order.group_id}",
                      f"{order.account} is not connected")
        else:
            self._set(
                self.group, True, f"Cancel Group {order.group_id}",
                f"Cancel every order of group {order.group_id} on {order.account}",
            )

    def _refresh_instrument(self, order: Order | None, away: str) -> None:
        if order is None:
            why = away if not self._open_tab else "Select an order of the symbol"
            self._set(self.symbol, False, "Cancel Symbol", why)
            self._set(self.buys, False, "Cancel Buys", why)
            self._set(self.sells, False, "Cancel Sells", why)
            self._set(self.everywhere, False, "Cancel Symbol Everywhere", why)
            return
        what = CancelScope.for_instrument(order).instrument
        where = order.account
        self._set(self.symbol, True, f"Cancel {what} on {where}",
                  f"Cancel every {what} order on {where}")
        for action, side in ((self.buys, Side.BUY), (self.sells, Side.SELL)):
            word = _SIDES[side]
            self._set(action, True, f"Cancel {what} {word} on {where}",
                      f"Cancel every {word[:-1].lower()} order of {what} on {where}")
        venue = self._venue_label(order.venue, order.account)
        self._set(self.everywhere, True, f"Cancel {what} on Every {venue} Account",
                  f"Cancel every {what} order on every {venue} account")

    def _refresh_visible(self, away: str) -> None:
        shown, total = self._view.open_counts()
        if not self._open_tab:
            shown = 0
        if not self._open_tab:
            self._set(self.visible, False, "Cancel Visible", away)
        elif not shown:
            self._set(self.visible, False, "Cancel Visible", "No order is shown")
        else:
            self._set(self.visible, True, f"Cancel {shown} visible of {total}",
                      f"Cancel the {shown} orders the filter shows (of {total} open)")

    def _view_pending(self, order: Order) -> bool:
        return self._view.is_pending(order)

    # -- slots --------------------------------------------------------------------------------
    def _cancel_order(self) -> None:
        """Delete: the selection when several rows are selected, the current row otherwise."""
        selected = [o for o in self._view.selected_orders() if not self._view_pending(o)]
        if len(selected) > 1:
            self.requested.emit(CancelScope.selected(o.key for o in selected))
            return
        order = self._view.current_order()
        if order is not None and not self._view_pending(order):
            self.requested.emit(CancelScope.order(order.key))

    def _cancel_selected(self) -> None:
        orders = [o for o in self._view.selected_orders() if not self._view_pending(o)]
        if orders:
            self.requested.emit(CancelScope.selected(o.key for o in orders))

    def _cancel_group(self) -> None:
        order = self._view.current_order()
        if order is not None and order.group_id and self.group.isEnabled():
            self.requested.emit(CancelScope.group(order.account_key, order.group_id))

    def _cancel_symbol(self) -> None:
        order = self._view.current_order()
        if order is not None:
            self.requested.emit(CancelScope.for_instrument(order))

    def _cancel_instrument_side(self, side: Side) -> None:
        order = self._view.current_order()
        if order is not None:
            self.requested.emit(CancelScope.for_instrument(order, side))

    def _cancel_everywhere(self) -> None:
        order = self._view.current_order()
        if order is not None:
            self.requested.emit(
                CancelScope.symbol_everywhere(order.venue, order.symbol, order.category)
            )

    def _cancel_visible(self) -> None:
        proxy = self._view.model()
        if proxy is None:
            return
        rows = (proxy.index(r, 0) for r in range(proxy.rowCount()))
        shown = (i.data(ORDER_ROLE) for i in rows if i.data(CLOSED_ROLE) is None)
        keys = [o.key for o in shown if isinstance(o, Order) and not self._view_pending(o)]
        if keys:
            self.requested.emit(CancelScope.visible(keys))

    def _cancel_account(self, side: Side | None = None) -> None:
        order = self._view.current_order()
        if order is not None:
            self.requested.emit(CancelScope.for_account(order.account_key, side))

    def _cancel_all(self, side: Side | None = None) -> None:
        self.requested.emit(CancelScope.everything(side))
