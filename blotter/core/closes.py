"""Why each row left the table, and what a resync changed.

Every order that leaves the book becomes a ``ClosedOrder`` with a ``CloseReason``: what the
venue said (filled, cancelled at the venue with its words, expired, rejected), that the trader
cancelled it (with the action), or that it was missing from a fresh list of the venue's open
orders (closed while unseen: how is not known). A ``ResyncDiff`` is what one fresh list changed
in an account's rows. Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import NamedTuple

from blotter.core.order import AccountKey, Order, OrderKey, OrderStatus, Side


class CloseReason(Enum):
    """Why a row left the table, in the trader's words."""

    FILLED = "filled"
    CANCELLED_BY_YOU = "cancelled by you"
    CANCELLED_AT_VENUE = "cancelled at the venue"
    EXPIRED = "expired"
    REJECTED = "rejected"
    VANISHED = "closed while unseen"  # missing from a fresh list: how it ended is not known
    # dropped from a stream that speaks in full lists (a B2TRADER hub in snapshot mode): the
    # venue closed it just now, but its list does not say how
    LEFT_LIST = "closed at the venue, how unknown"

    @property
    def asked_for(self) -> bool:
        """Whether the trader asked for this close (a cancel of theirs)."""
        return self is CloseReason.CANCELLED_BY_YOU


_BY_STATUS = {
    OrderStatus.FILLED: CloseReason.FILLED,
    OrderStatus.CANCELLED: CloseReason.CANCELLED_AT_VENUE,
    OrderStatus.EXPIRED: CloseReason.EXPIRED,
    OrderStatus.REJECTED: CloseReason.REJECTED,
}
_BY_STATUS_PAIRS = tuple(_BY_STATUS.items())
_AT_VENUE = CloseReason.CANCELLED_AT_VENUE
_new_close = tuple.__new__


class ClosedOrder(NamedTuple):
    """One row that left: the order as last known (the venue's closing record when it sent
    one), why, when, and in what words.

    ``detail`` is the venue's own words for the close (``status_text``), the cancel action the
    trader took ("Cancel Group 7"), or "how unknown" for a vanish. ``corrects`` is set when the
    close arrived after a cancel receipt had said "closed, how unknown": the receipt is now
    known to be wrong or incomplete. ``unseen`` is set for a close a fresh list of the orders
    revealed (the stream never told of it), whether or not the venue's record says how. A NamedTuple: one is made for every close on the stream's
    hot path, and a tuple is built in C.
    """

    order: Order
    reason: CloseReason
    detail: str
    closed_ms: int
    corrects: bool = False
    unseen: bool = False  # learnt at a resync, not on the stream: its summary tells of it

    @property
    def key(self) -> OrderKey:
        """The row's identity."""
        return self.order.key

    @property
    def account_key(self) -> AccountKey:
        """The account of the row."""
        return self.order.account_key

    def line(self) -> str:
        """The close in one line: "tBTCUSD buy 0.1 @ 95,130 filled at 95,120.5"."""
        return f"{describe_order(self.order)} {self.outcome_text()}"

    def outcome_text(self) -> str:
        """How it ended: "filled at 95,120.5", "cancelled at the venue (CancelByAdmin)"."""
        reason = self.reason
        order = self.order
        if reason is CloseReason.FILLED:
            if order.avg_price is not None and order.avg_price > 0:
                return f"filled at {_number(order.avg_price)}"
            return "filled"
        if reason is CloseReason.VANISHED:
            return "closed while unseen (how unknown)"
        if reason is CloseReason.LEFT_LIST:
            return "closed at the venue, how unknown"  # it left the venue's list of open orders
        if self.detail:
            return f"{reason.value} ({self.detail})"
        return str(reason.value)


