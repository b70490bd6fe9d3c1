"""Loopback simulator of a broker running B2TRADER: the token exchange, the accounts list and the
single-order cancel over REST (`/frontoffice/api/...`), and the SignalR account hub
`/frontoffice/ws/v4/account` with its `OpenOrders` stream, on one port.

Written from `venues/b2trader.md` only (it does not import the blotter's own client). Where the
public material is silent it implements the notes' simulator decisions A-1..A-14 (§6); the
comments cite them. Faults are plain attributes and methods, read at the moment they matter.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from blotter.sim._loopback import Fault, LoopbackVenue

from . import hub
from .auth import TokenError, bearer_token, decode_jwt, encode_jwt, random_api_token
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

WS_PATH = "/frontoffice/ws/v4/account"
TOKEN_PATH = "/frontoffice/api/v4/access-token"
ACCOUNTS_PATH = "/frontoffice/api/v3/accounts"
ORDER_PATH = "/frontoffice/api/v3/orders/{order_id}"
CLOSED_CACHE = 5000
BODY_KINDS = ("problem", "empty", "plain")
ISSUER = "b2trader-sim"

# SignalR texts (stock ASP.NET Core wording where the notes or the spec give it)
ERR_CONNECTION = "Connection closed with an error."
ERR_TOKEN_EXPIRED = "Unauthorized: the access token has expired."
ERR_CLIENT_TIMEOUT = ("Connection closed with an error. "
                      "Client timeout elapsed without receiving a message from the client.")
ERR_SERVER_CLOSING = "The server is closing the connection."
ERR_HANDSHAKE = "An unexpected error occurred during connection handshake."

_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    502: "https://tools.ietf.org/html/rfc9110#section-15.6.3",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}
_DEFAULT_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"accountName": "Acme Main", "accountType": "Hedging", "totalBalanceInRAT": "25340.17"},
    {"accountName": "Acme Margin", "accountType": "Netting", "totalBalanceInRAT": "10987.39"},
)


class _HubConn:
    """One hub websocket. Records go out through a queue (None = close the socket), so their
    order is the order of events and synchronous actions can emit without awaiting."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None,
                 claims: dict[str, Any]) -> None:
        self.ws = ws
        self.transport = transport
        self.claims = claims
        self.expires_at = float(claims["exp"])
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.alive = True
        self.closing = False
        self.handshaken = False
        self.buffer = hub.RecordBuffer()
        self.streams: dict[str, str] = {}  # active invocationId -> accountId
        self.next_id = 0  # the invocationId the docs' "+1" rule expects next
        now = time.monotonic()
        self.opened = now
        self.last_recv = now
        self.last_sent = now
        self.tasks: list[asyncio.Task[None]] = []
        self.wake = asyncio.Event()  # the watchdog re-plans (the handshake arrived)

    def push(self, text: str) -> None:
        if self.alive and not self.closing:
            self.queue.put_nowait(text)

    def finish(self, last: str | None = None) -> None:
        """Send `last` (a Close message or a handshake error), then close the socket."""
        if not self.alive or self.closing:
            return
        if last is not None:
            self.queue.put_nowait(last)
        self.closing = True
        self.streams.clear()
        self.queue.put_nowait(None)


