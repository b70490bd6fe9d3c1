"""Cancel scopes, plans and outcomes.

A ``CancelScope`` is what the trader asked for (this row, these rows, a group, a symbol, an account,
everything). ``plan_cancels`` turns it into one ``CancelPlan`` per venue account, listing the orders
the table expects to go. The venue client picks its own primitive for a plan (a bulk call, a group
cancel, cancel-all, or a loop) and answers with a ``CancelResult`` holding one outcome per order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from blotter.core.order import AccountKey, Order, OrderKey, OrderStatus, Side


class ScopeKind(Enum):
    """What the trader aimed at: one row, the selected rows, a group, a symbol, an account, everything."""
    ORDER = "order"
    SELECTED = "selected"
    GROUP = "group"
    SYMBOL = "symbol"
    ACCOUNT = "account"
    ALL = "all"


def category_title(category: str | None) -> str:
    """A venue's market kind as the trader reads it: "linear" → "Linear", "cfd" → "CFD"; "" for
    none."""
    if not category:
        return ""
    return _CATEGORY_TITLES.get(category) or category.capitalize()


_CATEGORY_TITLES = {"cfd": "CFD", "perp": "Perp"}


def instrument_text(symbol: str, category: str | None) -> str:
    """An instrument in words: "BTCUSDT Linear", "EUR/CHF CFD", "tBTCUSD"."""
    kind = category_title(category)
    return f"{symbol} {kind}" if kind else symbol


def _sides(side: Side | None) -> str:
    return "" if side is None else ("buys" if side is Side.BUY else "sells")


@dataclass(frozen=True, slots=True)
class CancelScope:
    """What the trader asked to cancel, before it is split per account (``plan_cancels``).

    Build one with the named constructors. ``keys`` are set for ORDER and SELECTED; ``account``
    for GROUP/SYMBOL/ACCOUNT (a SYMBOL scope with ``account`` None and ``venue`` set means that
    instrument on every account of the venue); ``group_id`` for GROUP; ``symbol`` (the symbol as
    shown) with ``category`` (the venue's market kind, None for any) for SYMBOL; ``side`` narrows
    SYMBOL, ACCOUNT and ALL to one side; ``label`` names a SELECTED scope ("visible").
    """
    kind: ScopeKind
    keys: tuple[OrderKey, ...] = ()  # ORDER, SELECTED
    account: AccountKey | None = None  # GROUP, SYMBOL, ACCOUNT
    group_id: str | None = None  # GROUP
    symbol: str | None = None  # SYMBOL
    category: str | None = None  # SYMBOL: the market kind (None: any)
    side: Side | None = None  # SYMBOL, ACCOUNT, ALL: only this side
    venue: str | None = None  # SYMBOL on every account of this venue
    label: str | None = None  # SELECTED: how the trader named the rows ("visible")

    @staticmethod
    def order(key: OrderKey) -> CancelScope:
        """This row."""
        return CancelScope(ScopeKind.ORDER, keys=(key,))

    @staticmethod
    def selected(keys: Iterable[OrderKey], label: str | None = None) -> CancelScope:
        """These rows, each once, in the order given; ``label`` says how the trader picked
        them ("visible": the rows the filter shows)."""
        return CancelScope(ScopeKind.SELECTED, keys=tuple(dict.fromkeys(keys)), label=label)

    @staticmethod
    def visible(keys: Iterable[OrderKey]) -> CancelScope:
        """The rows the filter shows."""
        return CancelScope.selected(keys, label="visible")

    @staticmethod
    def group(account: AccountKey, group_id: str) -> CancelScope:
        """Every order of ``group_id`` on ``account``."""
        return CancelScope(ScopeKind.GROUP, account=account, group_id=group_id)

    @staticmethod
    def for_symbol(
        account: AccountKey, symbol: str, category: str | None = None, side: Side | None = None
    ) -> CancelScope:
        """Every order of the instrument (``symbol`` in market ``category``; any market when
        None) on ``account``, of one ``side`` when given."""
        return CancelScope(
            ScopeKind.SYMBOL, account=account, symbol=symbol, category=category, side=side
        )

    @staticmethod
    def symbol_everywhere(
        venue: str, symbol: str, category: str | None = None, side: Side | None = None
    ) -> CancelScope:
        """Every order of the instrument on every account of ``venue``, of one ``side`` when
        given."""
        return CancelScope(
            ScopeKind.SYMBOL, venue=venue, symbol=symbol, category=category, side=side
        )

    @staticmethod
    def for_instrument(order: Order, side: Side | None = None) -> CancelScope:
        """Every order of ``order``'s instrument (its symbol and market kind) on its account."""
        return CancelScope.for_symbol(order.account_key, order.symbol, order.category, side)

    @staticmethod
    def for_account(account: AccountKey, side: Side | None = None) -> CancelScope:
        """Everything on ``account`` (one ``side`` of it when given)."""
        return CancelScope(ScopeKind.ACCOUNT, account=account, side=side)

    @staticmethod
    def everything(side: Side | None = None) -> CancelScope:
        """Everything on every account (one ``side`` of it when given)."""
        return CancelScope(ScopeKind.ALL, side=side)

    @property
    def instrument(self) -> str:
        """The SYMBOL scope's instrument in words ("BTCUSDT Linear"); "" for other kinds."""
        return instrument_text(self.symbol, self.category) if self.symbol is not None else ""

    def matches(self, order: Order) -> bool:
        """Whether ``order`` is within the scope (for ORDER/SELECTED: one of its rows)."""
        kind = self.kind
        if kind is ScopeKind.ORDER or kind is ScopeKind.SELECTED:
            return order.key in self.keys
        if kind is not ScopeKind.ALL:
            if self.account is not None:
                if order.account_key != self.account:
                    return False
            elif order.venue != self.venue:
                return False
        return _narrowed_to(order, kind, self.group_id, self.symbol, self.category, self.side)

    def describe(self) -> str:
        """The scope in the words of a status line ("group 7 on bfx-main", "buys of BTCUSDT
        Linear on bybit-main", "14 visible orders")."""
        where = self.account.account if self.account else "?"
        sides = _sides(self.side)
        if self.kind is ScopeKind.ORDER:
            return f"order {self.keys[0].order_id}" if self.keys else "order"
        if self.kind is ScopeKind.SELECTED:
            return f"{len(self.keys)} {self.label or 'selected'} orders"
        if self.kind is ScopeKind.GROUP:
            return f"group {self.group_id} on {where}"
        if self.kind is ScopeKind.SYMBOL:
            what = f"{sides} of {self.instrument}" if sides else self.instrument
            if self.account is None:
                return f"{what} on every {self.venue} account"
            return f"{what} on {where}"
        if self.kind is ScopeKind.ACCOUNT:
            return f"all {sides or 'orders'} on {where}"
        return f"all {sides or 'orders'} on every account"


@dataclass(frozen=True, slots=True)
class CancelPlan:
    """What to cancel on one venue account.

    ``orders`` are the rows the table expects to leave. ``group_id`` / ``symbol`` (with
    ``category``) / ``side`` / ``everything`` say how the trader scoped it, so a venue with a
    native primitive for that scope can use it (and catch orders the table has not seen yet).
    A plan with a ``side`` must never go out as a primitive that ignores sides (a venue's
    cancel-all would take the other side too): ``everything`` is False for it.
    """

    account: AccountKey
    kind: ScopeKind
    orders: tuple[Order, ...]
    group_id: str | None = None
    symbol: str | None = None
    category: str | None = None
    side: Side | None = None

    @property
    def everything(self) -> bool:
        """Whether the plan covers the whole account, both sides (the venue's cancel-all may be
        used, and orders the table has not seen yet are cancelled too)."""
        return self.kind in (ScopeKind.ACCOUNT, ScopeKind.ALL) and self.side is None

    @property
    def keys(self) -> tuple[OrderKey, ...]:
        """The row keys the plan expects to leave."""
        return tuple(o.key for o in self.orders)

    @property
    def order_ids(self) -> tuple[str, ...]:
        """The venue's ids of the orders the plan expects to leave."""
        return tuple(o.order_id for o in self.orders)

    def covers(self, order: Order) -> bool:
        """Whether an order (one the table saw after the plan was made, too) is within the
        plan's scope on its account: for ORDER/SELECTED only the planned rows; for the wider
        kinds the group, instrument, side and account the plan names (a trading account of a
        login for ACCOUNT/ALL plans made on the login)."""
        kind = self.kind
        if kind is ScopeKind.ORDER or kind is ScopeKind.SELECTED:
            return order.key in self.keys
        return _narrowed_to(order, kind, self.group_id, self.symbol, self.category, self.side)


def _narrowed_to(
    order: Order, kind: ScopeKind, group_id: str | None, symbol: str | None,
    category: str | None, side: Side | None,
) -> bool:
    """Whether ``order`` is of the side, group or instrument a wider scope names (its account
    aside)."""
    if side is not None and order.side is not side:
        return False
    if kind is ScopeKind.GROUP:
        return order.group_id == group_id
    if kind is ScopeKind.SYMBOL:
        return order.symbol == symbol and (category is None or order.category == category)
    return True


def plan_cancels(scope: CancelScope, orders: Iterable[Order]) -> list[CancelPlan]:
    """Split a scope into per-account plans over the orders currently open.

    Orders already gone from the table are left out: there is nothing to cancel for them.
    Accounts with nothing to cancel get no plan, except the one account of a GROUP/SYMBOL/ACCOUNT
    scope, whose native venue primitives may still catch orders the table has not seen.
    """
    by_account: dict[AccountKey, list[Order]] = {}
    kind = scope.kind
    if kind in (ScopeKind.ORDER, ScopeKind.SELECTED):
        wanted = set(scope.keys)
        for order in orders:
            if order.key in wanted:
                by_account.setdefault(order.account_key, []).append(order)
    else:
        matches = scope.matches
        for order in orders:
            if matches(order):
                by_account.setdefault(order.account_key, []).append(order)
        if kind in (ScopeKind.GROUP, ScopeKind.SYMBOL, ScopeKind.ACCOUNT) and scope.account:
            by_account.setdefault(scope.account, [])
    if kind is ScopeKind.SELECTED and sum(len(v) for v in by_account.values()) == 1:
        kind = ScopeKind.ORDER
    return [
        CancelPlan(
            account=account,
            kind=kind,
            orders=tuple(found),
            group_id=scope.group_id,
            symbol=scope.symbol,
            category=scope.category,
            side=scope.side,
        )
        for account, found in by_account.items()
    ]


class Outcome(Enum):
    """How one order's cancel ended, as the venue stated it; never a guess."""
    CANCELLED = "cancelled"
    FILLED = "filled"  # a fill won the race
    NOT_FOUND = "not found"  # already gone at the venue
    REJECTED = "rejected"  # the venue refused; the order is still open
    TIMED_OUT = "timed out"  # no confirmation in time; state unknown until the next resync
    # gone, for a reason the venue did not say (missing from a fresh list, or a repeated request
    # found it gone): the venue's close, when it comes, corrects the receipt
    CLOSED = "closed, how unknown"

    @property
    def order_gone(self) -> bool:
        """Whether the order is no longer open at the venue (the row may leave)."""
        return self in (Outcome.CANCELLED, Outcome.FILLED, Outcome.NOT_FOUND, Outcome.CLOSED)


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """One order's outcome with the venue's words for it."""
    key: OrderKey
    outcome: Outcome
    text: str = ""  # the venue's words for this order (final status, or its error text)


@dataclass(slots=True)
class CancelResult:
    """What a client reports for one plan: an outcome per order it knew of, the venue's words
    for the request, and ``error`` when the request itself failed."""
    plan: CancelPlan
    outcomes: dict[OrderKey, OrderOutcome] = field(default_factory=dict)
    text: str = ""  # the venue's words for the request as a whole, if any
    error: str | None = None  # the request itself failed (connection, auth, rate limit)

    @property
    def ok(self) -> bool:
        """Every order cancelled, and the request did not fail."""
        return self.error is None and all(
            o.outcome is Outcome.CANCELLED for o in self.outcomes.values()
        )

    def count(self, outcome: Outcome) -> int:
        """How many orders ended with ``outcome``."""
        return sum(1 for o in self.outcomes.values() if o.outcome is outcome)


def outcome_for_close(final: Order | None) -> Outcome:
    """What an order's close says about a cancel in flight: the venue's final status decides
    (a fill that won the race is FILLED); ``None`` (it vanished from a fresh list) is CLOSED."""
    if final is None:
        return Outcome.CLOSED
    if final.status is OrderStatus.CANCELLED:
        return Outcome.CANCELLED
    if final.status is OrderStatus.FILLED:
        return Outcome.FILLED
    return Outcome.CLOSED


class CancelTicket:
    """One order's cancel in flight, settled exactly once with the venue's outcome.

    Handed out by ``OrderStore.begin_cancel``; the store settles it when the order closes, the
    client when the venue refuses or the wait times out. Callbacks added after settling run at
    once.
    """

    __slots__ = ("_callbacks", "key", "outcome")

    def __init__(self, key: OrderKey) -> None:
        self.key = key
        self.outcome: OrderOutcome | None = None
        self._callbacks: list[Callable[[OrderOutcome], None]] = []

    @property
    def settled(self) -> bool:
        """Whether the outcome is known."""
        return self.outcome is not None

    def add_callback(self, callback: Callable[[OrderOutcome], None]) -> None:
        """Call ``callback`` with the outcome once it is known (at once if it is)."""
        if self.outcome is not None:
            callback(self.outcome)
        else:
            self._callbacks.append(callback)

    def settle(self, outcome: Outcome, text: str = "") -> bool:
        """Record the outcome and tell the callbacks; False if it was already settled."""
        if self.outcome is not None:
            return False
        self.outcome = result = OrderOutcome(self.key, outcome, text)
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(result)
        return True
