"""The receipt of a cancel action, and what to say when an action has nothing to cancel.

A receipt is one line that is true and complete ("Cancelled 2 of 3 on bybit-main; 1 filled
first (BTCUSDT buy 0.01 @ 97,100)"), with every order's outcome behind it as detail lines. It
says only what the venues stated (the results' outcomes and words) and, after a Cancel All or
Cancel Account, what a fresh read of each account found still open (``Proof``). Pure: the
engine hands in the results, the orders as it knew them and the venue labels.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from blotter.core.cancel import (
    CancelResult,
    CancelScope,
    OrderOutcome,
    Outcome,
    ScopeKind,
    instrument_text,
)
from blotter.core.closes import describe_order
from blotter.core.notices import Level
from blotter.core.order import AccountKey, Order, OrderKey, Side

# how each outcome that is not "cancelled" reads in a receipt, in the order they are listed
_WORDS = {
    Outcome.FILLED: "filled first",
    Outcome.REJECTED: "rejected",
    Outcome.TIMED_OUT: "timed out",
    Outcome.NOT_FOUND: "not found",
    Outcome.CLOSED: "closed, how unknown",
}
_LISTED_LEFT = 3  # orders named in the line when some are left; the details name them all
_LISTED_INSTRUMENTS = 6
_REASON_LIMIT = 80  # characters of a reason in a line that counts many orders


@dataclass(frozen=True, slots=True)
class Proof:
    """What re-reading the affected accounts from the venue found once the outcomes were in:
    the orders within the cancel's scope still open that the table showed when the cancel was
    sent (``left``) and those it showed only since (``arrived``: placed meanwhile, or unseen
    until the re-read), and the accounts that could not be re-read (``unread``, by name)."""

    left: tuple[Order, ...] = ()
    unread: tuple[str, ...] = ()
    arrived: tuple[Order, ...] = ()

    @property
    def rest(self) -> tuple[Order, ...]:
        """Every order the re-read found open within the scope ("Cancel the rest")."""
        return self.left + self.arrived


@dataclass(frozen=True, slots=True)
class Receipt:
    """One cancel action's receipt: its level, its line, and one detail line per order."""

    level: Level
    text: str
    details: tuple[str, ...]


def short_id(order_id: str) -> str:
    """An order id short enough for a status line: long ids (a ULID) keep their first 8
    characters and "…"; the details keep the whole id."""
    return order_id if len(order_id) <= 12 else order_id[:8] + "…"


def cancel_receipt(
    results: Sequence[CancelResult],
    label: Callable[[AccountKey], str],
    known: Mapping[OrderKey, Order],
    proof: Proof | None = None,
) -> Receipt:
    """The receipt of the ``results`` of one action.

    The line counts what was cancelled, on the one account ("Cancelled 3 of 3 on bfx-main") or
    per venue as ``label`` names it ("Cancelled 120 of 120: Bitfinex 40, Bybit 40, Acme 40").
    For a single order it carries the venue's own words for what went wrong (the outcome's text,
    else the request's error) and names the order; for many, the count of each other outcome
    with its first reason (a fill that beat the cancel names the order: "1 filled first
    (BTCUSDT buy 0.01 @ 97,100)"). A request that failed as a whole names its account and the
    error. ``proof`` completes it: "0 left", or how many are left, naming the first (and how
    many arrived since, open within the scope after the cancel). ``known``
    describes the orders by key (an order it lacks is named by its id only). The level is an
    error when an order was refused or timed out or a request failed, a warning when anything
    else did not end as cancelled, success otherwise.
    """
    outcomes = [(r, o) for r in results for o in r.outcomes.values()]
    total = len(outcomes)
    cancelled = sum(1 for _, o in outcomes if o.outcome is Outcome.CANCELLED)
    accounts = list(dict.fromkeys(r.plan.account for r in results))
    if len(accounts) == 1:
        head = f"Cancelled {cancelled} of {total} on {accounts[0].account}"
    else:
        per_venue: dict[str, int] = {}
        for r in results:
            name = label(r.plan.account)
            per_venue[name] = per_venue.get(name, 0) + r.count(Outcome.CANCELLED)
        head = f"Cancelled {cancelled} of {total}: " + ", ".join(
            f"{name} {n}" for name, n in per_venue.items()
        )
    if total == 1 and len(accounts) == 1:
        parts = _one(outcomes[0][0], outcomes[0][1], known)
        text = head + parts
        parts_list: list[str] = []
    else:
        text = head
        parts_list = _many(outcomes, known)
    parts_list += [f"{r.plan.account.account}: {r.error}" for r in results
                   if r.error and not r.outcomes]
    if proof is not None:
        parts_list += _proof_parts(proof)
    if parts_list:
        text += "; " + "; ".join(parts_list)
    return Receipt(_level(results, proof), text, _details(results, known, proof))