def close_of(final: Order, action: str | None, closed_ms: int, corrects: bool = False) -> ClosedOrder:
    """The close the venue's closing record ``final`` states. A cancel the trader had in
    flight (``action``, its name) makes a cancelled order "cancelled by you"; a fill is a fill
    whoever asked for a cancel."""
    # on the stream's hot path (every close): the status by identity (a dict look-up would
    # hash the Enum member in Python code), the tuple made in C (not by NamedTuple's __new__)
    status = final.status
    for known, reason in _BY_STATUS_PAIRS:
        if status is known:
            detail = final.status_text
            break
    else:
        reason, detail = _AT_VENUE, final.status_text
    if reason is _AT_VENUE and action is not None:
        reason, detail = CloseReason.CANCELLED_BY_YOU, action
    return _new_close(
        ClosedOrder, (final, reason, detail, final.updated_ms or closed_ms, corrects, False)
    )


def vanished(before: Order, closed_ms: int, stream: bool = False) -> ClosedOrder:
    """The close of an order missing from a fresh list: closed while unseen, how unknown; or
    with ``stream`` (the list is how the stream speaks) closed at the venue just now, how
    unknown."""
    if stream:
        return ClosedOrder(before, CloseReason.LEFT_LIST, "how unknown", closed_ms)
    return ClosedOrder(before, CloseReason.VANISHED, "how unknown", closed_ms, unseen=True)


def describe_order(order: Order) -> str:
    """The order in a trader's shorthand: "tBTCUSD buy 0.1 @ 95,130" (no price: market)."""
    side = "buy" if order.side is Side.BUY else "sell"
    head = f"{order.symbol} {side} {_number(order.amount)}"
    if order.price is not None and order.price > 0:
        return f"{head} @ {_number(order.price)}"
    return head


@dataclass(frozen=True, slots=True)
class ResyncDiff:
    """What one fresh list of an account's open orders changed: the rows it closed (they were
    missing from it), the rows it added, and the rows it changed (before, after). ``stream``:
    the list is how the stream speaks (see ``Snapshot.stream``)."""

    account: AccountKey
    closed: tuple[ClosedOrder, ...]
    added: tuple[Order, ...]
    changed: tuple[tuple[Order, Order], ...]
    stream: bool = False

    def __bool__(self) -> bool:
        return bool(self.closed or self.added or self.changed)

    def summary(self) -> str:
        """The counts in words, closes by how they ended: "2 filled, 1 cancelled at the
        venue, 1 closed while unseen, 3 new, 1 changed" ("" when none)."""
        counts: dict[CloseReason, int] = {}
        for close in self.closed:
            counts[close.reason] = counts.get(close.reason, 0) + 1
        parts = [f"{counts[reason]} {reason.value}" for reason in CloseReason if reason in counts]
        if self.added:
            parts.append(f"{len(self.added)} new")
        if self.changed:
            parts.append(f"{len(self.changed)} changed")
        return ", ".join(parts)

    def details(self, limit: int = 5) -> str:
        """What exactly differs, order by order ("order 1234 was closed at the venue but no
        close arrived on the stream", "... closed at the venue (filled at 95,120) but ..."), at
        most ``limit`` named and the rest counted."""
        lines = [
            f"order {c.order.order_id} ({describe_order(c.order)}) was closed at the venue"
            + ("" if c.reason in _HOW_UNKNOWN else f" ({c.outcome_text()})")
            + " but no close arrived on the stream"
            for c in self.closed
        ]
        lines += [
            f"order {o.order_id} ({describe_order(o)}) is open at the venue but the stream "
            "never showed it"
            for o in self.added
        ]
        lines += [
            f"order {after.order_id}: {_change(before, after)}" for before, after in self.changed
        ]
        shown = lines[:limit]
        if len(lines) > limit:
            shown.append(f"and {len(lines) - limit} more")
        return "; ".join(shown)


_HOW_UNKNOWN = (CloseReason.VANISHED, CloseReason.LEFT_LIST)


def _change(before: Order, after: Order) -> str:
    pairs = (("remaining", before.remaining, after.remaining),
             ("price", before.price, after.price), ("amount", before.amount, after.amount))
    for name, old, new in pairs:
        if old != new:
            return f"{name} {_number(new)} at the venue, {_number(old)} in the table"
    if before.status is not after.status:
        return f"{after.status.value} at the venue, {before.status.value} in the table"
    return "changed at the venue"


def _number(value: Decimal | None) -> str:
    if value is None:
        return "—"
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"
    return str(format(value.normalize(), ",f"))
