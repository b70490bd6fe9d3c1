"""The signed REST caller of one Bybit account (I/O): the venue's clock, signing with a fresh
timestamp on it, the rate budgets, and the retries the venue asks for.

Every call is signed by ``requests`` over the exact bytes sent, with a timestamp on the venue's
clock (our clock plus the offset read from ``/v5/market/time``, §1.3). The venue's rate budget
is per endpoint and category (§6): a spent budget makes the next call on it wait for the reset
the headers named; 10006 and HTTP 429 wait and send again, 10002 re-reads the clock once, 10016
retries shortly. Failures are ``RestFailure``s (``base``), never a secret in their text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

import httpx

from blotter.core.notices import NoticeBus
from blotter.core.order import AccountKey, Order
from blotter.core.venue import MalformedFrame
from blotter.venues.base import RestFailure
from blotter.venues.bybit import notices, replies, requests
from blotter.venues.bybit.replies import OpenOrdersPage, VenueReply
from blotter.venues.bybit.spec import CATEGORIES
from blotter.venues.net import now_ms, send


@dataclass(frozen=True, slots=True)
class OpenOrders:
    """The open orders read over REST, and in words each record that could not be read: with
    any, the list is not the whole truth and must not replace the rows."""

    orders: list[Order]
    unreadable: tuple[str, ...] = ()


CLOCK_REFRESH: Final = 300.0  # s between server-time reads while live
_MAX_PAGES: Final = 1000  # 50k orders per scope: a cursor loop must end
RATE_RETRIES: Final = 20  # 10006 / HTTP 429 waits per call before giving up
_SERVER_RETRIES: Final = 2  # 10016 "server error": retry shortly, twice
_SERVER_WAIT: Final = 0.25


class RestCaller:
    """Signed calls for one account. ``http`` hands out the account's HTTP client (the client
    owns it and closes it); ``redact`` takes every secret out of a text; rate-limit waits are
    said on ``notice_bus`` (once per call) and logged to ``log``."""

    def __init__(
        self,
        account: AccountKey,
        http: Callable[[], httpx.AsyncClient],
        *,
        api_key: str,
        api_secret: str,
        recv_window: int,
        redact: Callable[[str], str],
        notice_bus: NoticeBus,
        log: logging.Logger,
    ) -> None:
        self.account = account
        self.recv_window = recv_window
        self.clock_offset_ms = 0  # venue clock minus ours
        self.clock_at = 0.0  # loop time of the last server-time read
        self.unreadable = 0  # bodies that were not what the protocol says
        self._http = http
        self._key = api_key
        self._secret = api_secret
        self._redact = redact
        self._notices = notice_bus
        self._log = log
        # per (endpoint, category): loop time until which the venue's rate budget is spent
        self._spent: dict[tuple[str, str], float] = {}

    def __repr__(self) -> str:  # never the key or the secret
        return f"RestCaller({self.account})"

    def clean(self, reply: VenueReply) -> VenueReply:
        """The venue's words without our key: a 10004 echoes the string it signed, key and all."""
        clean = self._redact(reply.ret_msg)
        return reply if clean == reply.ret_msg else replace(reply, ret_msg=clean)

    # -- the venue's clock ----------------------------------------------------------------------
    async def sync_clock(self) -> int:
        """Read ``/v5/market/time`` and set the offset (venue minus local, ms) used to sign."""
        t0 = now_ms()
        response = await send(
            self._http(), "GET", requests.PATH_SERVER_TIME, unreachable="cannot reach Bybit",
            redact=self._redact,
        )
        t1 = now_ms()
        try:
            server = replies.parse_server_time(response.content)
        except MalformedFrame as exc:
            raise RestFailure(f"unreadable server time ({exc})") from None
        self.clock_offset_ms = server - (t0 + t1) // 2
        self.clock_at = asyncio.get_running_loop().time()
        return self.clock_offset_ms

    def clock_due(self) -> bool:
        """Whether the venue's clock was last read long enough ago to read it again."""
        return asyncio.get_running_loop().time() - self.clock_at >= CLOCK_REFRESH

    async def refresh_clock_quietly(self) -> None:
        """``sync_clock`` in the background: a failure is logged, the old offset kept."""
        try:
            await self.sync_clock()
        except RestFailure as failure:
            self._log.info("%s: server time not read: %s", self.account, failure.text)

    # -- the open orders (§3.1) -----------------------------------------------------------------
    async def open_orders(self, scopes: Iterable[tuple[str, str | None]]) -> OpenOrders:
        """Every open order in every ``(category, settleCoin)`` scope, following each cursor to
        the end, and in words each record that could not be read; ``RestFailure`` (the
        venue's reply in ``reply``) when one page is refused or unreadable as a whole.

        The scopes are read side by side (a slow venue costs one reply's time, not one per
        scope); the pages of one scope one after the other."""
        reads = [self._scope(category, settle) for category, settle in scopes]
        results = await asyncio.gather(*reads, return_exceptions=True)
        orders: dict[str, Order] = {}
        unreadable: list[str] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            found, bad = result
            for order in found:
                orders[order.order_id] = order
            unreadable.extend(bad)
        return OpenOrders(list(orders.values()), tuple(unreadable))

    async def _scope(
        self, category: str, settle: str | None
    ) -> tuple[list[Order], list[str]]:
        orders: list[Order] = []
        unreadable: list[str] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            query = requests.open_orders_query(
                category, settle_coin=settle, limit=requests.PAGE_LIMIT, cursor=cursor
            )
            raw = await self.call("GET", requests.PATH_OPEN_ORDERS, query=query)
            page = self._page(raw)
            orders.extend(page.orders)
            if page.unreadable:
                self.unreadable += 1
                unreadable.extend(page.unreadable)
            if page.last:
                break
            cursor = page.next_cursor
        return orders, unreadable

    async def order_by_id(self, order: Order) -> Order | None:
        """The venue's record of ``order`` in whatever state (open, or among the recent
        closes the venue keeps), read by its id; None when the venue knows no such order.
        ``RestFailure`` when it could not be asked or its answer could not be read."""
        category = order.category or ""
        if category not in CATEGORIES:
            raise RestFailure(f"order {order.order_id} not looked up: its market is not known")
        query = requests.open_orders_query(
            category, symbol=order.symbol, order_id=order.order_id, limit=1
        )
        raw = await self.call("GET", requests.PATH_OPEN_ORDERS, query=query)
        try:
            page = self._page(raw)
        except RestFailure as failure:
            if isinstance(failure.reply, VenueReply) and failure.reply.already_gone:
                return None  # spot answers an unknown id with 170213 (§5)
            raise
        found = [o for o in page.orders if o.order_id == order.order_id]
        if not found and page.unreadable:
            raise RestFailure(f"unreadable order from Bybit: {page.unreadable[0]}")
        return found[0] if found else None

    async def orders_by_id(
        self, orders: Iterable[Order], log: logging.Logger
    ) -> dict[str, Order]:
        """``order_by_id`` of each order, side by side: the venue's records found, by id. An
        order that could not be looked up is left out (and logged to ``log``)."""
        wanted = list(orders)
        results = await asyncio.gather(
            *(self.order_by_id(o) for o in wanted), return_exceptions=True
        )
        found: dict[str, Order] = {}
        for order, result in zip(wanted, results, strict=True):
            if isinstance(result, RestFailure):
                log.info("%s: order %s not looked up: %s", self.account, order.order_id,
                         result.text)
            elif isinstance(result, BaseException):
                raise result
            elif result is not None:
                found[result.order_id] = result
        return found

    def _page(self, raw: bytes) -> OpenOrdersPage:
        try:
            page = replies.parse_open_orders(raw, self.account)
        except MalformedFrame as exc:
            self.unreadable += 1
            raise RestFailure(f"unreadable open orders from Bybit ({exc})") from None
        if isinstance(page, VenueReply):
            reply = self.clean(page)
            raise RestFailure(reply.text(), reply=reply)
        return page

    # -- one signed call --------------------------------------------------------------------------
    async def call(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: dict[str, Any] | None = None,
    ) -> bytes:
        """One signed call; returns the body bytes (any retCode but the ones handled here) or
        raises ``RestFailure`` when the venue could not be reached or refused us at HTTP level.
        ``call_counted`` says too how many times the request went out."""
        content, _ = await self.call_counted(method, path, query=query, body=body)
        return content

    async def call_counted(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: dict[str, Any] | None = None,
    ) -> tuple[bytes, int]:
        """``call``, and how many times the request was sent: a repeated cancel that finds
        the order gone has learnt that it ended, not how.

        Handled here: the rate-limit headers (a spent budget makes the next call on that endpoint
        wait for its reset), 10006 and HTTP 429 (wait, then send again), 10002 (re-read the
        venue's clock, send once more), 10016 and HTTP 5xx (retry shortly; a cancel is safe to
        repeat). A cancel waits for the budget rather than being refused.
        """
        bucket = requests.rate_bucket(path, query, body)
        loop = asyncio.get_running_loop()
        clock_retried = False
        waits = 0
        sends = 0
        while True:
            spent_until = self._spent.get(bucket, 0.0)
            if spent_until > loop.time():
                await asyncio.sleep(spent_until - loop.time())
            sends += 1
            response = await self._send(method, path, query, body)
            limit = replies.parse_rate_limit(response.headers)
            if limit.remaining == 0:
                self.spend(bucket, limit.reset_ms, 0.0)
            status = response.status_code
            if status == 429 and waits < RATE_RETRIES:
                waits += 1
                delay = replies.retry_after(response.headers.get("retry-after"))
                self.spend(bucket, None, delay)
                self.rate_notice(path, "HTTP 429 (system busy)", delay, waits)
                continue
            if status >= 500 and waits < _SERVER_RETRIES:
                waits += 1
                self._log.info("%s: HTTP %d on %s; retrying", self.account, status, path)
                await asyncio.sleep(_SERVER_WAIT * waits)
                continue
            if status != 200:
                raise RestFailure(replies.http_text(status, path), status=status)
            content = response.content
            try:
                code = replies.parse_reply(content).ret_code
            except MalformedFrame:
                return content, sends  # the caller's parser says what is wrong with it
            if code == replies.ERR_TIMESTAMP and not clock_retried:
                clock_retried = True
                self._log.info("%s: 10002 on %s; re-reading the server clock", self.account, path)
                await self.sync_clock()
                continue
            if code == replies.ERR_RATE_LIMIT and waits < RATE_RETRIES:
                waits += 1
                delay = self.spend(bucket, limit.reset_ms, replies.RATE_WINDOW)
                self.rate_notice(path, replies.parse_reply(content).text(), delay, waits)
                continue
            if code == replies.ERR_SERVER and waits < _SERVER_RETRIES:
                waits += 1
                self._log.info("%s: 10016 on %s; retrying", self.account, path)
                await asyncio.sleep(_SERVER_WAIT * waits)
                continue
            return content, sends

    async def _send(
        self, method: str, path: str, query: str, body: dict[str, Any] | None
    ) -> httpx.Response:
        """Sign (with a fresh timestamp on the venue's clock) and send once."""
        http = self._http()
        ts = now_ms() + self.clock_offset_ms
        if method == "GET":
            request = requests.get_request(
                path, query, self._key, self._secret, ts, self.recv_window
            )
        else:
            request = requests.post_request(
                path, body or {}, self._key, self._secret, ts, self.recv_window
            )
        return await send(
            http, request.method, request.target, content=request.body,
            headers=request.headers, unreachable="cannot reach Bybit", redact=self._redact,
        )

    # -- the rate budgets (§6) ------------------------------------------------------------------
    def spend(self, bucket: tuple[str, str], reset_ms: int | None, fallback: float) -> float:
        """Mark ``bucket`` spent until the venue's reset time (on its clock), or for
        ``fallback`` seconds when it gave none; returns the wait in seconds."""
        if reset_ms is not None:
            delay = (reset_ms - (now_ms() + self.clock_offset_ms)) / 1000.0
            delay = min(max(delay, 0.0), replies.RATE_WAIT_CAP)
            if delay == 0.0:
                delay = fallback
        else:
            delay = fallback
        if delay > 0:
            until = asyncio.get_running_loop().time() + delay
            self._spent[bucket] = max(self._spent.get(bucket, 0.0), until)
        return delay

    def rate_wait(self, bucket: tuple[str, str]) -> float:
        """Seconds until ``bucket``'s budget is back: what the last reply's headers said, else
        one rate window from now (and the bucket marked spent until then)."""
        delay = self._spent.get(bucket, 0.0) - asyncio.get_running_loop().time()
        if delay <= 0:
            delay = self.spend(bucket, None, replies.RATE_WINDOW)
        return delay

    def rate_notice(self, path: str, said: str, delay: float, attempt: int) -> None:
        self._log.info(
            "%s: rate limit on %s (%s); waiting %.2f s", self.account, path, said, delay
        )
        if attempt == 1:  # once per call: the trader sees why a cancel takes a moment
            self._notices.publish(
                notices.rate_limit_notice(self.account, path, said, delay, now_ms())
            )