def _one(result: CancelResult, outcome: OrderOutcome, known: Mapping[OrderKey, Order]) -> str:
    order = known.get(outcome.key)
    kind = outcome.outcome
    if kind is Outcome.CANCELLED:
        return f" ({describe_order(order)})" if order is not None else ""
    if kind is Outcome.FILLED:
        return f": filled first ({_name(outcome.key, known)})"
    words = outcome.text or result.error or ""
    if kind is not Outcome.REJECTED:
        words = f"{_WORDS[kind]}: {words}" if words else _WORDS[kind]
    elif not words:
        words = "rejected"
    return f": {words}{_id_suffix(outcome.key.order_id, words)}"


def _many(
    outcomes: list[tuple[CancelResult, OrderOutcome]], known: Mapping[OrderKey, Order]
) -> list[str]:
    parts = []
    for kind, word in _WORDS.items():
        items = [(r, o) for r, o in outcomes if o.outcome is kind]
        if not items:
            continue
        n = len(items)
        if kind is Outcome.FILLED:
            more = ", …" if n > 1 else ""
            parts.append(f"{n} {word} ({_name(items[0][1].key, known)}{more})")
            continue
        reasons: dict[str, OrderKey] = {}  # first order of each distinct reason, in order
        for r, o in items:
            reason = o.text or r.error or ""
            if reason:
                reasons.setdefault(reason, o.key)
        part = f"{n} {word}"
        if reasons:
            reason, key = next(iter(reasons.items()))
            clipped = _clip(reason)
            part += f": {clipped}{_id_suffix(key.order_id, clipped)}"
            others = len(reasons) - 1
            if others:
                part += f" and {others} other reason{'s' if others > 1 else ''}"
        parts.append(part)
    return parts


def _proof_parts(proof: Proof) -> list[str]:
    parts = []
    left = proof.left
    if left:
        parts.append(f"{len(left)} left: {_named(left)}")
    elif not proof.unread:
        parts.append("0 left")
    if proof.arrived:
        parts.append(f"{len(proof.arrived)} arrived since: {_named(proof.arrived)}")
    if proof.unread:
        parts.append(f"could not re-read {', '.join(proof.unread)} to prove it")
    return parts


def _named(orders: tuple[Order, ...]) -> str:
    named = ", ".join(
        f"{describe_order(o)} (order {short_id(o.order_id)})" for o in orders[:_LISTED_LEFT]
    )
    return named + (", …" if len(orders) > _LISTED_LEFT else "")


def _level(results: Sequence[CancelResult], proof: Proof | None) -> Level:
    if any(r.error or r.count(Outcome.REJECTED) or r.count(Outcome.TIMED_OUT) for r in results):
        return Level.ERROR
    if not all(r.ok for r in results) or (proof is not None and (proof.rest or proof.unread)):
        return Level.WARNING
    return Level.SUCCESS


