"""B2TRADER's texts → ``Notice``s, pure: error answers, cancel answers (the venue sends no text of
its own: it is composed from the returned order), orders that left the open set, the end of an
order stream, and the progress of many single cancels.

Nothing here reads a clock: ``ts_ms`` is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

from blotter.core.cancel import OrderOutcome, Outcome
from blotter.core.notices import Level, Notice
from blotter.core.order import AccountKey, Order, OrderStatus
from blotter.venues.b2trader.orders import clean
from blotter.venues.b2trader.replies import CancelReply, ErrorReply


def error_notice(
    error: ErrorReply,
    account: AccountKey,
    ts_ms: int | None = None,
    order_ids: tuple[str, ...] = (),
) -> Notice:
    """``Notice.line()`` reads ``"HTTP 404: Order 123: not found"``.

    A gone order is a warning (the stream settles the row), the rest errors."""
    return Notice(
        venue=account.venue,
        account=account.account,
        level=Level.WARNING if error.order_gone else Level.ERROR,
        text=error.summary,
        status=f"HTTP {error.http_status}",
        order_ids=order_ids,
        ts_ms=ts_ms,
    )


def cancel_notice(reply: CancelReply, account: AccountKey, ts_ms: int | None = None) -> Notice:
    """The venue sends no text: compose it from the returned order (§ "Text for the status bar")."""
    if reply.outcome is Outcome.CANCELLED:
        level = Level.SUCCESS
    elif reply.outcome is Outcome.FILLED:
        level = Level.INFO
    else:
        level = Level.WARNING
    return Notice(
        venue=account.venue,
        account=account.account,
        level=level,
        text=reply.text,
        status="HTTP 200",
        order_ids=(reply.order_id,),
        ts_ms=ts_ms,
    )


def closed_notice(order: Order, ts_ms: int | None = None) -> Notice:
    """An order left the open set, e.g. ``"Cancelled: EUR/CHF buy 10000 @ 0.9 (cfd)"``."""
    price = f" @ {order.price}" if order.price is not None else ""
    level = {
        OrderStatus.CANCELLED: Level.SUCCESS,
        OrderStatus.FILLED: Level.INFO,
    }.get(order.status, Level.WARNING)
    where = f" ({order.category})" if order.category else ""
    return Notice(
        venue=order.venue,
        account=order.account,
        level=level,
        text=f"{order.symbol} {order.side.value} {order.amount}{price}{where}",
        status=order.status_text,
        order_ids=(order.order_id,),
        ts_ms=ts_ms,
    )


def stream_error_notice(
    error: str | None,
    account: AccountKey,
    trading_account: str | None = None,
    ts_ms: int | None = None,
) -> Notice:
    """An ``OpenOrders`` stream ended by the server (a Completion, with an ``error`` or not)."""
    where = f" for {trading_account}" if trading_account else ""
    if error is not None:
        text = f"Order stream{where} ended: {clean(error)}"
        level = Level.ERROR
    else:
        text = f"Order stream{where} ended by the venue"
        level = Level.WARNING
    return Notice(account.venue, account.account, level, text, status="stream", ts_ms=ts_ms)


def cancel_failed_notice(order: Order, text: str, ts_ms: int | None = None) -> Notice:
    """A cancel that failed without an answer from the venue (``text`` says why)."""
    return Notice(
        order.venue, order.account, Level.ERROR, text, order_ids=(order.order_id,), ts_ms=ts_ms
    )


def progress_notice(
    account: AccountKey, where: str, done: int, total: int, ts_ms: int | None = None
) -> Notice:
    """``"Cancelling 37/120 on Acme Main…"``: a passing line while single cancels run."""
    return Notice(
        account.venue, account.account, Level.INFO, f"Cancelling {done}/{total} on {where}…",
        ts_ms=ts_ms, transient=True,
    )


def progress_summary_notice(
    account: AccountKey, where: str, outcomes: Sequence[OrderOutcome], ts_ms: int | None = None
) -> Notice:
    """How many single cancels ended how: ``"Cancelled 118 of 120 on Acme Main: 2 filled"``;
    an error when any was refused or timed out, a warning for the other outcomes."""
    cancelled = sum(1 for o in outcomes if o.outcome is Outcome.CANCELLED)
    others: dict[Outcome, int] = {}
    for o in outcomes:
        if o.outcome is not Outcome.CANCELLED:
            others[o.outcome] = others.get(o.outcome, 0) + 1
    text = f"Cancelled {cancelled} of {len(outcomes)} on {where}"
    if others:
        text += ": " + ", ".join(f"{n} {outcome.value}" for outcome, n in others.items())
    level = Level.SUCCESS if not others else (
        Level.ERROR if Outcome.REJECTED in others or Outcome.TIMED_OUT in others
        else Level.WARNING
    )
    return Notice(account.venue, account.account, level, text, ts_ms=ts_ms)
