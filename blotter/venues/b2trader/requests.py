"""B2TRADER requests, pure: the REST calls (token exchange, accounts, cancel) as ``HttpRequest``s
to send as they are, the account hub's URL and its ``OpenOrders`` subscription.

Nothing here sends anything or reads a clock. B2TRADER signs nothing: an API token is exchanged
for a JWT (§1.2), which goes in a ``Bearer`` header on REST and in the hub URL's query (§3.2).
Both are secrets: no ``repr`` here shows them, and ``hide_tokens`` takes them out of a text.
Protocol notes: ``/work/shared/venues/b2trader.md`` (§1.2, §1.3, §2.1, §2.4, §3.2, §3.6).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from blotter.venues.b2trader import signalr

PATH_ACCESS_TOKEN: Final = "/frontoffice/api/v4/access-token"
PATH_ACCOUNTS: Final = "/frontoffice/api/v3/accounts"
PATH_ORDER: Final = "/frontoffice/api/v3/orders/{orderId}"
STREAM_OPEN_ORDERS: Final = "OpenOrders"

# No batch or cancel-all endpoint exists (§2.5): single DELETEs, this many at a time.
CANCEL_CONCURRENCY: Final = 4

# §2.1: v4 bodies carry the version as a media-type parameter (whether it is required is U-6;
# the notes recommend sending it, and a server without media-type versioning accepts it too).
CONTENT_TYPE_V4: Final = "application/json; x-api-version=4.0"
CONTENT_TYPE_PLAIN: Final = "application/json"

_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_TOKEN_QUERY: Final = re.compile(r"(access_token=)[^&\s'\"]+")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A REST call to send as is. ``path`` is relative to the broker's origin."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def __repr__(self) -> str:  # never show the API token (body) or the JWT (headers)
        return f"HttpRequest({self.method} {self.path!r}, {len(self.body)} body bytes)"


def order_path(order_id: str) -> str:
    """``/frontoffice/api/v3/orders/{orderId}`` with the id percent-encoded as one segment."""
    if not order_id:
        raise ValueError("order id is required")
    return PATH_ORDER.replace("{orderId}", quote(order_id, safe=""))


def access_token_request(api_token: str, *, versioned_media_type: bool = True) -> HttpRequest:
    """``POST /frontoffice/api/v4/access-token`` with ``{"token": …}`` (§1.2, [3RD]).

    ``versioned_media_type=False`` sends the plain ``application/json`` of the third-party
    example instead of the §2.1 recommendation.
    """
    if not api_token:
        raise ValueError("API token is empty")
    body = json.dumps({"token": api_token}, separators=(",", ":")).encode()
    return HttpRequest(
        "POST",
        PATH_ACCESS_TOKEN,
        {
            "Content-Type": CONTENT_TYPE_V4 if versioned_media_type else CONTENT_TYPE_PLAIN,
            "Accept": "application/json",
        },
        body,
    )


def auth_headers(jwt: str, account_id: str | None = None) -> dict[str, str]:
    """``Authorization: Bearer <JWT>``, ``Accept: */*``, and ``accountId`` on account-scoped
    calls (sent in exactly this camelCase, P-17)."""
    headers = {"Authorization": f"Bearer {jwt}", "Accept": "*/*"}
    if account_id is not None:
        headers["accountId"] = account_id
    return headers


def accounts_request(jwt: str) -> HttpRequest:
    """``GET /frontoffice/api/v3/accounts``: no ``accountId`` header (§1.3)."""
    return HttpRequest("GET", PATH_ACCOUNTS, auth_headers(jwt))


def cancel_request(order_id: str, account_id: str, jwt: str) -> HttpRequest:
    """``DELETE /frontoffice/api/v3/orders/{orderId}`` with Bearer and ``accountId``; no body and
    so no Content-Type (§2.1, §2.4). One path for SPOT, CFD and Perpetual."""
    if not account_id:
        raise ValueError("accountId is required on a cancel (else 400)")
    return HttpRequest("DELETE", order_path(order_id), auth_headers(jwt, account_id))


def hub_url(ws_url: str, jwt: str) -> str:
    """The configured hub URL with ``access_token=<JWT>`` in its query (§3.2). The result holds
    the token: never log it (P-14)."""
    parts = urlsplit(ws_url)
    query = [p for p in parts.query.split("&") if p and not p.startswith("access_token=")]
    query.append(urlencode({"access_token": jwt}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(query), parts.fragment))


def open_orders_arguments(account_id: str) -> list[str]:
    """The StreamInvocation arguments of ``OpenOrders``: the accountId as a string (§3.6)."""
    if not account_id:
        raise ValueError("accountId is required")
    return [account_id]


def open_orders_subscription(invocation_id: str, account_id: str) -> str:
    """The record that subscribes one trading account's ``OpenOrders`` stream (§3.6)."""
    return signalr.stream_invocation(
        invocation_id, STREAM_OPEN_ORDERS, open_orders_arguments(account_id)
    )


def hide_tokens(text: str) -> str:
    """``text`` with every JWT and every ``access_token=`` query value replaced by ``***``
    (a hub URL in an error text carries the token, P-14)."""
    return _JWT.sub("***", _TOKEN_QUERY.sub(r"\1***", text))
