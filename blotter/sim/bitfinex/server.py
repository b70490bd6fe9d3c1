"""Loopback simulator of the Bitfinex API v2 (websocket `/ws/2` and authenticated REST `/v2/...`).

It speaks the wire protocol described in `venues/bitfinex.md` for the features a blotter uses:
auth with HMAC signatures and per-key nonces, the account channel (snapshots, `on`/`ou`/`oc`, `n`,
heartbeats), cancel inputs, REST order reads and cancels, and faults on demand. REST and the
websocket share one port, as `rest_url` is an origin and `ws_url` the full endpoint.

This module is the venue itself: its state, the scripted actions and faults of tests and the
demo, cancels (shared by both sides), and the background order flow. The websocket side is
`stream.py`, the REST side `rest.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from blotter.sim._loopback import Fault

from .auth import NonceBook, random_credentials
from .market import OrderBook
from .orders import SimOrder, quantize_amount
from .rest import RestSide
from .stream import WS_PATH, Conn, StreamSide, dumps


class BitfinexSimulator(RestSide, StreamSide):
    """The Bitfinex venue on 127.0.0.1, for tests and demo mode.

    Its switches (read when they matter; the one-shot ones reset themselves): ``reply_delay``,
    ``refuse_auth``, ``drop_after_ack`` (cut the socket right after the next cancel's `n`),
    ``fill_on_cancel`` (the next cancelled order fills first), and those of its two sides.
    """

    WS_PATH = WS_PATH
    VENUE = "bitfinex"

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        initial_orders: int = 0,
        flow_rate: float = 0.0,
        seed: int | None = None,
        heartbeat_interval: float = 15.0,
        ack_to_close_delay: float = 0.003,
    ) -> None:
        self._init_credentials(seed, api_key, api_secret, random_credentials)
        self.nonces = NonceBook()
        self._init_stream(heartbeat_interval)

        self.initial_orders = initial_orders
        self.flow_rate = flow_rate
        self.ack_to_close_delay = ack_to_close_delay

        # fault switches, read at the moment they matter; the one-shot ones reset themselves
        self.reply_delay = 0.0
        self.refuse_auth = False
        self.drop_after_ack = False
        self.fill_on_cancel = False
        self._init_rest()

        self._book = OrderBook(self._rng, first_id=190_000_000_000 + self._rng.randint(0, 10**9))
        self._timers: set[asyncio.TimerHandle] = set()
        self._init_server()
        self._seed_orders(initial_orders)

    # ------------------------------------------------------------------------------------------
    # state and scripted actions

    def open_orders(self) -> list[list[Any]]:
        return [o.to_array() for o in self._book.orders.values()]

    def order(self, order_id: int) -> list[Any] | None:
        found = self._book.get(order_id)
        return None if found is None else found.to_array()

    def place_order(
        self,
        symbol: str,
        amount: float | str,
        price: float | str,
        *,
        gid: int | None = None,
        cid: int | None = None,
        order_type: str = "EXCHANGE LIMIT",
        flags: int = 0,
        routing: str = "API>BFX",
    ) -> int:
        order = self._book.make_order(
            symbol, amount, price, mts=self._now(), gid=gid, cid=cid,
            order_type=order_type, flags=flags, routing=routing,
        )
        order.mts_update = order.mts_create
        self._book.add(order)
        self._emit_order("on", order)
        return order.id

    def fill(self, order_id: int, amount: float | str | Decimal | None = None) -> None:
        order = self._book.get(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        remaining = abs(order.amount)
        qty = remaining if amount is None else abs(quantize_amount(amount))
        if qty == 0:
            raise ValueError("fill amount must not be zero")
        if qty >= remaining:
            self._book.remove(order.id)
            self._emit_executed(order)
            return
        signed = qty if order.amount > 0 else -qty
        order.fills.append((order.price, signed))
        order.amount -= signed
        order.mts_update = self._now(order.mts_update)
        self._emit_order("ou", order)

    def cancel_external(self, order_id: int) -> None:
        order = self._book.remove(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        self._emit_cancelled(order)

    # ------------------------------------------------------------------------------------------
    # cancels (shared by websocket and REST)

    def _accept_cancels(self, orders: list[SimOrder], requester: Conn | None, *,
                        multi: bool) -> list[Any]:
        """Take the orders off the book, acknowledge with `n`, and close them shortly after.

        Returns the notification array (the REST answer). `requester` is None for REST.
        """
        as_was = [o.to_array() for o in orders]
        for order in orders:
            self._book.remove(order.id)
        if multi:
            note = [self._now(), "oc_multi-req", None, None, as_was, None, "SUCCESS",
                    f"Submitting {len(orders)} order cancellations."]
        else:
            note = [self._now(), "oc-req", None, None, as_was[0], None, "SUCCESS",
                    f"Submitted for cancellation; waiting for confirmation (ID: {orders[0].id})."]
        self._deliver_ack(dumps([0, "n", note]), requester)
        if orders:
            self._later(self.ack_to_close_delay, lambda: self._close_cancelled(orders))
        return note

    def _close_cancelled(self, orders: list[SimOrder]) -> None:
        for order in orders:
            if self.fill_on_cancel:
                # the race a trader dreads: the order filled before the cancel reached the book
                self.fill_on_cancel = False
                self._emit_executed(order)
            else:
                self._emit_cancelled(order)

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

    def _emit_executed(self, order: SimOrder) -> None:
        """Fill the whole remaining amount at the order's price and close it with `oc`."""
        status = order.executed_status(order.price, order.amount)
        order.fills.append((order.price, order.amount))
        order.amount = Decimal(0)
        order.mts_update = self._now(order.mts_update)
        self._emit_order("oc", order, status)

    # ------------------------------------------------------------------------------------------
    # flow and seeding

    def _seed_orders(self, count: int) -> None:
        """Open orders at start: several markets, ladders sharing a GID, some partly filled."""
        mts = self._now() - 8 * 3600 * 1000
        created: list[SimOrder] = []
        while len(created) < count:
            mts += self._rng.randint(20_000, 900_000)
            batch = self._book.random_orders(mts, allow_group=count - len(created) >= 2)
            created += batch[: count - len(created)]
        for i, order in enumerate(created):
            # the second order is always partly filled so small books still show one
            if i == 1 or self._rng.random() < 0.2:
                for _ in range(self._rng.randint(1, 2)):
                    part = self._book.random_fill_amount(order)
                    if part <= 0 or part >= abs(order.amount):
                        break
                    signed = part if order.amount > 0 else -part
                    order.fills.append((order.price, signed))
                    order.amount -= signed
                    order.mts_update += self._rng.randint(1_000, 600_000)
            self._book.add(order)

    def flow_step(self) -> None:
        """One automatic event; the open count drifts back towards the initial size."""
        rng = self._rng
        book = self._book.orders
        target = max(self.initial_orders, 5)
        deficit = (target - len(book)) / target
        p_new = min(0.95, max(0.05, 0.22 + 0.6 * deficit))
        if not book or rng.random() < p_new:
            self._flow_new_orders()
            return
        order = rng.choice(list(book.values()))
        roll = rng.random()
        if roll < 0.45:
            part = self._book.random_fill_amount(order)
            self.fill(order.id, part if 0 < part < abs(order.amount) else None)
        elif roll < 0.75:
            self.fill(order.id)
        elif order.gid is not None and rng.random() < 0.4:
            for member in self._book.by_gids([order.gid]):
                self.cancel_external(member.id)
        else:
            self.cancel_external(order.id)

    async def flood(self, rate: float, seconds: float, *, tick: float = 0.01,
                    new_share: float = 0.1, close_share: float = 0.1) -> dict[str, Any]:
        """A burst of account traffic at ``rate`` events/s for ``seconds`` (the flood benchmark).

        Events are applied to the book and sent in batches every ``tick``, as many as are due by
        then, so one process keeps up with thousands a second. Mostly partial fills (`ou`); a
        ``new_share`` of new orders (`on`) and a ``close_share`` of closes (`oc`, half fully
        executed, half cancelled); the open count is pulled back towards where it started.
        Returns the frames sent: {"events", "on", "ou", "oc", "seconds"}.
        """
        rng, book = self._rng, self._book
        ids = list(book.orders)  # random picks in O(1); closed ids are swapped out
        target = max(len(ids), 5)
        counts = {"on": 0, "ou": 0, "oc": 0}

        def drop(i: int) -> None:
            ids[i] = ids[-1]
            ids.pop()

        def one() -> None:
            deficit = (target - len(book.orders)) / target
            p_new = min(0.9, max(0.0, new_share + 4 * deficit))
            roll = rng.random()
            if not ids or roll < p_new:
                orders = book.random_orders(self._now())
                for order in orders:
                    book.add(order)
                    ids.append(order.id)
                    self._emit_order("on", order)
                counts["on"] += len(orders)
                return
            while True:
                i = rng.randrange(len(ids))
                found = book.get(ids[i])
                if found is not None:
                    order = found
                    break
                drop(i)  # closed by someone else (a cancel from the client)
                if not ids:
                    return
            if roll < p_new + close_share:
                drop(i)
                book.remove(order.id)
                if rng.random() < 0.5:
                    self._emit_executed(order)
                else:
                    self._emit_cancelled(order)
                counts["oc"] += 1
                return
            part = book.random_fill_amount(order)
            if not 0 < part < abs(order.amount):  # too small to split: it fills
                drop(i)
                book.remove(order.id)
                self._emit_executed(order)
                counts["oc"] += 1
                return
            self.fill(order.id, part)
            counts["ou"] += 1

        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0  # frames, not actions: a new ladder is 2–4 `on`
        while (elapsed := loop.time() - start) < seconds:
            due = int(rate * elapsed)
            while sent < due:
                one()
                sent = counts["on"] + counts["ou"] + counts["oc"]
            await asyncio.sleep(tick)
        return {"events": sent, **counts, "seconds": loop.time() - start}

    def _flow_new_orders(self) -> None:
        orders = self._book.random_orders(self._now())
        roll = self._rng.random()
        if len(orders) == 1 and roll < 0.04:
            # filled on arrival: the venue sends only `oc`, never `on` (notes §3.3)
            self._emit_executed(orders[0])
            return
        if len(orders) == 1 and roll < 0.10:
            # partly filled on arrival: `on` already carries the PARTIALLY FILLED status
            order = orders[0]
            part = self._book.random_fill_amount(order)
            if 0 < part < abs(order.amount):
                signed = part if order.amount > 0 else -part
                order.fills.append((order.price, signed))
                order.amount -= signed
        for order in orders:
            self._book.add(order)
            self._emit_order("on", order)

    # ------------------------------------------------------------------------------------------

    def faults(self, name: str) -> list[Fault]:
        async def restart() -> str:
            await self.send_info(20051, close=True)
            return ""

        async def malformed() -> str:
            await self.send_raw('[0,"ou",[1,')
            return ""

        def silent() -> str:
            self.silent_socket = not self.silent_socket
            return f"{name}'s websocket " + ("silent." if self.silent_socket else "talking.")

        def lose_close() -> str:
            self.lose_next_close = True
            return f"{name} will drop the next order close from its stream."

        return [
            Fault("Drop the connection", "The venue cuts the websocket (close 1006)",
                  self._dropped),
            Fault("Venue restart (info 20051)", "The venue says it is restarting, then closes",
                  restart),
            Fault("Send a malformed frame", "The venue sends a frame that is not valid JSON",
                  malformed),
            Fault("Silent socket on/off", "The websocket stays open but delivers nothing",
                  silent, lambda: self.silent_socket),
            Fault("Lose the next close", "The next order close never reaches the stream",
                  lose_close),
            *self.common_faults(name),
        ]

    @staticmethod
    def _now(after: int = 0) -> int:
        """Milliseconds now, strictly after `after` so updates never go back in time."""
        return max(int(time.time() * 1000), after + 1)
