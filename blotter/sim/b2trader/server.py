"""Loopback simulator of a broker running B2TRADER: the token exchange, the accounts list and the
single-order cancel over REST (`/frontoffice/api/...`), and the SignalR account hub
`/frontoffice/ws/v4/account` with its `OpenOrders` stream, on one port.

Written from `venues/b2trader.md` only (it does not import the blotter's own client). Where the
public material is silent it implements the notes' simulator decisions A-1..A-14 (§6); the
comments cite them. Faults are plain attributes and methods, read at the moment they matter.

This module is the broker itself: its accounts, tokens and orders, the scripted actions and
faults, and the order flow. The REST endpoints are in `rest.py`, the hub in `stream.py`.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from blotter.sim._loopback import Fault

from . import hub
from .auth import TokenError, decode_jwt, encode_jwt, random_api_token
from .orders import (
    MARKETS,
    TICKS_PER_SECOND,
    IdMaker,
    SimOrder,
    as_decimal,
    market,
    now_ticks,
    random_fill_amount,
    random_order,
    ticks_of,
)
from .rest import ACCOUNTS_PATH, ORDER_PATH, TOKEN_PATH, RestSide
from .stream import ERR_TOKEN_EXPIRED, HubConn, StreamSide

WS_PATH = "/frontoffice/ws/v4/account"
CLOSED_CACHE = 5000
ISSUER = "b2trader-sim"

_DEFAULT_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"accountName": "Acme Main", "accountType": "Hedging", "totalBalanceInRAT": "25340.17"},
    {"accountName": "Acme Margin", "accountType": "Netting", "totalBalanceInRAT": "10987.39"},
)


class B2traderSimulator(RestSide, StreamSide):
    """A B2TRADER broker on 127.0.0.1 for one trader (one API token, several trading accounts),
    for tests and demo mode."""

    VENUE = "b2trader"
    WS_PATH = WS_PATH

    def __init__(
        self,
        api_token: str | None = None,
        initial_orders: int = 0,
        flow_rate: float = 0.0,
        seed: int | None = None,
        accounts: Sequence[Mapping[str, Any] | str] | None = None,
        token_lifetime: float = 3600.0,
        ping_interval: float = 15.0,
        client_timeout: float = 30.0,
        handshake_timeout: float = 15.0,
        delta_mode: bool = False,
        rate_limit: float = 0.0,
        close_on_token_expiry: bool = True,
    ) -> None:
        self._rng = random.Random(seed)
        self._ids = IdMaker(self._rng)
        self._api_key = api_token if api_token is not None else random_api_token(self._rng)
        self._api_tokens = {self._api_key}
        self._jwt_secret = self._rng.randbytes(32)
        self.user_id = str(self._rng.randint(100_000, 9_999_999))
        self._accounts: dict[str, dict[str, Any]] = {}
        for n, spec in enumerate(accounts if accounts is not None else _DEFAULT_ACCOUNTS):
            acc = self._make_account(n, spec)
            self._accounts[acc["accountId"]] = acc

        self.initial_orders = initial_orders
        self.flow_rate = flow_rate
        self.token_lifetime = token_lifetime  # seconds; A-1 (60 min by default)
        self.ping_interval = ping_interval  # A-8 KeepAliveInterval
        self.client_timeout = client_timeout  # A-8 ClientTimeoutInterval
        self.handshake_timeout = handshake_timeout
        self.delta_mode = delta_mode  # False = full-list snapshots, True = changes only
        self.rate_limit = rate_limit  # private REST calls per rolling second; 0 = unlimited
        self.close_on_token_expiry = close_on_token_expiry  # U-8: Close when the JWT expires

        # fault switches; the one-shot ones reset themselves
        self.refuse_token = False  # the token exchange answers 401
        self.reply_delay = 0.0  # seconds before every REST answer
        self.fill_on_cancel = False  # the next cancel finds the order filled (200 Completed)
        self.split_records = False  # each outgoing frame is sent as two frames
        self.batch_records = False  # records queued together go out in one frame
        self.silent_socket = False  # hub sockets send nothing (no items, no pings)
        self.drop_items = 0  # the next N stream items are not sent
        self.duplicate_items = 0  # the next N stream items are sent twice
        self.finished_status = 400  # cancelling a finished order (A-4; 404 is the other guess)
        self.retry_after = 1  # Retry-After seconds of a forced 429
        self.fill_after_refusal = False  # the order of the next refused DELETE fills right after
        self.cut_requests = 0  # the next N DELETEs get no answer: the connection is cut
        self.refuse_upgrade = 0  # HTTP status the hub's websocket upgrade is refused with
        self.bad_orders = 0  # the next N stream items carry one unreadable order as well
        self.bad_order: dict[str, Any] = {"orderId": "01BAD0000000000000000000000",
                                          "side": "Sideways"}
        self._forced: deque[tuple[int, str]] = deque()
        self._forced_rest: dict[str, deque[tuple[int, str]]] = {}

        # side door for tests: counters and logs
        self.tokens_issued = 0
        self.max_in_flight = 0  # the most DELETEs being answered at one time
        self._in_flight = 0
        self.cancel_requests: list[dict[str, Any]] = []
        self.connections_opened = 0
        self.upgrades_refused = 0  # websocket upgrades answered with an error status
        self.rate_limited = 0
        self.hub_messages: list[dict[str, Any]] = []  # every hub message received
        self.protocol_errors: list[str] = []
        self.warnings: list[str] = []
        self.items_sent = 0

        self._issued_jti: set[str] = set()
        self._revoked_jti: set[str] = set()
        self._negotiated: dict[str, float] = {}
        self._hits: deque[float] = deque()
        self._orders: dict[str, SimOrder] = {}
        self._closed: OrderedDict[str, SimOrder] = OrderedDict()
        self._conns: set[HubConn] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._init_server()
        self._seed_orders(initial_orders)

    # ------------------------------------------------------------------------------------------
    # identity

    @property
    def credentials(self) -> dict[str, str]:
        return {"api_token": self._api_key}

    @property
    def api_token(self) -> str:
        return self._api_key

    @property
    def jwt_secret(self) -> bytes:
        """The HS256 key, so tests can check the tokens' signatures themselves."""
        return self._jwt_secret

    @property
    def accounts(self) -> list[dict[str, Any]]:
        """The trading accounts as `GET /frontoffice/api/v3/accounts` lists them."""
        return [dict(a) for a in self._accounts.values()]

    @property
    def account_ids(self) -> list[str]:
        return list(self._accounts)

    def _make_account(self, n: int, spec: Mapping[str, Any] | str) -> dict[str, Any]:
        given: Mapping[str, Any] = {"accountName": spec} if isinstance(spec, str) else spec
        acc: dict[str, Any] = {
            "accountId": str(given.get("accountId") or self._ids.account_id(
                1_750_000_000 + self._rng.randint(0, 10_000_000))),
            "accountName": str(given.get("accountName", f"Account {n + 1}")),
            "accountType": str(given.get("accountType", "Hedging")),
            "totalBalanceInRAT": str(given.get("totalBalanceInRAT", "0")),
            "isCopyTradingAccount": bool(given.get("isCopyTradingAccount", False)),
        }
        for key, value in given.items():  # e.g. B2PRIME's publicAccountId (P-13)
            acc.setdefault(key, value)
        return acc

    # ------------------------------------------------------------------------------------------
    # routes

    def _routes(self, app: web.Application) -> None:
        app.router.add_post(TOKEN_PATH, self._rest_token)
        app.router.add_get(ACCOUNTS_PATH, self._rest_accounts)
        app.router.add_delete(ORDER_PATH, self._rest_cancel)
        app.router.add_post(WS_PATH + "/negotiate", self._negotiate)
        app.router.add_get("/_sim/orders", self._debug_orders)  # A-3, outside /frontoffice

    # ------------------------------------------------------------------------------------------
    # tokens

    def issue_token(self, lifetime: float | None = None) -> str:
        """A fresh HS256 JWT for the trader, valid `lifetime` seconds (default
        `token_lifetime`). `exp` is an integer unless the lifetime has a fraction."""
        life = self.token_lifetime if lifetime is None else lifetime
        now = time.time()
        iat = int(now)
        exp: float = iat + int(life) if float(life).is_integer() else round(now + life, 3)
        jti = uuid.UUID(int=self._rng.getrandbits(128), version=4).hex
        claims = {"sub": self.user_id, "iss": ISSUER, "aud": "frontoffice", "iat": iat,
                  "nbf": iat, "exp": exp, "jti": jti, "operations": ["trading-ui"]}
        self._issued_jti.add(jti)
        self.tokens_issued += 1
        return encode_jwt(claims, self._jwt_secret)

    def expire_tokens(self, close_hub: bool = True) -> None:
        """Every token issued so far expires now: REST answers 401, and (unless `close_hub`
        is False) every hub connection gets a Close with `allowReconnect: true` (A-14)."""
        self._revoked_jti |= self._issued_jti
        if not close_hub:
            return
        for conn in list(self._conns):
            conn.finish(hub.close(ERR_TOKEN_EXPIRED, allow_reconnect=True)
                        if conn.handshaken else None)

    def _authenticate(self, token: str | None) -> dict[str, Any]:
        if token is None:
            raise TokenError("")
        claims = decode_jwt(token, self._jwt_secret, time.time())
        if claims.get("jti") in self._revoked_jti:
            raise TokenError(f"The token expired at {int(time.time())}")
        return claims

    # ------------------------------------------------------------------------------------------
    # state and scripted actions (side door)

    def open_orders(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Open orders as the `OpenOrders` stream shows them, oldest first (all accounts
        when `account_id` is None)."""
        pool = [o for o in self._orders.values()
                if account_id is None or o.account_id == account_id]
        pool.sort(key=lambda o: (o.created, o.order_id))
        return [o.to_stream() for o in pool]

    def order(self, order_id: str) -> dict[str, Any] | None:
        """An open or recently finished order, in the stream's shape."""
        found = self._orders.get(order_id) or self._closed.get(order_id)
        return None if found is None else found.to_stream()

    def add_order(
        self,
        account_id: str | None = None,
        market_id: str = "spot.btc_usdt",
        side: str = "Buy",
        amount: str | float | Decimal = "0.01",
        price: str | float | Decimal | None = None,
        *,
        order_type: str = "Limit",
        time_in_force: str = "Gtc",
        status: str | None = None,
        cancellation_date: datetime | None = None,
        leverage: int = 1,
        push: bool = True,
    ) -> str:
        """Add an open order (default: the first account, a BTC/USDT limit buy at the market's
        typical price) and push it; returns its orderId. A Market order has no price and starts
        as `Started`; a limit order is `Pending`. `cancellation_date` is a GTD expiry."""
        acc = account_id if account_id is not None else self.account_ids[0]
        if acc not in self._accounts:
            raise KeyError(f"no account {acc}")
        mkt = market(market_id)
        now = self._now()
        limit_price = None if order_type == "Market" else as_decimal(
            price if price is not None else mkt.price)
        order = SimOrder(
            account_id=acc, market=mkt, order_id=self._ids.order_id(now), side=side,
            requested=as_decimal(amount), price=limit_price, created=now, updated=now,
            order_type=order_type, time_in_force=time_in_force,
            status=status or ("Started" if order_type == "Market" else "Pending"),
            cancellation_date=None if cancellation_date is None else ticks_of(cancellation_date),
            leverage=leverage,
        )
        self._orders[order.order_id] = order
        if push:
            self._changed(acc, [order])
        return order.order_id

    def fill(self, order_id: str, amount: str | float | Decimal | None = None,
             price: str | float | Decimal | None = None) -> None:
        """Fill `amount` (default: all that is left) and push: `Working` while some remains,
        `Completed` (and gone from the open list) when nothing does."""
        order = self._open(order_id)
        part = order.remaining if amount is None else min(as_decimal(amount), order.remaining)
        if part <= 0:
            raise ValueError("fill amount must be positive")
        order.apply_fill(part, None if price is None else as_decimal(price))
        if order.remaining <= 0:
            self._finish(order, "Completed")
        else:
            order.status = "Working"
            order.updated = self._now(order.updated)
            self._changed(order.account_id, [order])

    def expire(self, order_id: str) -> None:
        """The order's time in force ran out (GTD/Day): `Expired`, maybe partly filled."""
        self._finish(self._open(order_id), "Expired")

    def cancel_external(self, order_id: str, reason: str = "Trader") -> None:
        """Cancelled from elsewhere (the terminal, the broker's admin, a stop-out)."""
        self._finish(self._open(order_id), "Cancelled", reason=reason)

    def reject(self, order_id: str, details: str = "Insufficient funds") -> None:
        self._open(order_id).reject_details = details
        self._finish(self._open(order_id), "Rejected", reason="Trader")

    def _open(self, order_id: str) -> SimOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        return order

    def _finish(self, order: SimOrder, status: str, reason: str | None = None) -> None:
        order.status = status
        if reason is not None:
            order.reason = reason
        order.updated = self._now(order.updated)
        self._orders.pop(order.order_id, None)
        self._closed[order.order_id] = order
        while len(self._closed) > CLOSED_CACHE:
            self._closed.popitem(last=False)
        self._changed(order.account_id, [order])

    def faults(self, name: str) -> list[Fault]:
        def expire() -> str:
            self.expire_tokens()
            return (f"{name} expired every access token: the hub closes, the blotter gets a new "
                    "token and reconnects.")

        def split() -> str:
            self.split_records = not self.split_records
            return (f"{name} splits every record over two frames: "
                    f"{'on' if self.split_records else 'off'}.")

        def rate_limit() -> str:
            self.force_status(429, "problem", count=3)
            return (f"{name} answers the next 3 cancels with 429 (Retry-After "
                    f"{self.retry_after} s).")

        def server_error() -> str:
            self.force_status(500, "problem", count=3)
            return f"{name} answers the next 3 cancels with 500."

        def silent() -> str:
            self.silent_socket = not self.silent_socket
            return f"{name}'s hub sends nothing: {'on' if self.silent_socket else 'off'}."

        def half_open() -> str:
            self.half_open()
            return ""  # the client's own reaction says it

        def lose_list() -> str:
            self.drop_items += 1
            return f"{name} loses the next order list on the stream."

        def unreadable() -> str:
            self.bad_orders += 1
            return f"{name}'s next order list carries an order the blotter cannot read."

        def refuse_key() -> str:
            self.refuse_token = not self.refuse_token
            if self.refuse_token:
                self.expire_tokens()
            return (f"{name} refuses the API token: "
                    f"{'on' if self.refuse_token else 'off'}.")

        return [
            Fault("Drop the connection", "The hub's websocket is cut (close 1006)",
                  self._dropped),
            Fault("Silent hub on/off", "The hub's websocket stays open but sends nothing",
                  silent, lambda: self.silent_socket),
            Fault("Half-open hub", "The hub's websocket neither sends nor reads, and stays open",
                  half_open),
            Fault("Lose the next list", "The next OpenOrders item is not sent", lose_list),
            Fault("Unreadable order", "The next OpenOrders item carries an unreadable order",
                  unreadable),
            Fault("Refuse the API token on/off", "The token exchange answers 401", refuse_key,
                  lambda: self.refuse_token),
            Fault("Expire the access token", "Every JWT expires now; the hub closes the stream",
                  expire),
            Fault("Split records on/off", "Each SignalR record arrives in two frames", split,
                  lambda: self.split_records),
            Fault("Rate limit (429)", "The next 3 cancels get 429 with Retry-After", rate_limit),
            Fault("Server error (500)", "The next 3 cancels get 500", server_error),
            *self.common_faults(name),
        ]

    def _now(self, after: int = 0) -> int:
        """Ticks now, strictly after `after` so updates never go back in time."""
        return max(now_ticks(), after + 1)

    # ------------------------------------------------------------------------------------------
    # flow and seeding

    def _seed_orders(self, count: int) -> None:
        """Open orders at start, spread over the accounts (each gets one first), newest last;
        some partly filled (`Working`)."""
        ids = self.account_ids
        ticks = now_ticks() - 6 * 3600 * TICKS_PER_SECOND
        for n in range(count):
            ticks += self._rng.randint(5, 600) * TICKS_PER_SECOND + self._rng.randint(0, 9_999_999)
            acc = ids[n] if n < len(ids) else self._rng.choice(ids)
            mkt = MARKETS[n % len(MARKETS)] if n < len(MARKETS) else None
            order = random_order(self._rng, self._ids, acc, ticks, mkt)
            if n == 1 or self._rng.random() < 0.2:
                part = random_fill_amount(self._rng, order)
                if part:
                    order.apply_fill(part)
                    order.status = "Working"
                    order.updated = order.created + self._rng.randint(
                        TICKS_PER_SECOND, 300 * TICKS_PER_SECOND)
            self._orders[order.order_id] = order

    def flow_step(self) -> None:
        """One automatic event; the open count drifts back towards the initial size."""
        rng = self._rng
        target = max(self.initial_orders, 5)
        live = list(self._orders.values())
        p_new = min(0.95, max(0.05, 0.25 + 0.6 * (target - len(live)) / target))
        if not live or rng.random() < p_new:
            self._flow_new()
            return
        order = rng.choice(live)
        roll = rng.random()
        if order.status == "Started":
            if order.order_type == "Market":
                self.fill(order.order_id)
            elif roll < 0.1:
                self.reject(order.order_id)
            else:
                order.status = "Pending"
                order.updated = self._now(order.updated)
                self._changed(order.account_id, [order])
        elif roll < 0.4:
            part = random_fill_amount(rng, order)
            self.fill(order.order_id, part or None)
        elif roll < 0.65:
            self.fill(order.order_id)
        elif roll < 0.85 and order.time_in_force in ("Gtd", "Day"):
            self.expire(order.order_id)
        else:
            self.cancel_external(order.order_id, "Admin" if roll > 0.97 else "Trader")

    def _flow_new(self) -> None:
        """A few orders on one market of one account, as a ladder, in one push; now and then
        a Market order (`Started`, filled by a later step)."""
        rng = self._rng
        acc = rng.choice(self.account_ids)
        now = self._now()
        if rng.random() < 0.05:
            mkt = rng.choice(MARKETS)
            oid = self.add_order(acc, mkt.market_id, rng.choice(("Buy", "Sell")),
                                 mkt.min_amount * rng.randint(1, 20), order_type="Market",
                                 push=False)
            self._changed(acc, [self._orders[oid]])
            return
        mkt = rng.choice(MARKETS)
        side = rng.choice(("Buy", "Sell"))
        made = [random_order(rng, self._ids, acc, now + n, mkt, side)
                for n in range(rng.choice((1, 1, 2, 3)))]
        started = rng.random() < 0.2
        for order in made:
            if started:
                order.status = "Started"
            self._orders[order.order_id] = order
        self._changed(acc, made)


__all__ = ["WS_PATH", "B2traderSimulator"]
