"""The REST side of the simulated B2TRADER broker: the token exchange (A-1, A-5), the accounts
list and the single-order cancel (A-2, A-4), with the venue's error bodies (RFC 7807 Problem
Details as ASP.NET Core writes them), the rate limit and the forced answers of the fault menu.

``RestSide`` is mixed into ``B2traderSimulator``, which holds the state it reads.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import OrderedDict, deque
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from blotter.sim._loopback import LoopbackVenue

from .auth import TokenError, bearer_token
from .orders import SimOrder

TOKEN_PATH = "/frontoffice/api/v4/access-token"
ACCOUNTS_PATH = "/frontoffice/api/v3/accounts"
ORDER_PATH = "/frontoffice/api/v3/orders/{order_id}"
BODY_KINDS = ("problem", "empty", "plain")

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


def unauthorized(err: TokenError) -> web.Response:
    """A 401 as stock JwtBearer answers it: empty body; error details only when a token was
    sent (A-2)."""
    text = str(err)
    challenge = (f'Bearer error="invalid_token", error_description="{text}"' if text
                 else "Bearer")
    return web.Response(status=401, headers={"WWW-Authenticate": challenge})


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type="application/json")



class RestSide(LoopbackVenue):
    """``POST …/access-token``, ``GET …/accounts``, ``DELETE …/orders/{orderId}`` and the test
    side door ``GET /_sim/orders`` (A-3)."""

    # the broker's state, kept by B2traderSimulator
    _rng: random.Random
    _api_tokens: set[str]
    _accounts: dict[str, dict[str, Any]]
    _orders: dict[str, SimOrder]
    _closed: OrderedDict[str, SimOrder]
    _forced: deque[tuple[int, str]]
    _forced_rest: dict[str, deque[tuple[int, str]]]
    _hits: deque[float]
    _in_flight: int
    refuse_token: bool
    reply_delay: float
    fill_on_cancel: bool
    finished_status: int
    retry_after: int
    rate_limit: float
    rate_limited: int
    max_in_flight: int
    cancel_requests: list[dict[str, Any]]
    fill_after_refusal: bool
    cut_requests: int

    if TYPE_CHECKING:
        @property
        def accounts(self) -> list[dict[str, Any]]: ...
        def issue_token(self, lifetime: float | None = None) -> str: ...
        def _authenticate(self, token: str | None) -> dict[str, Any]: ...
        def _finish(self, order: SimOrder, status: str, reason: str | None = None) -> None: ...
        def fill(self, order_id: str, amount: str | float | Decimal | None = None,
                 price: str | float | Decimal | None = None) -> None: ...
        def open_orders(self, account_id: str | None = None) -> list[dict[str, Any]]: ...

    # ------------------------------------------------------------------------------------------
    # POST /frontoffice/api/v4/access-token

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
        forced = self._forced_for("token")
        if forced is not None:
            return forced
        if self.refuse_token or token not in self._api_tokens:
            return web.Response(status=401)  # empty body
        return json_response({"accessToken": self.issue_token()})

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
            return unauthorized(err)
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

    def force_status(self, code: int, body_kind: str = "problem", count: int = 1,
                     endpoint: str = "cancel") -> None:
        """The next `count` calls of `endpoint` (`cancel`: the DELETEs, `accounts`, `token`)
        answer `code` (e.g. 429, 500, 503) with a Problem Details body (`problem`), an empty
        body (`empty`) or plain text (`plain`), before any other check, as a gateway in front
        of the API would; a 429 carries `Retry-After`."""
        if body_kind not in BODY_KINDS:
            raise ValueError(f"body_kind must be one of {BODY_KINDS}")
        if endpoint not in ("cancel", "accounts", "token"):
            raise ValueError("endpoint must be cancel, accounts or token")
        HTTPStatus(code)  # an unknown code raises ValueError here, not in a handler
        queue = self._forced if endpoint == "cancel" else self._forced_rest.setdefault(
            endpoint, deque())
        queue.extend([(code, body_kind)] * count)

    def _forced_for(self, endpoint: str) -> web.Response | None:
        queue = self._forced_rest.get(endpoint)
        if not queue:
            return None
        code, kind = queue.popleft()
        return self._forced_response(code, kind)

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
        forced = self._forced_for("accounts")
        if forced is not None:
            await self._delay()
            return forced
        refused = await self._private(request)
        if refused is not None:
            return refused
        return json_response(self.accounts)

    # ------------------------------------------------------------------------------------------
    # DELETE /frontoffice/api/v3/orders/{orderId}

    async def _rest_cancel(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        account_id = request.headers.get("accountId")  # header names are case-insensitive
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.cut_requests > 0:  # the connection breaks before the request is read
                self.cut_requests -= 1
                self.cancel_requests.append({"orderId": order_id, "accountId": account_id,
                                             "status": 0})
                self._refused(order_id)
                if request.transport is not None:
                    request.transport.abort()
                raise web.HTTPServiceUnavailable()  # never sent: the socket is gone
            response = await self._cancel(request, order_id, account_id)
        finally:
            self._in_flight -= 1
        self.cancel_requests.append({"orderId": order_id, "accountId": account_id,
                                     "status": response.status})
        if response.status != 200:
            self._refused(order_id)
        return response

    def _refused(self, order_id: str) -> None:
        """A DELETE was not carried out: with ``fill_after_refusal`` the order fills now, as
        if the market got there while the client waits to send it again."""
        if self.fill_after_refusal and order_id in self._orders:
            self.fill_after_refusal = False
            self.fill(order_id)

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
        return json_response({"order": order.to_rest()})

    async def _debug_orders(self, request: web.Request) -> web.Response:
        """A-3: the open orders, for tests only; not part of the venue's API."""
        return json_response(self.open_orders(request.query.get("accountId")))
