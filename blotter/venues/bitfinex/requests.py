"""Bitfinex requests, built and signed, pure: never sent here, no clock read (the nonce is
passed in).

The websocket ``auth`` event (bitfinex.md §2), the cancel inputs on the authenticated socket
(§4) with their REST twins (§5.3), and signed REST calls (§5.1): HMAC-SHA384 in lowercase hex,
with the key's strictly increasing nonce (``nonce.py``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Final

import orjson

from blotter.core.cancel import CancelPlan, ScopeKind
from blotter.core.order import Order

AUTH_FILTER: Final = ("trading", "notify")
MULTI_CANCEL_CHUNK: Final = 200  # ids per oc_multi input / REST call (the venue documents no max)

# REST paths, relative to "/v2/" (the signature covers "/api/v2/<path>").
PATH_ORDERS: Final = "auth/r/orders"
PATH_CANCEL: Final = "auth/w/order/cancel"
PATH_CANCEL_MULTI: Final = "auth/w/order/cancel/multi"
PATH_HISTORY: Final = "auth/r/orders/hist"  # closed orders, with their final STATUS
HISTORY_LIMIT: Final = 2500  # the most orders one history call returns


def sign(secret: str, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA384 (§2.2, §5.1)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha384).hexdigest()


def auth_message(
    api_key: str,
    api_secret: str,
    nonce: int,
    *,
    dead_man_switch: bool = False,
    filters: tuple[str, ...] = AUTH_FILTER,
) -> bytes:
    """The WS ``auth`` event (§2.1). ``dms: 4`` only when asked: it cancels all orders on a drop."""
    payload = f"AUTH{nonce}"
    msg: dict[str, Any] = {
        "event": "auth",
        "apiKey": api_key,
        "authSig": sign(api_secret, payload),
        "authPayload": payload,
        "authNonce": nonce,
        "filter": list(filters),
    }
    if dead_man_switch:
        msg["dms"] = 4
    return orjson.dumps(msg)


def ping_message(cid: int) -> bytes:
    """``{"event":"ping","cid":N}`` (§1.4): answered by a ``pong`` with the same ``cid``."""
    return orjson.dumps({"event": "ping", "cid": cid})


def history_body(order_ids: list[int]) -> dict[str, Any]:
    """The body of a history call (``PATH_HISTORY``) for these orders: at most
    ``HISTORY_LIMIT`` of them, all returned at once."""
    ids = order_ids[:HISTORY_LIMIT]
    return {"id": ids, "limit": max(len(ids), 1)}


@dataclass(frozen=True, slots=True)
class RestRequest:
    """A signed REST call, ready to POST: its path, the exact bytes signed, and the headers."""

    path: str  # relative to the origin, e.g. "/v2/auth/w/order/cancel"
    body: bytes  # the exact bytes signed and sent
    headers: dict[str, str]

    def __repr__(self) -> str:  # never show the key or the signature
        return f"RestRequest(path={self.path!r}, body={self.body[:80]!r})"


def rest_request(
    path: str, body: dict[str, Any] | None, api_key: str, api_secret: str, nonce: int
) -> RestRequest:
    """A signed REST call: HMAC-SHA384 over ``"/api/v2/" + path + nonce + body`` (§5.1)."""
    raw = orjson.dumps(body if body is not None else {})
    nonce_text = str(nonce)
    signature = sign(api_secret, f"/api/v2/{path}{nonce_text}".encode() + raw)
    return RestRequest(
        path=f"/v2/{path}",
        body=raw,
        headers={
            "content-type": "application/json",
            "bfx-nonce": nonce_text,
            "bfx-apikey": api_key,
            "bfx-signature": signature,
        },
    )


def cancel_input(order_id: int) -> bytes:
    """``oc`` by order id (§4.1)."""
    return orjson.dumps([0, "oc", None, {"id": order_id}])


def cancel_cid_input(cid: int, cid_date: str) -> bytes:
    """``oc`` by client id and the UTC day the order was created (§4.1)."""
    return orjson.dumps([0, "oc", None, {"cid": cid, "cid_date": cid_date}])


def cancel_multi_input(payload: dict[str, Any]) -> bytes:
    """``oc_multi`` with ``{"id": [...]}``, ``{"gid": [...]}``, ``{"cid": [[cid, date]]}`` or ``{"all": 1}``."""
    return orjson.dumps([0, "oc_multi", None, payload])


@dataclass(eq=False, frozen=True, slots=True)
class CancelInput:
    """One cancel input, as the socket carries it (``frame``) and as REST does (``path`` and
    ``body``), with what it asks.

    ``asked`` are the rows the table expects it to cancel; ``track_new`` means the venue may
    also cancel orders the table has not seen (a group, everything), so the orders its answer
    lists are to be tracked too; ``order_id``/``cid``/``gid`` are what it names. Each input is
    its own (compared by identity): the same cancel sent twice is two inputs.
    """

    frame: bytes
    path: str
    body: dict[str, Any]
    asked: tuple[Order, ...]
    multi: bool
    track_new: bool = False
    order_id: str | None = None
    cid: str | None = None
    gid: str | None = None


def cancel_inputs(plan: CancelPlan, orders: tuple[Order, ...]) -> tuple[CancelInput, ...]:
    """The inputs that cancel ``orders`` (the plan's orders, all with Bitfinex ids) with the
    venue's primitive for the plan's scope: everything is one ``oc_multi`` ``all``, a group one
    ``oc_multi`` ``gid`` (both also take orders the table has not seen), one order an ``oc``, any
    other selection ``oc_multi`` by ids, ``MULTI_CANCEL_CHUNK`` at a time.

    ``ValueError`` (its text for the trader) for a group id that is not a number.
    """
    if plan.everything:
        return (_multi({"all": 1}, orders, track_new=True),)
    if plan.kind is ScopeKind.GROUP:
        gid = plan.group_id or ""
        if not gid.lstrip("-").isdigit():
            raise ValueError(f"not a group id: {gid!r}")
        return (_multi({"gid": [int(gid)]}, orders, track_new=True, gid=gid),)
    if len(orders) == 1 and plan.kind is ScopeKind.ORDER:
        (order,) = orders
        oid = int(order.order_id)
        return (CancelInput(
            cancel_input(oid), PATH_CANCEL, {"id": oid}, orders, multi=False,
            order_id=order.order_id,
        ),)
    chunk = MULTI_CANCEL_CHUNK
    return tuple(
        _multi({"id": [int(o.order_id) for o in part]}, part)
        for part in (orders[i : i + chunk] for i in range(0, len(orders), chunk))
    )


def cancel_route(plan: CancelPlan, orders: tuple[Order, ...]) -> str:
    """How ``cancel_inputs(plan, orders)`` goes out, in the trader's words: "one cancel-all
    request (all: 1)", "one group cancel (gid 7)", "one cancel", "one multi-cancel of 7 ids",
    "2 multi-cancels of up to 200 ids (250 orders)"."""
    try:
        inputs = cancel_inputs(plan, orders)
    except ValueError as exc:
        return f"nothing: {exc}"
    if not inputs:
        return "nothing to send"
    first = inputs[0]
    if "all" in first.body:
        return "one cancel-all request (all: 1)"
    if first.gid is not None:
        return f"one group cancel (gid {first.gid})"
    if not first.multi:
        return "one cancel"
    if len(inputs) == 1:
        n = len(first.asked)
        return f"one multi-cancel of {n} id{'' if n == 1 else 's'}"
    return (f"{len(inputs)} multi-cancels of up to {MULTI_CANCEL_CHUNK} ids "
            f"({len(orders)} orders)")


def _multi(
    payload: dict[str, Any], asked: tuple[Order, ...], *, track_new: bool = False,
    gid: str | None = None,
) -> CancelInput:
    return CancelInput(
        cancel_multi_input(payload), PATH_CANCEL_MULTI, payload, asked, multi=True,
        track_new=track_new, gid=gid,
    )
