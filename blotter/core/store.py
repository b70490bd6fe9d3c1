"""OrderStore: the one place that knows which orders are open.

Events are applied as they arrive; the changes are collected and handed out as one ``StoreDiff``
per ``flush()``, so a flood of frames costs the view one batch of signals, not one per message.

The store is also the one place that knows which orders have a cancel in flight: the row shows
it until the order leaves the book, and the ticket of each cancel is settled here when the
venue's close arrives, with the outcome the close states. Every row that leaves becomes a
``ClosedOrder`` saying why (kept in ``closed``, newest last, and handed to the close
listeners); every fresh list of an account's orders becomes a ``ResyncDiff`` for the resync
listeners.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from blotter.core.cancel import CancelTicket, Outcome, outcome_for_close
from blotter.core.closes import ClosedOrder, ResyncDiff, close_of, vanished
from blotter.core.order import (
    OPEN_STATUSES,
    AccountKey,
    Closed,
    Order,
    OrderEvent,
    OrderKey,
    Snapshot,
    Upsert,
)


@dataclass(frozen=True, slots=True)
class StoreDiff:
    """What changed since the last flush: rows added, rows changed, rows removed."""
    added: tuple[Order, ...]
    updated: tuple[Order, ...]
    removed: tuple[OrderKey, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


EMPTY_DIFF = StoreDiff((), (), ())

DiffListener = Callable[[StoreDiff], None]
CloseListener = Callable[[ClosedOrder], None]
ResyncListener = Callable[[ResyncDiff], None]


def _no_clock() -> int:
    return 0


class OrderStore:
    """Every open order, by row key, and the cancels in flight.

    Writers ``apply`` venue events (a snapshot replaces an account's rows; an upsert adds or
    changes a row; a close removes it and settles a cancel of it); readers get the rows, and the
    view gets one ``StoreDiff`` per ``flush``. Pure and synchronous: no I/O; ``clock`` (epoch
    ms, set by whoever owns the store) dates a close the venue sent no time for.
    """
    def __init__(
        self, closed_history: int = 1000, clock: Callable[[], int] = _no_clock
    ) -> None:
        self.clock = clock
        self._orders: dict[OrderKey, Order] = {}
        self._by_account: dict[AccountKey, set[OrderKey]] = {}
        self._cancel_pending: set[OrderKey] = set()  # rows shown as "Cancelling…"
        self._tickets: dict[OrderKey, CancelTicket] = {}  # cancels waiting for the venue
        # key -> was it visible at the last flush? Recorded on the first change after a flush.
        self._dirty: dict[OrderKey, bool] = {}
        self._dirty_listeners: list[Callable[[], None]] = []
        self._diff_listeners: list[DiffListener] = []
        self._close_listeners: list[CloseListener] = []
        self._resync_listeners: list[ResyncListener] = []
        self._actions: dict[OrderKey, str] = {}  # the trader's cancel action of a row, by name
        self._unsure: set[OrderKey] = set()  # receipts that said "closed, how unknown"
        # rows whose cancel the venue refused (or never answered), with why, until they change
        self._refused: dict[OrderKey, str] = {}
        self.closed: deque[ClosedOrder] = deque(maxlen=closed_history)

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, key: object) -> bool:
        return key in self._orders

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def get(self, key: OrderKey) -> Order | None:
        """The open order of ``key``, or None."""
        return self._orders.get(key)

    def orders(self, account: AccountKey | None = None) -> list[Order]:
        """The open orders of ``account`` (all accounts when None)."""
        if account is None:
            return list(self._orders.values())
        return [self._orders[k] for k in self._by_account.get(account, ())]

    def accounts(self) -> list[AccountKey]:
        """The accounts that have open orders."""
        return [a for a, keys in self._by_account.items() if keys]

    @property
    def cancel_pending_count(self) -> int:
        """How many rows show a cancel in flight."""
        return len(self._cancel_pending)

    def is_cancel_pending(self, key: OrderKey) -> bool:
        """Whether the row shows a cancel in flight (from ``begin_cancel`` until the order
        leaves the book, or the cancel ends without it leaving)."""
        return key in self._cancel_pending

    def refusal(self, key: OrderKey) -> str | None:
        """Why the last cancel of an open row did not take it away ("rejected: Order not
        found"), until the venue next changes the row; None if nothing failed."""
        return self._refused.get(key) if self._refused else None

    def waiting_cancels(self) -> tuple[OrderKey, ...]:
        """The rows whose cancel still waits for the venue's word."""
        return tuple(self._tickets)

    def is_cancel_waiting(self, key: OrderKey) -> bool:
        """Whether a cancel of ``key`` still waits for the venue's word."""
        return key in self._tickets

    # -- listening -----------------------------------------------------------------------
    def add_dirty_listener(self, callback: Callable[[], None]) -> None:
        """Called once when the first change after a flush arrives (to schedule a flush)."""
        self._dirty_listeners.append(callback)

    def add_diff_listener(self, callback: DiffListener) -> None:
        """Called with every non-empty ``StoreDiff`` a flush hands out."""
        self._diff_listeners.append(callback)

    def remove_diff_listener(self, callback: DiffListener) -> None:
        """Stop calling ``callback`` (nothing if it was not listening)."""
        if callback in self._diff_listeners:
            self._diff_listeners.remove(callback)

    def add_close_listener(self, callback: CloseListener) -> None:
        """Called with the ``ClosedOrder`` of every row that leaves the book (a close the venue
        sent, or a row missing from a fresh list: ``CloseReason.VANISHED``)."""
        self._close_listeners.append(callback)

    def remove_close_listener(self, callback: CloseListener) -> None:
        """Stop calling ``callback`` (nothing if it was not listening)."""
        if callback in self._close_listeners:
            self._close_listeners.remove(callback)

    def add_resync_listener(self, callback: ResyncListener) -> None:
        """Called with the ``ResyncDiff`` of every fresh list (``Snapshot``), even an empty one:
        the rows it closed, added and changed."""
        self._resync_listeners.append(callback)

    def remove_resync_listener(self, callback: ResyncListener) -> None:
        """Stop calling ``callback`` (nothing if it was not listening)."""
        if callback in self._resync_listeners:
            self._resync_listeners.remove(callback)

    # -- writing -------------------------------------------------------------------------
    def apply(self, event: OrderEvent) -> None:
        """Apply one venue event: ``Snapshot`` replaces the account's rows (rows it lacks close
        as vanished), ``Upsert`` adds or changes a row, ``Closed`` removes it."""
        if isinstance(event, Upsert):
            self.put(event.order)
        elif isinstance(event, Closed):
            self._close(event.order)
        elif isinstance(event, Snapshot):
            self._replace(event.account, event.orders, event.stream, event.finals)
        else:  # pragma: no cover - the type checker keeps this unreachable
            raise TypeError(f"not an order event: {event!r}")

    def put(self, order: Order) -> None:
        """``apply(Upsert(order))`` without the wrapper: the stream's hot path (every ``ou``)."""
        if order.status not in OPEN_STATUSES:
            self._close(order)
            return
        key = order._fixed[0]  # Order.key, without the property call
        orders = self._orders
        known = key in orders
        dirty = self._dirty
        if key not in dirty:
            if not dirty:
                dirty[key] = known
                for callback in self._dirty_listeners:
                    callback()
            else:
                dirty[key] = known
        if known and self._refused and key in self._refused and _differs(orders[key], order):
            del self._refused[key]  # the venue changed the row: the old refusal is stale
        orders[key] = order
        if not known:
            # key[:2] hashes and compares as AccountKey(venue, account), without building one
            keys = self._by_account.get(key[:2])  # type: ignore[call-overload]
            if keys is None:
                keys = self._by_account[key.account_key] = set()
            keys.add(key)

    def apply_all(self, events: Iterable[OrderEvent]) -> None:
        """``apply`` each event in order."""
        for event in events:
            self.apply(event)

    def apply_restored(self, account: AccountKey, orders: Iterable[Order]) -> None:
        """Show ``orders`` of ``account`` as they were last known (from the last run), before
        the venue has said anything: they are rows like any other, but no resync is reported;
        the account's first fresh list replaces them and reports what changed."""
        for order in orders:
            if order.account_key == account and order.status.is_open:
                self.put(order)

    def restore_closed(self, closes: Iterable[ClosedOrder]) -> None:
        """Put closes of the last run into ``closed`` (oldest first), telling no listener."""
        self.closed.extend(closes)

    def drop_account(self, account: AccountKey) -> None:
        """Forget an account's rows (the account was removed, not its orders cancelled)."""
        for key in list(self._by_account.get(account, ())):
            self._remove(key)
        self._by_account.pop(account, None)

    def name_cancel(self, keys: Iterable[OrderKey], action: str) -> None:
        """Remember that the trader's ``action`` ("Cancel Group 7") aims at ``keys``: a cancelled
        close of one of them reads "cancelled by you (Cancel Group 7)"."""
        for key in keys:
            if key in self._orders:
                self._actions[key] = action

    def begin_cancel(self, orders: Iterable[Order]) -> dict[OrderKey, CancelTicket]:
        """Start a cancel of each order: its row shows "cancel pending", and its ticket is
        settled when the order closes (``outcome_for_close``) or ``end_cancel`` says otherwise.

        An order already waiting keeps its ticket (a second cancel of it waits for the same
        answer). Orders not in the table get a ticket too (a venue-wide cancel may name them).
        """
        tickets: dict[OrderKey, CancelTicket] = {}
        for order in orders:
            key = order.key
            ticket = self._tickets.get(key)
            if ticket is None:
                ticket = self._tickets[key] = CancelTicket(key)
            tickets[key] = ticket
            self._refused.pop(key, None)
            if key in self._orders and key not in self._cancel_pending:
                self._cancel_pending.add(key)
                self._touch(key)
        return tickets

    def end_cancel(self, key: OrderKey, outcome: Outcome, text: str = "") -> bool:
        """Settle the cancel of ``key`` with what the venue said; False if none was waiting.

        An outcome that leaves the order open (rejected, timed out) puts the row back as it
        was; one that says it is gone keeps the row marked until the venue's close removes it.
        """
        ticket = self._tickets.pop(key, None)
        if not outcome.order_gone:
            self._actions.pop(key, None)
            if key in self._orders:
                self._refused[key] = f"{outcome.value}: {text}" if text else outcome.value
                self._touch(key)
            if key in self._cancel_pending:
                self._cancel_pending.discard(key)
                self._touch(key)
        settled = ticket is not None and ticket.settle(outcome, text)
        if settled and outcome is Outcome.CLOSED and key in self._orders:
            self._unsure.add(key)  # the venue's close, when it comes, corrects the receipt
        return settled

    def flush(self) -> StoreDiff:
        """Hand the changes since the last flush to the diff listeners, and return them."""
        if not self._dirty:
            return EMPTY_DIFF
        added: list[Order] = []
        updated: list[Order] = []
        removed: list[OrderKey] = []
        orders = self._orders
        for key, was_visible in self._dirty.items():
            order = orders.get(key)
            if order is None:
                if was_visible:
                    removed.append(key)
            elif was_visible:
                updated.append(order)
            else:
                added.append(order)
        self._dirty = {}
        diff = StoreDiff(tuple(added), tuple(updated), tuple(removed))
        if diff:
            for listener in self._diff_listeners:
                listener(diff)
        return diff

    # -- internals -----------------------------------------------------------------------
    def _touch(self, key: OrderKey) -> None:
        if key in self._dirty:
            return
        first = not self._dirty
        self._dirty[key] = key in self._orders
        if first:
            for callback in self._dirty_listeners:
                callback()

    def _close(self, order: Order) -> None:
        key = order._fixed[0]  # Order.key, without the property call
        orders = self._orders
        if key in orders and not (
            (self._tickets and key in self._tickets) or (self._unsure and key in self._unsure)
            or (self._actions and key in self._actions)
        ):
            # the stream's hot path: _remove and close_of inline, for a row whose close has no
            # cancel of ours to settle, no receipt to correct and no action to name
            dirty = self._dirty
            if key not in dirty:
                dirty[key] = True
                if len(dirty) == 1:
                    for callback in self._dirty_listeners:
                        callback()
            del orders[key]
            if self._cancel_pending:
                self._cancel_pending.discard(key)
            if self._refused:
                self._refused.pop(key, None)
            # key[:2] is AccountKey(venue, account) without the NamedTuple call: equal, hashed alike
            keys = self._by_account.get(key[:2])  # type: ignore[call-overload]
            if keys is not None:
                keys.discard(key)
            # the clock only when the venue sent no time for the close
            self._closed(close_of(order, None, order.updated_ms or self.clock()))
            return
        if key not in orders:
            # not a row (already closed, or never seen): nothing leaves the table, but a
            # cancel of it still learns how it ended
            if key in self._tickets:
                self.end_cancel(key, outcome_for_close(order), order.status_text)
            return
        self._closed(self._take_row(key, order))

    def _take_row(self, key: OrderKey, final: Order) -> ClosedOrder:
        """Remove the row ``key``, which the venue's closing record ``final`` ends: the cancel
        waiting for it learns the outcome, and the close names the trader's action, or says
        that it corrects a "closed, how unknown" receipt."""
        waiting = key in self._tickets or key in self._unsure
        action = self._actions.pop(key, "your cancel") if waiting else self._actions.pop(key, None)
        corrects = key in self._unsure
        self._remove(key)
        if key in self._tickets:
            self.end_cancel(key, outcome_for_close(final), final.status_text)
        return close_of(final, action, self.clock(), corrects)

    def _closed(self, closed: ClosedOrder) -> None:
        self.closed.append(closed)
        for listener in self._close_listeners:
            listener(closed)

    def _remove(self, key: OrderKey) -> None:
        self._touch(key)
        del self._orders[key]
        self._cancel_pending.discard(key)
        self._actions.pop(key, None)
        self._unsure.discard(key)
        self._refused.pop(key, None)
        # key[:2] is AccountKey(venue, account) without the NamedTuple call: equal, hashed alike
        keys = self._by_account.get(key[:2])  # type: ignore[call-overload]
        if keys is not None:
            keys.discard(key)

    def _replace(
        self, account: AccountKey, orders: Iterable[Order], stream: bool = False,
        finals: Iterable[Order] = (),
    ) -> None:
        # A hub in snapshot mode re-sends its whole list for every change: this runs per frame,
        # so it reads each order's key from its shared fields once, and an order that is the
        # very object the row holds (the parser reused it) costs one look-up.
        venue, name = account
        rows = self._orders
        fresh: dict[OrderKey, Order] = {}
        for order in orders:
            key = order._fixed[0]  # Order.key, without the property call
            if key[1] != name or key[0] != venue:
                raise ValueError(f"snapshot for {account} holds an order of {order.account_key}")
            if order.status in OPEN_STATUSES:
                fresh[key] = order
        added, changed, moved = _compare(rows, fresh.values())
        closed: list[ClosedOrder] = []
        held = self._by_account.get(account, ())
        # fresh holds len(fresh) - len(added) of the rows: any other row left the list
        if len(held) != len(fresh) - len(added):
            ended = {
                f.key: f for f in finals if not f.status.is_open and f.account_key == account
            }
            now = self.clock()
            for key in [k for k in held if k not in fresh]:
                before = rows[key]
                final = ended.get(key)
                if final is None:
                    self._remove(key)
                    if key in self._tickets:
                        self.end_cancel(key, Outcome.CLOSED, "no longer open at the venue")
                    closed.append(vanished(before, now, stream))
                    continue
                # the venue's own record says how it ended, though the stream never did
                closed.append(self._take_row(key, final)._replace(unseen=True))
        for order in moved:
            self.put(order)
        for close in closed:
            self._closed(close)
        diff = ResyncDiff(account, tuple(closed), tuple(added), tuple(changed), stream)
        for listener in self._resync_listeners:
            listener(diff)


def _compare(
    rows: dict[OrderKey, Order], fresh: Iterable[Order]
) -> tuple[list[Order], list[tuple[Order, Order]], list[Order]]:
    """The orders of a fresh list that are new, that changed as a trader sees it (before,
    after), and that differ at all from the rows (to be put)."""
    added: list[Order] = []
    changed: list[tuple[Order, Order]] = []
    moved: list[Order] = []
    get = rows.get
    for order in fresh:
        current = get(order._fixed[0])
        # identity first: a venue that re-sends its whole list hands back the same objects
        # for unchanged orders
        if current is not order and current != order:
            if current is None:
                added.append(order)
            elif _differs(current, order):
                changed.append((current, order))
            moved.append(order)
    return added, changed, moved


def _differs(before: Order, after: Order) -> bool:
    """Whether a trader would see a difference (not just a newer timestamp)."""
    return (
        before.remaining != after.remaining
        or before.price != after.price
        or before.amount != after.amount
        or before.status is not after.status
    )
