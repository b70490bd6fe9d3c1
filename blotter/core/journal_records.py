"""What the journal writes: each event of the blotter as one plain, JSON-ready dict.

Every record has ``ts`` (when, UTC epoch milliseconds, an int) and ``kind``, then the fields of
its kind (see ``blotter.journal``). Decimals are strings, exact. Nothing here reads a clock or
touches a file: the caller passes the time in. No record carries a key, secret, token,
signature or nonce: the inputs (notices, states, orders, plans) hold none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from blotter.core.cancel import CancelPlan, CancelResult, CancelScope
from blotter.core.closes import ClosedOrder, ResyncDiff
from blotter.core.notices import AccountState, Notice
from blotter.core.order import Order

Record = dict[str, Any]

KINDS = ("action", "request", "reply", "outcome", "close", "state", "audit", "notice", "order")
"""Every kind of record, in no particular order."""

# the fields of an order that may change while it lives, as (record name, attribute)
_CHANGING = (("status", "status"), ("remaining", "remaining"), ("price", "price"),
             ("amount", "amount"), ("avg_price", "avg_price"), ("text", "status_text"))


def _text(value: object) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    enum_value = getattr(value, "value", None)
    return enum_value if isinstance(enum_value, str) else str(value)


def action_record(
    ts: int, action: str, scope: CancelScope, plans: Sequence[CancelPlan], origin: str
) -> Record:
    """What the trader asked: the action's id, the scope in words and its kind, the side, the
    accounts the plans go to, how many orders the table had in them, and ``from`` ("window"
    or "command line")."""
    return {
        "ts": ts, "kind": "action", "action": action, "what": scope.describe(),
        "scope": scope.kind.value, "side": _text(scope.side),
        "accounts": [p.account.account for p in plans],
        "count": sum(len(p.orders) for p in plans), "from": origin,
    }


def request_record(ts: int, action: str, plan: CancelPlan, operation: str) -> Record:
    """One cancel request as it goes to an account's client: the action, the account, the
    operation (how the client sends it, in words) and the ids of the orders it names."""
    return {
        "ts": ts, "kind": "request", "action": action, "venue": plan.account.venue,
        "account": plan.account.account, "operation": operation, "scope": plan.kind.value,
        "orders": list(plan.order_ids),
    }


def reply_records(ts: int, action: str, result: CancelResult) -> list[Record]:
    """The venue's answer to one request (``reply``: ``status`` "error" when the request
    failed, else "answered", with the venue's text), then each order's ``outcome``."""
    account = result.plan.account
    records: list[Record] = [{
        "ts": ts, "kind": "reply", "action": action, "venue": account.venue,
        "account": account.account, "status": "error" if result.error else "answered",
        "code": None, "text": result.error or result.text,
    }]
    for key, outcome in result.outcomes.items():
        records.append({
            "ts": ts, "kind": "outcome", "action": action, "venue": key.venue,
            "account": key.account, "order": key.order_id, "outcome": outcome.outcome.value,
            "text": outcome.text,
        })
    return records


def notice_record(ts: int, notice: Notice, action: str | None = None) -> Record:
    """A notice as the trader read it: level, the venue's status (its reply code) and text,
    the orders it names, its detail lines, whether it ended an action, and the action."""
    record: Record = {
        "ts": notice.ts_ms or ts, "kind": "notice", "venue": notice.venue,
        "account": notice.account, "level": notice.level.value, "status": notice.status,
        "text": notice.text,
    }
    if notice.order_ids:
        record["orders"] = list(notice.order_ids)
    if notice.details:
        record["details"] = list(notice.details)
    if notice.receipt:
        record["receipt"] = True
    if action is not None:
        record["action"] = action
    return record


def state_record(ts: int, state: AccountState) -> Record:
    """An account's connection state and why."""
    record: Record = {
        "ts": state.ts_ms or ts, "kind": "state", "venue": state.venue,
        "account": state.account, "state": state.state.value, "reason": state.reason,
    }
    if state.attempt:
        record["attempt"] = state.attempt
    if state.retry_in is not None:
        record["retry_in"] = state.retry_in
    return record


def close_record(ts: int, closed: ClosedOrder) -> Record:
    """Why a row left: the order, the reason (``CloseReason`` words), the detail (the venue's
    words or the trader's action), and whether it corrects a receipt."""
    order = closed.order
    record: Record = {
        "ts": ts, "kind": "close", "venue": order.venue, "account": order.account,
        "order": order.order_id, "symbol": order.symbol, "reason": closed.reason.value,
        "detail": closed.detail, "how": closed.outcome_text(),
        "closed_ms": closed.closed_ms,
    }
    if closed.corrects:
        record["corrects"] = True
    return record


def audit_record(ts: int, diff: ResyncDiff) -> Record:
    """A fresh list of an account's orders (a resync or a check) and what it corrected: the
    ids it closed, added and changed, in words too ("" and empty lists: the table was right)."""
    return {
        "ts": ts, "kind": "audit", "venue": diff.account.venue, "account": diff.account.account,
        "closed": [c.order.order_id for c in diff.closed],
        "added": [o.order_id for o in diff.added],
        "changed": [after.order_id for _, after in diff.changed],
        "summary": diff.summary(), "details": diff.details(limit=20), "stream": diff.stream,
    }


OrderState = tuple[Any, ...]


def order_records(
    ts: int, added: Iterable[Order], updated: Iterable[Order], seen: dict[Any, OrderState]
) -> list[Record]:
    """``order`` records for one batch of store changes: a first sighting in full
    (``first``: true), a change as only the fields that differ from ``seen`` (the last state
    recorded per row key, updated here); a repeat writes nothing."""
    records: list[Record] = []
    batch = [(o, True) for o in added]
    batch += [(o, False) for o in updated]
    for order, first in batch:
        key = order.key
        state: OrderState = (order.status, order.remaining, order.price, order.amount,
                             order.avg_price, order.status_text)  # _CHANGING's, in order
        before = seen.get(key)
        if before == state:
            continue
        seen[key] = state
        record: Record = {"ts": ts, "kind": "order", "venue": order.venue,
                          "account": order.account, "order": order.order_id}
        if first or before is None:
            record["first"] = True
            record.update(symbol=order.symbol, side=order.side.value, type=order.order_type)
            for name, value in (("group", order.group_id), ("cid", order.client_id),
                                ("category", order.category)):
                if value is not None:
                    record[name] = value
            for (name, _), value in zip(_CHANGING, state, strict=True):
                if value is not None:
                    record[name] = _text(value)
        else:
            for (name, _), old, new in zip(_CHANGING, before, state, strict=True):
                if old != new:
                    record[name] = _text(new)
        records.append(record)
    return records
