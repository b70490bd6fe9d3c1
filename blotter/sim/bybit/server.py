"""Loopback simulator of the Bybit v5 API: authenticated REST (`/v5/...`) and the private
websocket `/v5/private`, on one port.

It speaks the wire protocol described in `venues/bybit.md` for what a blotter uses: signatures
over the exact bytes received, the timestamp window (with a configurable clock skew), key checks,
per-endpoint rate limits with the limit headers, open orders per category with cursor paging,
the three cancel endpoints (acknowledge first, then push the final state on the `order` topic),
the 500-order cap of futures cancel-all, batch per-item errors, the cancel/fill race, and faults
on demand. Written from the notes only; it does not import the blotter's own client.

This module is the venue itself: its account (open orders, recent closes), its clock, the
scripted actions of tests and the demo, the cancels it accepted, the background flow and the
faults. The REST endpoints are in `rest.py`, the private websocket in `stream.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from blotter.sim._loopback import Fault

from .auth import random_credentials
from .orders import (
    CATEGORIES,
    INSTRUMENTS,
    IdMaker,
    SimOrder,
    random_fill_qty,
    random_order,
)
from .rest import FUTURES_CANCEL_ALL_CAP, RestSide
from .stream import Connection, StreamSide

WS_PATH = "/v5/private"
CLOSED_CACHE = 500  # openOnly=1 keeps this many recent closed orders per category


class BybitSimulator(RestSide, StreamSide):
    """The Bybit v5 venue (unified account) on 127.0.0.1, for tests and demo mode."""

    WS_PATH = WS_PATH
    VENUE = "bybit"

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        initial_orders: int = 0,
        flow_rate: float = 0.0,
        seed: int | None = None,
        ack_to_close_delay: float = 0.005,
        idle_timeout: float = 600.0,
    ) -> None:
        self._init_credentials(seed, api_key, api_secret, random_credentials)
        self.uid = self._rng.randint(10_000_000, 199_999_999)
        self._ids = IdMaker(self._rng)

        self.initial_orders = initial_orders
        self.flow_rate = flow_rate
        self.ack_to_close_delay = ack_to_close_delay
        self.idle_timeout = idle_timeout

        # fault switches, read at the moment they matter; the one-shot ones reset themselves
        self.clock_skew = 0.0  # seconds added to the venue's clock
        self.refuse_key = False  # every private call: 10003; websocket auth fails
        self.silent_socket = False  # websockets send nothing (no pushes, no pongs, no pings)
        self.refuse_upgrade = False  # a websocket upgrade is answered HTTP 503
        self.lose_next_close = False  # the next push that carries a close is not sent
        self.garble_next_push = False  # the next push carries one more order, unreadable
        self.garble_lists = 0  # the next N pages of open orders have one unreadable record
        self.cut_pushes = 0  # the next N pushes go out cut in half: malformed frames
        self.force_rate_limit = 0  # the next N private REST calls: 10006
        self.force_server_error = 0  # the next N private REST calls: 10016
        self.force_sign_error = 0  # the next N private REST calls: 10004 (echoes what it signed)
        # the next private REST calls answer these HTTP statuses instead (429 with Retry-After)
        self.force_http_status: list[int] = []
        self.fill_on_cancel = False  # the next cancelled order fills instead (double Filled)
        self.reply_delay = 0.0
        self.rate_limits_enabled = True
        self.cancel_all_cap = FUTURES_CANCEL_ALL_CAP

        # counters for tests
        self.connections_opened = 0
        self.auth_ok_count = 0
        self.rest_calls: list[str] = []
        self.inputs_received: list[Any] = []
        # called with each decoded websocket request or (method, path, body) of a REST write
        self.input_listeners: list[Callable[[Any], None]] = []
        # called with (method, path) as each private REST call arrives, before any fault
        self.call_listeners: list[Callable[[str, str], None]] = []

        self._orders: dict[str, SimOrder] = {}
        self._closed: dict[str, deque[SimOrder]] = {c: deque(maxlen=CLOSED_CACHE)
                                                    for c in CATEGORIES}
        self._hits: dict[tuple[str, str, str], deque[float]] = {}
        self._conns: set[Connection] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._init_server()
        self._push_seq = 0
        self._seed_orders(initial_orders)

    # ------------------------------------------------------------------------------------------
    # the venue's clock

    def server_ms(self) -> int:
        """The venue's clock in ms, including `clock_skew`."""
        return int((time.time() + self.clock_skew) * 1000)

    # ------------------------------------------------------------------------------------------
    # state and scripted actions

    def open_orders(self, category: str | None = None) -> list[dict[str, Any]]:
        """Open orders as the `order` topic shows them (REST fields plus `category`)."""
        return [o.to_dict(ws=True) for o in self._orders.values()
                if category is None or o.category == category]

    def order(self, order_id: str) -> dict[str, Any] | None:
        found = self._orders.get(order_id)
        if found is None:
            for cache in self._closed.values():
                found = next((o for o in cache if o.order_id == order_id), None)
                if found is not None:
                    break
        return None if found is None else found.to_dict(ws=True)

    def place_order(
        self,
        category: str,
        symbol: str,
        side: str,
        qty: str | float | Decimal,
        price: str | float | Decimal,
        *,
        order_link_id: str | None = None,
        trigger_price: str | float | Decimal | None = None,
        order_filter: str = "Order",
        created_time: int | None = None,
        push: bool = True,
    ) -> str:
        """Add an open order (New, or Untriggered with a trigger price) and push it;
        returns its orderId."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        now = created_time if created_time is not None else self._now()
        oid = self._ids.order_id(category)
        order = SimOrder(
            category=category, symbol=symbol, order_id=oid,
            order_link_id=self._ids.link_id(category, oid, order_link_id), side=side,
            price=Decimal(str(price)), qty=Decimal(str(qty)), created=now, updated=now,
        )
        if trigger_price is not None:
            order.trigger_price = Decimal(str(trigger_price))
            order.status = "Untriggered"
            order.kind = order_filter if order_filter != "Order" else "StopOrder"
            order.stop_order_type = "Stop" if order.kind == "StopOrder" else order.kind
        self._orders[oid] = order
        if push:
            self._push([order])
        return oid

    def fill(self, order_id: str, qty: str | float | Decimal | None = None) -> None:
        """Fill `qty` (default: all that is left) at the order's price and push the state."""
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        left = order.qty - order.cum_qty
        part = left if qty is None else min(Decimal(str(qty)), left)
        if part <= 0:
            raise ValueError("fill quantity must be positive")
        order.cum_qty += part
        order.updated = self._now(order.updated)
        if order.cum_qty >= order.qty:
            order.status = "Filled"
            self._close(order)
        else:
            order.status = "PartiallyFilled"
        self._push([order])

    def cancel_external(self, order_id: str, cancel_type: str = "CancelByUser") -> None:
        """The order is cancelled from elsewhere (another app, the venue): push its end."""
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        self._finish_cancel(order, cancel_type)

    # ------------------------------------------------------------------------------------------
    # cancels accepted at the venue

    def _accept_cancels(self, orders: list[SimOrder]) -> None:
        """The ack is sent now; the orders close a moment later, pushed on the stream."""
        for order in orders:
            order.pending_cancel = True
        if orders:
            self._later(self.ack_to_close_delay, lambda: self._close_cancelled(orders))

    def _close_cancelled(self, orders: list[SimOrder]) -> None:
        for order in orders:
            if order.order_id not in self._orders:
                continue  # filled or cancelled in the meantime
            if self.fill_on_cancel:
                # the race: the order filled before the cancel reached the book (notes §7.4)
                self.fill_on_cancel = False
                order.cum_qty = order.qty
                order.status = "Filled"
                order.updated = self._now(order.updated)
                self._close(order)
                self._push([order])
                order.cancel_type = "CancelByUser"
                order.reject_reason = "EC_OrigClOrdIDDoesNotExist"
                self._push([order])
                continue
            self._finish_cancel(order, "CancelByUser")

    def _finish_cancel(self, order: SimOrder, cancel_type: str) -> None:
        if order.category == "spot" and order.status == "Untriggered":
            order.status = "Deactivated"
        elif order.category == "spot" and order.cum_qty > 0:
            order.status = "PartiallyFilledCanceled"
        else:
            order.status = "Cancelled"
        order.cancel_type = cancel_type
        order.reject_reason = "EC_PerCancelRequest"
        order.updated = self._now(order.updated)
        self._close(order)
        self._push([order])

    def _close(self, order: SimOrder) -> None:
        self._orders.pop(order.order_id, None)
        order.pending_cancel = False
        self._closed[order.category].append(order)

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        if delay <= 0:
            action()
            return
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._timers.discard(handle)
            action()

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    # ------------------------------------------------------------------------------------------
    # flow and seeding

    def _seed_orders(self, count: int) -> None:
        """Open orders at start, across every category, newest last; some partly filled.
        The first orders cover one instrument of each category so small books show them all."""
        mts = self._now() - 6 * 3600 * 1000
        cover = [next(i for i in INSTRUMENTS if i.category == c and i.settle == s)
                 for c, s in (("spot", "USDT"), ("linear", "USDT"), ("linear", "USDC"),
                              ("inverse", "BTC"), ("option", "USDC"))]
        for n in range(count):
            mts += self._rng.randint(5_000, 600_000)
            inst = cover[n] if n < len(cover) else None
            order = random_order(self._rng, self._ids, mts, inst)
            if order.status == "New" and (n == 1 or self._rng.random() < 0.2):
                part = random_fill_qty(self._rng, order)
                if part:
                    order.cum_qty = part
                    order.status = "PartiallyFilled"
                    order.updated = mts + self._rng.randint(1_000, 300_000)
            self._orders[order.order_id] = order

    def flow_step(self) -> None:
        """One automatic event; the open count drifts back towards the initial size."""
        rng = self._rng
        target = max(self.initial_orders, 5)
        deficit = (target - len(self._orders)) / target
        p_new = min(0.95, max(0.05, 0.25 + 0.6 * deficit))
        live = [o for o in self._orders.values() if not o.pending_cancel]
        if not live or rng.random() < p_new:
            # a few orders on one instrument, as a ladder, in one push
            inst = rng.choice(INSTRUMENTS)
            side = rng.choice(("Buy", "Sell"))
            now = self._now()
            made = [random_order(rng, self._ids, now, inst, side)
                    for _ in range(rng.choice((1, 1, 2, 3)))]
            for order in made:
                self._orders[order.order_id] = order
            self._push(made)
            return
        order = rng.choice(live)
        roll = rng.random()
        if order.status == "Untriggered":
            if roll < 0.3:
                order.status = "Triggered"
                order.updated = self._now(order.updated)
                self._push([order])
                order.status = "New"
                order.updated = self._now(order.updated)
                self._push([order])
            else:
                self.cancel_external(order.order_id)
        elif roll < 0.45:
            part = random_fill_qty(rng, order)
            self.fill(order.order_id, part or None)
        elif roll < 0.75:
            self.fill(order.order_id)
        else:
            self.cancel_external(order.order_id)

    # ------------------------------------------------------------------------------------------

    def faults(self, name: str) -> list[Fault]:
        def skew() -> str:
            self.clock_skew = 0.0 if self.clock_skew else -3.0
            return f"{name}'s clock " + ("3 s behind ours." if self.clock_skew else "on time.")

        def silent() -> str:
            self.silent_socket = not self.silent_socket
            return f"{name}'s websocket " + ("silent." if self.silent_socket else "talking.")

        def rate_limit() -> str:
            self.force_rate_limit = 3
            return f"{name} answers the next 3 calls with 10006 (rate limit)."

        async def refuse_key() -> str:
            self.refuse_key = not self.refuse_key
            if self.refuse_key:
                await self.drop_connections()
            return f"{name} " + ("refuses" if self.refuse_key else "accepts") + " the API key."

        def server_error() -> str:
            self.force_server_error = 1
            return f"{name} answers the next call with 10016 (server error)."

        def http_status(status: int) -> Callable[[], str]:
            def act() -> str:
                self.force_http_status.append(status)
                return f"{name} answers the next call with HTTP {status}."
            return act

        async def half_open() -> str:
            await self.half_open()
            return f"{name}'s websocket is half-open: nothing arrives, and no close."

        def refuse_upgrade() -> str:
            self.refuse_upgrade = not self.refuse_upgrade
            return f"{name} " + ("refuses" if self.refuse_upgrade else "accepts") + (
                " websocket connections.")

        def lose_close() -> str:
            self.lose_next_close = True
            return f"{name} loses the next close on the stream."

        def garble() -> str:
            self.garble_next_push = True
            return f"{name}'s next push carries one unreadable order."

        def cut() -> str:
            self.cut_pushes = 1
            return f"{name}'s next push arrives cut in half."

        return [
            Fault("Drop the connection", "The venue cuts the websocket (close 1006)",
                  self._dropped),
            Fault("Silent socket on/off", "The websocket stays open but sends nothing", silent,
                  lambda: self.silent_socket),
            Fault("Clock 3 s behind on/off", "The venue's clock runs 3 s behind (10002)", skew,
                  lambda: bool(self.clock_skew)),
            Fault("Rate limit (10006)", "The next 3 calls are refused for the rate limit",
                  rate_limit),
            Fault("Server error (10016)", "The next call fails with 10016", server_error),
            Fault("Refuse the API key on/off", "Every call and login answers 10003", refuse_key,
                  lambda: self.refuse_key),
            Fault("Half-open socket", "The websocket stays open but nothing gets through",
                  half_open),
            Fault("Refuse websockets on/off", "New websocket connections get HTTP 503",
                  refuse_upgrade, lambda: bool(self.refuse_upgrade)),
            Fault("HTTP 429", "The next call is refused with HTTP 429", http_status(429)),
            Fault("HTTP 500", "The next call fails with HTTP 500", http_status(500)),
            Fault("Lose the next close", "The next fill or cancel is not pushed", lose_close),
            Fault("Garble the next push", "The next push carries one unreadable order", garble),
            Fault("Malformed frame", "The next push arrives cut in half (not JSON)", cut),
            *self.common_faults(name),
        ]

    def _now(self, after: int = 0) -> int:
        """The venue's ms clock, strictly after `after` so updates never go back in time."""
        return max(self.server_ms(), after + 1)


__all__ = ["BybitSimulator"]
