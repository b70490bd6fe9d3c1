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

from blotter.core.order import AccountKey, Order, OrderKey, OrderStatus


class ScopeKind(Enum):
    """What the trader aimed at: one row, the selected rows, a group, a symbol, an account, everything."""
    ORDER = "order"
    SELECTED = "selected"
    GROUP = "group"
    SYMBOL = "symbol"
    ACCOUNT = "account"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class CancelScope:
    """What the trader asked to cancel, before it is split per account (``plan_cancels``).

    Build one with the named constructors; ``keys`` are set for ORDER and SELECTED, ``account``
    for GROUP/SYMBOL/ACCOUNT, ``group_id``/``symbol`` for their kinds.
    """
    kind: ScopeKind
    keys: tuple[OrderKey, ...] = ()  # ORDER, SELECTED
    account: AccountKey | None = None  # GROUP, SYMBOL, ACCOUNT
    group_id: str | None = None  # GROUP
    symbol: str | None = None  # SYMBOL

    @staticmethod
    def order(key: OrderKey) -> CancelScope:
        """This row."""
        return CancelScope(ScopeKind.ORDER, keys=(key,))

    @staticmethod
    def selected(keys: Iterable[OrderKey]) -> CancelScope:
        """These rows, each once, in the order given."""
        return CancelScope(ScopeKind.SELECTED, keys=tuple(dict.fromkeys(keys)))

    @staticmethod
    def group(account: AccountKey, group_id: str) -> CancelScope:
        """Every order of ``group_id`` on ``account``."""
        return CancelScope(ScopeKind.GROUP, account=account, group_id=group_id)

    @staticmethod
    def for_symbol(account: AccountKey, symbol: str) -> CancelScope:
        """Every order of ``symbol`` on ``account``."""
        return CancelScope(ScopeKind.SYMBOL, account=account, symbol=symbol)

    @staticmethod
    def for_account(account: AccountKey) -> CancelScope:
        """Everything on ``account``."""
        return CancelScope(ScopeKind.ACCOUNT, account=account)

    @staticmethod
    def everything() -> CancelScope:
        """Everything on every account."""
        return CancelScope(ScopeKind.ALL)

    def describe(self) -> str:
        """The scope in the words of a status line ("group 7 on bfx-main")."""
        if self.kind is ScopeKind.ORDER:
            return f"order {self.keys[0].order_id}" if self.keys else "order"
        if self.kind is ScopeKind.SELECTED:
            return f"{len(self.keys)} selected orders"
        if self.kind is ScopeKind.GROUP:
            return f"group {self.group_id} on {self.account.account if self.account else '?'}"
        if self.kind is ScopeKind.SYMBOL:
            return f"{self.symbol} on {self.account.account if self.account else '?'}"
        if self.kind is ScopeKind.ACCOUNT:
            return f"all orders on {self.account.account if self.account else '?'}"
        return "all orders on every account"


@dataclass(frozen=True, slots=True)
class CancelPlan:
    """What to cancel on one venue account.

    ``orders`` are the rows the table expects to leave. ``group_id`` / ``symbol`` / ``everything``
    say how the trader scoped it, so a venue with a native primitive for that scope can use it
    (and catch orders the table has not seen yet).
    """

    account: AccountKey
    kind: ScopeKind
    orders: tuple[Order, ...]
    group_id: str | None = None
    symbol: str | None = None

    @property
    def everything(self) -> bool:
        """Whether the plan covers the whole account (the venue's cancel-all may be used, and
        orders the table has not seen yet are cancelled too)."""
        return self.kind in (ScopeKind.ACCOUNT, ScopeKind.ALL)

    @property
    def keys(self) -> tuple[OrderKey, ...]:
        """The row keys the plan expects to leave."""
        return tuple(o.key for o in self.orders)

    @property
    def order_ids(self) -> tuple[str, ...]:
        """The venue's ids of the orders the plan expects to leave."""
        return tuple(o.order_id for o in self.orders)


def plan_cancels(scope: CancelScope, orders: Iterable[Order]) -> list[CancelPlan]:
    """Split a scope into per-account plans over the orders currently open.

    Orders already gone from the table are left out: there is nothing to cancel for them.
    Accounts with nothing to cancel get no plan, except for GROUP/SYMBOL/ACCOUNT scopes, whose
    native venue primitives may still catch orders the table has not seen.
    """
    by_account: dict[AccountKey, list[Order]] = {}
    kind = scope.kind
    if kind in (ScopeKind.ORDER, ScopeKind.SELECTED):
        wanted = set(scope.keys)
        for order in orders:
            if order.key in wanted:
                by_account.setdefault(order.account_key, []).append(order)
    else:
        for order in orders:
            account = order.account_key
            if kind is not ScopeKind.ALL and account != scope.account:
                continue
            if kind is ScopeKind.GROUP and order.group_id != scope.group_id:
                continue
            if kind is ScopeKind.SYMBOL and order.symbol != scope.symbol:
                continue
            by_account.setdefault(account, []).append(order)
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
