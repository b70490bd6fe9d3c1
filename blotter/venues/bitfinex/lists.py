"""Fresh lists of a Bitfinex account's open orders: the ``os`` snapshot of each connection and
the REST re-reads (audits, "Check now", after a cancel), made equal to the venue without losing
what the stream says meanwhile (bitfinex.md §3, §5).

Rows a fresh list lacks closed while the stream was not telling: each is looked up in the
venue's order history first, so the list's summary says "2 filled, 1 cancelled at the venue",
not only that they are gone; a row the history does not name closes as unseen, how unknown.
``ListSide`` is the part of ``BitfinexClient`` that does this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from blotter.core.order import Closed, Order, OrderKey, Snapshot
from blotter.core.venue import MalformedFrame
from blotter.venues.base import RestFailure
from blotter.venues.bitfinex import requests
from blotter.venues.bitfinex.cancels import CancelSide
from blotter.venues.bitfinex.stream import BitfinexEvent

log = logging.getLogger("blotter.venues.bitfinex")

_LOOKUPS: Final = 25  # rows a fresh list lacks whose close is looked up in the history, at most
_LOOKUP_TIMEOUT: Final = 5.0  # s a snapshot waits for that history before it applies without it


class ListSide(CancelSide):
    """The fresh lists of one Bitfinex account (a base of ``BitfinexClient``, which provides
    the socket, the signed REST calls, the parser and the stream's catch-up declared here)."""

    _touched: set[str] | None
    _resync_lock: asyncio.Lock | None
    _snapshot_gen: int
    _settling: list[BitfinexEvent] | None

    def _on_event(self, event: BitfinexEvent) -> None:
        raise NotImplementedError

    async def _catch_up(self) -> None:
        raise NotImplementedError

    def _doubt(self, what: str) -> None:
        raise NotImplementedError

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        listed = {o.order_id for o in snapshot.orders}
        cancelling = set(self._store.waiting_cancels()) | self._acks.acknowledged
        unseen = [
            o.key for o in self._store.orders(self.account)
            if o.order_id not in listed and o.key not in cancelling and o.order_id.isdigit()
        ]
        if unseen and in_loop():
            # Rows the snapshot lacks closed while the stream was away: the order history says
            # how, before the snapshot applies (what the stream says meanwhile waits for it).
            self._settling = []
            self._spawn(self._settle(snapshot, unseen[:_LOOKUPS]))
            return
        self._apply_snapshot(snapshot)

    async def _settle(self, snapshot: Snapshot, unseen: list[OrderKey]) -> None:
        """Apply ``snapshot`` with the history's closing records of the rows it lacks, then
        the order events that came meanwhile."""
        socket = self._ws
        finals: list[Order] = []
        try:
            async with asyncio.timeout(_LOOKUP_TIMEOUT):
                finals = await self._history(unseen)
        except TimeoutError:
            log.warning("%s: order history not read in time", self.account)
        finally:
            held, self._settling = self._settling or [], None
        if self._ws is socket:  # else its session ended: the next one's snapshot decides
            self._apply_snapshot(
                Snapshot(snapshot.account, snapshot.orders, finals=tuple(finals))
            )
        for event in held:
            self._on_event(event)

    def _apply_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshot_gen += 1
        self._doubted = False
        gone = self._gone_while_cancelling({o.order_id for o in snapshot.orders})
        if gone:
            # Orders being cancelled that left unseen: their rows stay until the order
            # history says how each closed (a fill is a fill, not a guess).
            kept = tuple(o for o in map(self._store.get, gone) if o is not None)
            snapshot = Snapshot(self.account, snapshot.orders + kept, finals=snapshot.finals)
            self._spawn(self._resync(settle=True))
        self._store.apply(snapshot)
        if not self._live and self._authed:
            self._went_live()

    async def _resync(self, *, settle: bool | None = None) -> set[str] | None:
        """Re-read the open orders over REST and make the rows equal them.

        Returns the ids open at the venue, or None when the venue could not be asked (or its
        list could not be read whole: then the rows are in doubt). Safe while the stream is
        live: once the list is in, the stream is let catch up (a ping's pong), and orders the
        stream changed meanwhile keep the stream's (newer) version; one it closed stays closed.

        ``settle``: whether cancels whose acknowledged order is gone are settled now. By
        default only while the stream is down; while it is up their ``oc`` is on its way and
        says how they closed, so their rows stay until it comes. Orders being cancelled that
        are gone are looked up in the order history first: their close says how they ended.
        """
        if settle is None:
            settle = not self._live
        if self._resync_lock is None:
            self._resync_lock = asyncio.Lock()
        async with self._resync_lock:
            touched: set[str] = set()
            self._touched = touched
            finals: list[Order] = []
            generation = self._snapshot_gen
            try:
                try:
                    data = await self._rest.call(requests.PATH_ORDERS, {})
                    fresh = self._parser.orders.parse_orders(data)
                except RestFailure as failure:
                    log.warning("%s: resync failed: %s", self.account, failure.text)
                    return None
                except MalformedFrame as exc:
                    self.malformed_frames += 1
                    log.warning("%s: unreadable open orders (%s)", self.account, exc)
                    self._doubt("the list of open orders")
                    return None
                await self._catch_up()
                if self._snapshot_gen == generation:
                    listed = {o.order_id for o in fresh if o.order_id not in touched}
                    gone = [
                        k for k in self._gone_while_cancelling(listed | touched)
                        if settle or k not in self._acks.acknowledged
                    ]
                    if gone:
                        await self._closes_from_history(gone)
                    gone_too = {k.order_id for k in gone}
                    unseen = [
                        o.key for o in self._store.orders(self.account)
                        if o.order_id not in listed and o.order_id not in touched
                        and o.order_id not in gone_too and o.order_id.isdigit()
                    ]
                    if unseen:
                        finals = await self._history(unseen[:_LOOKUPS])
            finally:
                self._touched = None
            if self._snapshot_gen != generation:
                # A fresh os snapshot arrived meanwhile: it is at least as new as this answer.
                return {o.order_id for o in self._store.orders(self.account)}
            merged = [o for o in fresh if o.order_id not in touched]
            for oid in touched:
                current = self._store.get(OrderKey(self.account.venue, self.account.account, oid))
                if current is not None:
                    merged.append(current)
            open_ids = {o.order_id for o in merged}
            if settle:
                self._settle_acked(open_ids)
            else:
                for key in self._acks.acknowledged:
                    current = self._store.get(key)
                    if key.order_id not in open_ids and current is not None:
                        merged.append(current)  # closing: its oc will say how
            self._store.apply(Snapshot(self.account, tuple(merged), finals=tuple(finals)))
            return open_ids

    def _gone_while_cancelling(self, open_ids: set[str]) -> list[OrderKey]:
        """Rows being cancelled, and orders whose cancel the venue acknowledged (shown or not),
        that ``open_ids`` lacks: they left the book without a word on the stream."""
        acked, rows = self._acks.acknowledged, self._store
        keys = {k for k in rows.waiting_cancels() if k.account_key == self.account} | acked
        return [k for k in keys if k.order_id not in open_ids and (k in rows or k in acked)]

    async def _closes_from_history(self, keys: list[OrderKey]) -> None:
        """How orders that left the book unseen ended, from the venue's order history: each
        close found is applied (it settles the cancel waiting for it, with the venue's final
        status, and says why the row left). Those it does not name stay as they are."""
        for final in await self._history(keys):
            self._store.apply(Closed(final))

    async def _history(self, keys: list[OrderKey]) -> list[Order]:
        """The closing records the order history holds of ``keys`` (none when it could not be
        read: the caller goes on without them)."""
        wanted = {k.order_id for k in keys if k.order_id.isdigit()}
        if not wanted:
            return []
        try:
            data = await self._rest.call(
                requests.PATH_HISTORY, requests.history_body(sorted(int(i) for i in wanted))
            )
            finals = self._parser.orders.parse_closed(data)
        except RestFailure as failure:
            log.warning("%s: order history not read: %s", self.account, failure.text)
            return []
        return [final for final in finals if final.order_id in wanted]


def in_loop() -> bool:
    """Whether an event loop runs here (a frame a test hands in outside one has none)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a frame handed in outside any loop (a test): nothing to look up
        return False
    return True
