"""Bybit's words → ``Notice``s for the status bar and the notice log (pure).

The venue's own text is kept verbatim (``"110001: order not exists or too late to cancel"``);
where the blotter speaks for itself (a bulk cancel's summary, a rate-limit wait, a cancel that
got no confirmation) the sentence is built here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from blotter.core.cancel import CancelResult, OrderOutcome, Outcome
from blotter.core.notices import Level, Notice
from blotter.core.order import AccountKey, Order, OrderStatus
from blotter.venues.bybit.replies import DOC_TEXTS, VenueReply
from blotter.venues.bybit.requests import CANCEL_ALL_FUTURES_CAP

_CLOSE_LEVELS: Final[Mapping[OrderStatus, Level]] = {
    OrderStatus.CANCELLED: Level.SUCCESS,
    OrderStatus.FILLED: Level.INFO,
}


def error_notice(
    reply: VenueReply, account: AccountKey, ts_ms: int | None = None,
    order_ids: tuple[str, ...] = (),
) -> Notice:
    """The venue's words for the status bar: ``Notice.line()`` reads ``"110001: <retMsg>"``.

    "Already gone" codes are a warning (the stream or a re-query settles the row), others errors.
    """
    level = Level.WARNING if reply.already_gone else Level.ERROR
    if reply.ok:
        level = Level.SUCCESS
    return Notice(
        venue=account.venue,
        account=account.account,
        level=level,
        text=reply.ret_msg or DOC_TEXTS.get(reply.ret_code, "no message"),
        status=str(reply.ret_code),
        order_ids=order_ids,
        ts_ms=ts_ms,
    )


def closed_notice(order: Order, ts_ms: int | None = None) -> Notice:
    """A confirmation when the stream reports an order closed, e.g.
    ``"Cancelled · CancelByUser · EC_PerCancelRequest: SOLUSDT buy 0.1 @ 99"``."""
    price = f" @ {order.price}" if order.price is not None else ""
    return Notice(
        venue=order.venue,
        account=order.account,
        level=_CLOSE_LEVELS.get(order.status, Level.WARNING),
        text=f"{order.symbol} {order.side.value} {order.amount}{price} ({order.category})",
        status=order.status_text,
        order_ids=(order.order_id,),
        ts_ms=ts_ms,
    )


def bulk_cancel_notice(result: CancelResult, account: AccountKey, ts_ms: int) -> Notice | None:
    """One line for a cancel of many orders, instead of one per order: ``"Cancelled 40 of 40
    on bybit-demo"``, plus what did not go (``": 2 filled, 1 rejected"``); None for no orders.

    All cancelled is a success; anything refused or unconfirmed an error; else (filled first,
    already gone) a warning."""
    total = len(result.outcomes)
    if not total:
        return None
    cancelled = result.count(Outcome.CANCELLED)
    others = [
        f"{result.count(o)} {o.value}" for o in Outcome
        if o is not Outcome.CANCELLED and result.count(o)
    ]
    text = f"Cancelled {cancelled} of {total} on {account.account}"
    if others:
        text += ": " + ", ".join(others)
    trouble = result.count(Outcome.REJECTED) or result.count(Outcome.TIMED_OUT)
    level = Level.SUCCESS if not others else Level.ERROR if trouble else Level.WARNING
    return Notice(account.venue, account.account, level, text, ts_ms=ts_ms)


def rate_limit_notice(
    account: AccountKey, path: str, said: str, delay: float, ts_ms: int
) -> Notice:
    """A call waits for the venue's rate budget: ``said`` is the venue's answer (``"10006:
    Too many visits!"``, its code becomes the status) or ours (``"HTTP 429 (system busy)"``)."""
    code, sep, words = said.partition(": ")
    status = code if sep and code.isdigit() else None
    return Notice(
        account.venue, account.account, Level.INFO,
        f"{words if status else said}: rate limit reached on {path}; "
        f"sending again in {delay:.1f} s",
        status=status, ts_ms=ts_ms,
    )


def cancel_all_left_text(body: Mapping[str, str], left: int, rounds: int) -> str:
    """What a futures cancel-all left open after its last round (each takes at most 500):
    ``"200 linear orders (USDT) still open at Bybit after 5 cancel-all rounds of 500; cancel
    again"``."""
    scope = " ".join(v for k, v in body.items() if k != "category")
    return (
        f"{left} {body['category']} orders{' (' + scope + ')' if scope else ''} still "
        f"open at Bybit after {rounds} cancel-all rounds of "
        f"{CANCEL_ALL_FUTURES_CAP}; cancel again"
    )


def no_confirmation_text(timeout: float, reread: bool) -> str:
    """A cancel the stream did not confirm within ``timeout`` seconds; ``reread`` says whether
    the open orders could be re-read since (the order is then still open at the venue)."""
    if not reread:
        return (
            f"no confirmation from Bybit within {timeout:g} s, and "
            "the open orders could not be re-read; state unknown"
        )
    return f"no confirmation from Bybit within {timeout:g} s; the order is still open at the venue"


def filled_first_notice(outcome: OrderOutcome, ts_ms: int) -> Notice:
    """A fill won the race against the cancel: ``"Order 123 was filled before the cancel:
    Filled"`` (a warning: the trader asked for the opposite)."""
    key = outcome.key
    return Notice(
        key.venue, key.account, Level.WARNING,
        f"Order {key.order_id} was filled before the cancel: {outcome.text}",
        order_ids=(key.order_id,), ts_ms=ts_ms,
    )