def _details(
    results: Sequence[CancelResult], known: Mapping[OrderKey, Order], proof: Proof | None
) -> tuple[str, ...]:
    """Every order's outcome, what is still open first, then what went wrong, then the
    venues' words for the requests, then what was cancelled."""
    lines = []
    if proof is not None:
        lines += [f"{o.account} · order {o.order_id} ({describe_order(o)}): still open at the "
                  "venue after the cancel" for o in proof.left]
        lines += [f"{o.account} · order {o.order_id} ({describe_order(o)}): arrived since, open "
                  "at the venue after the cancel" for o in proof.arrived]
        lines += [f"{name}: could not be re-read from the venue" for name in proof.unread]
        if not proof.rest and not proof.unread:
            lines.append("Re-read from the venue: no order of the scope is left open")
    lines += [f"{r.plan.account.account}: the request failed: {r.error}"
              for r in results if r.error]
    outcomes = [o for r in results for o in r.outcomes.values()]
    for kind in (*_WORDS, Outcome.CANCELLED):
        for o in outcomes:
            if o.outcome is not kind:
                continue
            said = _WORDS.get(kind, kind.value)
            words = f": {o.text}" if o.text and o.text != said else ""
            lines.append(f"{o.key.account} · order {o.key.order_id}"
                         f"{_described(o.key, known)}: {said}{words}")
        if kind is Outcome.CLOSED:  # the venues' words for the requests, before the cancelled
            lines += [f"{r.plan.account.account}: {r.text}" for r in results if r.text]
    return tuple(lines)


def _name(key: OrderKey, known: Mapping[OrderKey, Order]) -> str:
    order = known.get(key)
    return describe_order(order) if order is not None else f"order {short_id(key.order_id)}"


def _described(key: OrderKey, known: Mapping[OrderKey, Order]) -> str:
    order = known.get(key)
    return f" ({describe_order(order)})" if order is not None else ""


def _clip(words: str) -> str:
    """A reason short enough to leave room in the line for the rest (the details keep it
    whole)."""
    return words if len(words) <= _REASON_LIMIT else words[: _REASON_LIMIT - 1] + "…"


def _id_suffix(order_id: str, words: str) -> str:
    """" (order 123)" unless the venue's ``words`` name the order already."""
    named = re.search(rf"(?<!\w){re.escape(order_id)}(?!\w)", words)
    return "" if named else f" (order {short_id(order_id)})"


# -- nothing to cancel --------------------------------------------------------------------------
def nothing_to_cancel(scope: CancelScope, orders: Iterable[Order]) -> str:
    """What to say when ``scope`` matches no open order, and what is open where it aimed:
    "Nothing to cancel: no open buys of BTCUSDT Linear on bybit-main. Open there: BTCUSDT
    Linear (2 sells), ETHUSDT Linear (1 buy)". ``orders`` are the open orders."""
    if scope.kind in (ScopeKind.ORDER, ScopeKind.SELECTED):
        n = len(scope.keys)
        if n == 1:
            return f"Order {scope.keys[0].order_id} is no longer open; nothing to cancel."
        return f"The {n} orders are no longer open; nothing to cancel."
    what = scope.describe().replace(" on every ", " on any ")
    what = what.removeprefix("all ")
    if scope.account is not None:
        around = [o for o in orders if o.account_key == scope.account]
    elif scope.venue is not None and scope.kind is not ScopeKind.ALL:
        around = [o for o in orders if o.venue == scope.venue]
    else:
        around = list(orders)
    return f"Nothing to cancel: no open {what}. {open_instruments(around)}"


def open_instruments(orders: Iterable[Order]) -> str:
    """The instruments open among ``orders`` with their sides: "Open there: tBTCUSD (1 buy,
    2 sells), tETHUSD (1 sell)"; "Nothing is open there." when there are none."""
    counts: dict[str, Counter[Side]] = {}
    for order in orders:
        counts.setdefault(instrument_text(order.symbol, order.category), Counter())[order.side] += 1
    if not counts:
        return "Nothing is open there."
    named = []
    for name in sorted(counts)[:_LISTED_INSTRUMENTS]:
        sides = counts[name]
        said = [f"{sides[s]} {'buy' if s is Side.BUY else 'sell'}{'s' if sides[s] > 1 else ''}"
                for s in (Side.BUY, Side.SELL) if sides[s]]
        named.append(f"{name} ({', '.join(said)})")
    more = len(counts) - _LISTED_INSTRUMENTS
    tail = f" and {more} more" if more > 0 else ""
    return f"Open there: {', '.join(named)}{tail}."