class B2traderSimulator(LoopbackVenue):
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
        self._forced: deque[tuple[int, str]] = deque()

        # side door for tests: counters and logs
        self.tokens_issued = 0
        self.max_in_flight = 0  # the most DELETEs being answered at one time
        self._in_flight = 0
        self.cancel_requests: list[dict[str, Any]] = []
        self.connections_opened = 0
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
        self._conns: set[_HubConn] = set()
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

    def expire_tokens(self) -> None:
        """Every token issued so far expires now: REST answers 401, and every hub connection
        gets a Close with `allowReconnect: true` (A-14)."""
        self._revoked_jti |= self._issued_jti
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

    @staticmethod
    def _unauthorized(err: TokenError) -> web.Response:
        # stock JwtBearer: empty body; error details only when a token was sent
        text = str(err)
        challenge = (f'Bearer error="invalid_token", error_description="{text}"' if text
                     else "Bearer")
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async def _rest_token(self, request: web.Request) -> web.Response:
        # any Content-Type (with or without x-api-version) is read as JSON
        raw = await request.read()
        await self._delay()
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            return self._problem(400, None, title="One or more validation errors occurred.",
                                 errors={"$": ["The JSON value could not be converted."]})
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            return self._problem(400, None, title="One or more validation errors occurred.",
                                 errors={"Token": ["The Token field is required."]})
        if self.refuse_token or token not in self._api_tokens:
            return web.Response(status=401)  # empty body
        return _json({"accessToken": self.issue_token()})

    # ------------------------------------------------------------------------------------------
    # REST plumbing

    async def _delay(self) -> None:
        if self.reply_delay > 0:
            await asyncio.sleep(self.reply_delay)

    async def _private(self, request: web.Request) -> web.Response | None:
        """Bearer check and rate limit; an error response, or None to go on."""
        await self._delay()
        try:
            self._authenticate(bearer_token(request.headers.get("Authorization")))
        except TokenError as err:
            return self._unauthorized(err)
        return self._rate_check()

    def _rate_check(self) -> web.Response | None:
        if self.rate_limit <= 0:
            return None
        now = time.monotonic()
        while self._hits and now - self._hits[0] >= 1.0:
            self._hits.popleft()
        if len(self._hits) >= self.rate_limit:
            self.rate_limited += 1
            wait = max(1, math.ceil(1.0 - (now - self._hits[0])))
            return self._problem(429, "Too many requests. Try again later.",
                                 headers={"Retry-After": str(wait)})
        self._hits.append(now)
        return None

    def _problem(self, status: int, detail: str | None, *, title: str | None = None,
                 errors: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None) -> web.Response:
        """An RFC 7807 Problem Details answer as ASP.NET Core writes it (A-4)."""
        body: dict[str, Any] = {
            "type": _PROBLEM_TYPES.get(status, "about:blank"),
            "title": title or HTTPStatus(status).phrase,
            "status": status,
        }
        if detail is not None:
            body["detail"] = detail
        if errors is not None:
            body["errors"] = errors
        body["traceId"] = (f"00-{self._rng.getrandbits(128):032x}-"
                           f"{self._rng.getrandbits(64):016x}-00")
        return web.Response(status=status, body=orjson.dumps(body),
                            content_type="application/problem+json", headers=headers)

    def force_status(self, code: int, body_kind: str = "problem", count: int = 1) -> None:
        """The next `count` DELETEs answer `code` (e.g. 429, 500, 503) with a Problem Details
        body (`problem`), an empty body (`empty`) or plain text (`plain`), before any other
        check, as a gateway in front of the API would; a 429 carries `Retry-After`."""
        if body_kind not in BODY_KINDS:
            raise ValueError(f"body_kind must be one of {BODY_KINDS}")
        HTTPStatus(code)  # an unknown code raises ValueError here, not in a handler
        self._forced.extend([(code, body_kind)] * count)

    def _forced_response(self, code: int, kind: str) -> web.Response:
        headers = {"Retry-After": str(self.retry_after)} if code == 429 else {}
        if kind == "problem":
            return self._problem(code, f"Simulated {code} {HTTPStatus(code).phrase}.",
                                 headers=headers)
        if kind == "plain":
            return web.Response(status=code, text=HTTPStatus(code).phrase, headers=headers)
        return web.Response(status=code, headers=headers)

    # ------------------------------------------------------------------------------------------
    # GET /frontoffice/api/v3/accounts

    async def _rest_accounts(self, request: web.Request) -> web.Response:
        refused = await self._private(request)
        if refused is not None:
            return refused
        return _json(self.accounts)

    # ------------------------------------------------------------------------------------------
    # DELETE /frontoffice/api/v3/orders/{orderId}

    async def _rest_cancel(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        account_id = request.headers.get("accountId")  # header names are case-insensitive
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            response = await self._cancel(request, order_id, account_id)
        finally:
            self._in_flight -= 1
        self.cancel_requests.append({"orderId": order_id, "accountId": account_id,
                                     "status": response.status})
        return response

    async def _cancel(self, request: web.Request, order_id: str,
                      account_id: str | None) -> web.Response:
        if self._forced:
            await self._delay()
            code, kind = self._forced.popleft()
            return self._forced_response(code, kind)
        refused = await self._private(request)
        if refused is not None:
            return refused
        if account_id is None or not account_id.strip():
            return self._problem(400, None, title="One or more validation errors occurred.",
                                 errors={"accountId": ["The accountId field is required."]})
        account_id = account_id.strip()
        if account_id not in self._accounts:  # not the trader's account
            return web.Response(status=403)
        order = self._orders.get(order_id)
        if order is None or order.account_id != account_id:
            done = self._closed.get(order_id)
            if done is not None and done.account_id == account_id:
                return self._problem(
                    self.finished_status,
                    f"Order '{order_id}' cannot be cancelled in status {done.status}.")
            return self._problem(404, f"Order '{order_id}' was not found.")
        if self.fill_on_cancel:
            # the race: the order filled before the cancel reached the book
            self.fill_on_cancel = False
            order.apply_fill(order.remaining)
            self._finish(order, "Completed")
        else:
            self._finish(order, "Cancelled", reason="Trader")
        return _json({"order": order.to_rest()})

    async def _debug_orders(self, request: web.Request) -> web.Response:
        """A-3: the open orders, for tests only; not part of the venue's API."""
        return _json(self.open_orders(request.query.get("accountId")))

    # ------------------------------------------------------------------------------------------
    # the SignalR hub (A-6 .. A-12)

    async def _negotiate(self, request: web.Request) -> web.Response:
        """A-6: the optional negotiate step; only the WebSockets transport is offered."""
        token = request.query.get("access_token") or bearer_token(
            request.headers.get("Authorization"))
        try:
            self._authenticate(token)
        except TokenError as err:
            return self._unauthorized(err)
        try:
            version = int(request.query.get("negotiateVersion", "0"))
        except ValueError:
            version = 0
        connection_id = _random_id(self._rng)
        body: dict[str, Any] = {"negotiateVersion": min(max(version, 0), 1),
                                "connectionId": connection_id}
        if version >= 1:
            connection_token = _random_id(self._rng)
            body["connectionToken"] = connection_token
            self._negotiated[connection_token] = time.monotonic()
        else:
            self._negotiated[connection_id] = time.monotonic()
        body["availableTransports"] = [{"transport": "WebSockets",
                                        "transferFormats": ["Text", "Binary"]}]
        return _json(body)

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token") or bearer_token(
            request.headers.get("Authorization"))
        try:
            claims = self._authenticate(token)
        except TokenError as err:
            return self._unauthorized(err)  # refused before the upgrade
        ws = web.WebSocketResponse(max_msg_size=1 << 22)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="Connection ID required")
        connection_token = request.query.get("id")
        if connection_token is not None and self._negotiated.pop(connection_token, None) is None:
            return web.Response(status=404, text="No Connection with that ID")
        await ws.prepare(request)
        self.connections_opened += 1
        conn = _HubConn(ws, request.transport, claims)
        self._conns.add(conn)
        conn.tasks.append(asyncio.create_task(self._writer(conn)))
        conn.tasks.append(asyncio.create_task(self._watchdog(conn)))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    text = msg.data
                elif msg.type == WSMsgType.BINARY:
                    text = msg.data.decode("utf-8", "replace")
                else:
                    break
                conn.last_recv = time.monotonic()
                self._on_text(conn, text)
        finally:
            conn.alive = False
            conn.streams.clear()
            self._conns.discard(conn)
            for task in conn.tasks:
                if task is not asyncio.current_task():
                    task.cancel()
        return ws

    async def _writer(self, conn: _HubConn) -> None:
        try:
            while True:
                items = [await conn.queue.get()]
                if self.batch_records:
                    while items[-1] is not None and not conn.queue.empty():
                        items.append(conn.queue.get_nowait())
                records = [i for i in items if i is not None]
                if records and not self.silent_socket:
                    frames = ["".join(records)] if self.batch_records else records
                    for frame in frames:
                        if self.split_records and len(frame) > 1:
                            cut = len(frame) // 2
                            await conn.ws.send_str(frame[:cut])
                            await conn.ws.send_str(frame[cut:])
                        else:
                            await conn.ws.send_str(frame)
                    conn.last_sent = time.monotonic()
                if items[-1] is None:
                    await conn.ws.close(code=1000)
                    return
        except (OSError, RuntimeError):  # the peer went away mid-send; the reader notices
            conn.alive = False

    async def _watchdog(self, conn: _HubConn) -> None:
        """Handshake timeout (A-7), keep-alive pings and the client timeout (A-8), and the
        Close when the connection's token expires (U-8)."""
        while conn.alive and not conn.closing:
            now = time.monotonic()
            if not conn.handshaken:
                if now - conn.opened >= self.handshake_timeout:
                    conn.finish()
                    return
                deadline = conn.opened + self.handshake_timeout
            else:
                if now - conn.last_recv >= self.client_timeout:
                    conn.finish(hub.close(ERR_CLIENT_TIMEOUT))
                    return
                token_left = conn.expires_at - time.time()
                if self.close_on_token_expiry and token_left <= 0:
                    conn.finish(hub.close(ERR_TOKEN_EXPIRED, allow_reconnect=True))
                    return
                if now - conn.last_sent >= self.ping_interval:
                    conn.push(hub.PING_RECORD)
                    conn.last_sent = now
                deadline = min(conn.last_recv + self.client_timeout,
                               conn.last_sent + self.ping_interval)
                if self.close_on_token_expiry:
                    deadline = min(deadline, now + token_left)
            conn.wake.clear()
            try:
                await asyncio.wait_for(conn.wake.wait(), min(max(deadline - now, 0.005), 1.0))
            except TimeoutError:
                pass

    def _on_text(self, conn: _HubConn, text: str) -> None:
        if conn.closing:
            return
        try:
            records = conn.buffer.feed(text)
        except ValueError as err:
            self._protocol_error(conn, str(err))
            return
        for rec in records:
            if conn.closing:
                return
            if conn.handshaken:
                self._on_message(conn, rec)
            else:
                self._on_handshake(conn, rec)

    def _on_handshake(self, conn: _HubConn, rec: str) -> None:
        """A-7: `{"protocol":"json","version":1}` → `{}`; anything else → `{"error":…}` and
        the socket closes."""
        try:
            msg = orjson.loads(rec)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            conn.finish(hub.handshake_error(ERR_HANDSHAKE))
            return
        protocol, version = msg.get("protocol"), msg.get("version")
        if not isinstance(protocol, str):
            conn.finish(hub.handshake_error("Missing required property 'protocol'."))
            return
        if isinstance(version, bool) or not isinstance(version, int):
            conn.finish(hub.handshake_error("Missing required property 'version'."))
            return
        if protocol != "json":
            conn.finish(hub.handshake_error(f"Requested protocol '{protocol}' is not available."))
            return
        if not 0 <= version <= 1:
            conn.finish(hub.handshake_error(
                f"The server does not support version {version} of the 'json' protocol."))
            return
        conn.handshaken = True
        conn.push(hub.HANDSHAKE_OK)
        conn.wake.set()

    def _protocol_error(self, conn: _HubConn, detail: str) -> None:
        self.protocol_errors.append(detail)
        conn.finish(hub.close(f"{ERR_CONNECTION} InvalidDataException: {detail}"))

    def _on_message(self, conn: _HubConn, rec: str) -> None:
        try:
            msg = orjson.loads(rec)
        except orjson.JSONDecodeError:
            self._protocol_error(conn, "Error reading JSON.")
            return
        if not isinstance(msg, dict):
            self._protocol_error(conn, "Unexpected JSON Token Type. Expected a JSON Object.")
            return
        kind = msg.get("type")
        if isinstance(kind, bool) or not isinstance(kind, int):
            self._protocol_error(conn, "Missing required property 'type'.")
            return
        self.hub_messages.append(msg)
        if kind == hub.STREAM_INVOCATION:
            self._on_stream_invocation(conn, msg)
        elif kind == hub.CANCEL_INVOCATION:
            inv = msg.get("invocationId")
            if not isinstance(inv, str):
                self._protocol_error(conn, "Missing required property 'invocationId'.")
            elif conn.streams.pop(inv, None) is not None:
                conn.push(hub.completion(inv))
        elif kind == hub.INVOCATION:
            inv, target = msg.get("invocationId"), msg.get("target")
            if not isinstance(target, str):
                self._protocol_error(conn, "Missing required property 'target'.")
            elif isinstance(inv, str):  # no id = fire and forget: nothing to answer
                conn.push(hub.completion(inv, (
                    f"The client attempted to invoke the streaming '{target}' method with a "
                    "non-streaming invocation." if target == "OpenOrders"
                    else f"Unknown hub method '{target}'")))
        elif kind == hub.CLOSE:
            conn.finish()
        # Ping (6) only counts as traffic; Ack/Sequence (8, 9) and unknown types are ignored

    def _on_stream_invocation(self, conn: _HubConn, msg: dict[str, Any]) -> None:
        inv, target, args = msg.get("invocationId"), msg.get("target"), msg.get("arguments", [])
        if not isinstance(inv, str) or not inv:
            self._protocol_error(conn, "Missing required property 'invocationId'.")
            return
        if not isinstance(target, str):
            self._protocol_error(conn, "Missing required property 'target'.")
            return
        if not isinstance(args, list):
            self._protocol_error(conn, "Expected 'arguments' to be of type Array.")
            return
        if inv in conn.streams:
            self._protocol_error(conn, f"Invocation ID '{inv}' is already in use.")
            return
        if inv != str(conn.next_id):  # the docs ask for +1; only noted
            self.warnings.append(f"invocationId {inv!r} where {conn.next_id!r} was expected")
        if inv.isdigit():
            conn.next_id = int(inv) + 1
        if target.lower() != "openorders":  # hub method names match case-insensitively
            conn.push(hub.completion(inv, f"Unknown hub method '{target}'"))
            return
        if len(args) != 1 or not isinstance(args[0], str):
            conn.push(hub.completion(inv, (
                "Failed to invoke 'OpenOrders' due to an error on the server. "
                f"InvalidDataException: Invocation provides {len(args)} argument(s) but target "
                "expects 1." if len(args) != 1 else
                "Failed to invoke 'OpenOrders' due to an error on the server. "
                "InvalidDataException: Error binding arguments. Make sure that the types of the "
                "provided values match the types of the hub method being invoked.")))
            return
        account_id = args[0]
        if account_id not in self._accounts:
            conn.push(hub.completion(inv, (
                "An error occurred on the server while streaming results. "
                f"HubException: Account '{account_id}' is not available.")))
            return
        conn.streams[inv] = account_id
        self._emit(conn, inv, self.open_orders(account_id))  # the first item, maybe []

    def _emit(self, conn: _HubConn, inv: str, item: list[dict[str, Any]]) -> None:
        if self.drop_items > 0:
            self.drop_items -= 1
            return
        text = hub.stream_item(inv, item)
        conn.push(text)
        self.items_sent += 1
        if self.duplicate_items > 0:
            self.duplicate_items -= 1
            conn.push(text)
            self.items_sent += 1

    def _changed(self, account_id: str, orders: Iterable[SimOrder]) -> None:
        """Push a change of `account_id`'s orders to every stream of that account: the full
        open list (A-9 snapshot) or, in delta mode, one single-order item per changed order
        (terminal status = removal)."""
        changed = list(orders)
        snapshot: list[dict[str, Any]] | None = None
        for conn in list(self._conns):
            if not conn.alive or conn.closing:
                continue
            for inv, acc in list(conn.streams.items()):
                if acc != account_id:
                    continue
                if self.delta_mode:
                    for order in changed:
                        self._emit(conn, inv, [order.to_stream()])
                else:
                    if snapshot is None:
                        snapshot = self.open_orders(account_id)
                    self._emit(conn, inv, snapshot)

    # ------------------------------------------------------------------------------------------
    # faults on demand

    def close_streams(self, error: str = ERR_SERVER_CLOSING, allow_reconnect: bool = True) -> None:
        """Every hub connection gets a Close message (A-14) and its socket is closed."""
        for conn in list(self._conns):
            conn.finish(hub.close(error, allow_reconnect) if conn.handshaken else None)

    async def send_raw(self, text: str) -> None:
        """Send `text` as is (add the 0x1E yourself) to every handshaken hub connection."""
        for conn in self._conns:
            if conn.handshaken:
                conn.push(text)
        await asyncio.sleep(0)

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

        return [
            Fault("Drop the connection", "The hub's websocket is cut (close 1006)",
                  self._dropped),
            Fault("Expire the access token", "Every JWT expires now; the hub closes the stream",
                  expire),
            Fault("Split records on/off", "Each SignalR record arrives in two frames", split),
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

    async def _flow(self) -> None:
        while self.flow_rate > 0:
            await asyncio.sleep(self._rng.expovariate(self.flow_rate))
            self.flow_step()

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


def _random_id(rng: random.Random) -> str:
    """A 22-character base64url connection id, as SignalR makes them."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(22))


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type="application/json")


__all__ = ["WS_PATH", "B2traderSimulator"]
