"""The cancel actions (Order, Selected, Group, Symbol, Account, All) with their shortcuts,
enabled and labelled for the current row.

Every action builds a ``CancelScope`` and hands it to whoever listens to
``CancelActions.requested``; the window decides what needs a confirmation. A venue's
capabilities come from the engine (``Capabilities`` is a core type): an action the venue cannot
do is disabled and says why, in the venue's own reason where it gave one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from blotter.core.cancel import CancelScope
from blotter.core.order import AccountKey, Order
from blotter.core.venue import Capabilities
from blotter.ui.orders_view import OrdersView
from blotter.ui.resources import icon

CapabilitiesLookup = Callable[[AccountKey], Capabilities | None]


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
        "account": "Ctrl+Shift+A",
        "all": "Ctrl+Shift+X",
    }

    def __init__(
        self, view: OrdersView, capabilities: CapabilitiesLookup, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._view = view
        self._capabilities = capabilities
        self.order = self._action("Cancel Order", "cancel", "order", self._cancel_order)
        self.selected = self._action(
            "Cancel Selected", "cancel-selected", "selected", self._cancel_selected
        )
        self.group = self._action("Cancel Group", "group", "group", self._cancel_group)
        self.symbol = self._action("Cancel Symbol", "symbol", "symbol", self._cancel_symbol)
        self.account = self._action("Cancel Account…", "account", "account", self._cancel_account)
        self.all = self._action("Cancel All…", "cancel-all", "all", self._cancel_all)
        self.all.setToolTip("Cancel every open order on every account (asks first)")
        self.refresh()

    def actions(self) -> list[QAction]:
        return [self.order, self.selected, self.group, self.symbol, self.account, self.all]

    def menu_entries(self) -> list[QAction | None]:
        return [self.order, self.selected, None, self.group, self.symbol, self.account, None,
                self.all]

    def _action(self, text: str, icon_name: str, key: str, slot: Callable[[], None]) -> QAction:
        action = QAction(icon(icon_name), text, self)
        # the toolbar keeps a short, fixed label; menus show the detailed text for the row
        action.setIconText(text.rstrip("…"))
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

    def refresh(self) -> None:
        """Enable and label the actions for the current row and the selection."""
        order = self._view.current_order()
        selected = self._view.selected_orders()
        live_selected = [o for o in selected if not self._view_pending(o)]

        if order is None:
            self._set(self.order, False, "Cancel Order", "Select an order to cancel it")
        else:
            pending = self._view_pending(order)
            self._set(
                self.order, not pending, "Cancel Order",
                f"Cancel was sent for order {order.order_id}" if pending
                else f"Cancel order {order.order_id} ({order.symbol} on {order.account})",
            )

        n = len(live_selected)
        self._set(
            self.selected, n > 0, f"Cancel Selected ({n})" if n else "Cancel Selected",
            f"Cancel the {n} selected orders" if n else "Select orders to cancel them together",
        )

        caps = self._capabilities(order.account_key) if order is not None else None
        if order is None:
            self._set(self.group, False, "Cancel Group", "Select an order of a group")
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

        if order is None:
            self._set(self.symbol, False, "Cancel Symbol", "Select an order of the symbol")
            self._set(self.account, False, "Cancel Account…", "Select an order of the account")
        else:
            self._set(
                self.symbol, True, f"Cancel {order.symbol} on {order.account}",
                f"Cancel every {order.symbol} order on {order.account}",
            )
            self._set(
                self.account, True, f"Cancel Account {order.account}…",
                f"Cancel every open order on {order.account} (asks first)",
            )
        self._set(self.all, True, "Cancel All…",
                  "Cancel every open order on every account (asks first)")

    def _view_pending(self, order: Order) -> bool:
        return self._view.is_pending(order)

    # -- slots --------------------------------------------------------------------------------
    def _cancel_order(self) -> None:
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
            self.requested.emit(CancelScope.for_symbol(order.account_key, order.symbol))

    def _cancel_account(self) -> None:
        order = self._view.current_order()
        if order is not None:
            self.requested.emit(CancelScope.for_account(order.account_key))

    def _cancel_all(self) -> None:
        self.requested.emit(CancelScope.everything())
