"""The B2TRADER simulator over real loopback sockets, checked against `venues/b2trader.md`.

The client side is deliberately raw (httpx, the websockets library, SignalR records framed by
hand as JSON + 0x1E, the JWT checked with hmac here) so that these tests check the simulator,
not our venue client. A-numbers refer to the notes' §6 simulator decisions.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from blotter.sim.b2trader import WS_PATH, B2traderSimulator
from tests.helpers import until

pytestmark = pytest.mark.timeout(10)

API_TOKEN = "demo-api-token-0123456789"
RS = "\x1e"
T = 2.0  # seconds any single network wait may take
OPEN = {"Started", "Pending", "Working"}
STREAM_FIELDS = [
    "marketId", "marketType", "marketDisplayName", "marketFullName", "orderId", "timeInForce",
    "status", "source", "reason", "side", "orderType", "requestedAmount", "remainingAmount",
    "requestedPrice", "executionPrice", "createdAt", "updatedAt", "cancellationDate",
    "commissionAssetId", "commissionAmount", "leverage", "fillFactor", "takeProfit", "stopLoss",
]
REST_FIELDS = [
    "marketId", "marketDisplayName", "orderId", "orderType", "side", "status", "source",
    "timeInForce", "commission", "requestedAmount", "remainingAmount", "requestedPrice",
    "executionPrice", "createdAt", "updatedAt", "rejectDetails", "cancellationDate", "fillFactor",
]
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.(\d{3}|\d{7})Z$")
ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


# --- client-side helpers --------------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[B2traderSimulator]:
    async with started(initial_orders=12, seed=7) as s:
        yield s


class started:
    """`async with started(**options) as sim:` — a simulator with the test's API token."""

    def __init__(self, **options: Any) -> None:
        self.sim = B2traderSimulator(api_token=API_TOKEN, **options)

    async def __aenter__(self) -> B2traderSimulator:
        await asyncio.wait_for(self.sim.start(), T)
        return self.sim

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.wait_for(self.sim.stop(), 5.0)


def b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def hs256_ok(token: str, secret: bytes) -> bool:
    head, payload, sig = token.split(".")
    mac = hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == sig


async def exchange(s: B2traderSimulator, api_token: str = API_TOKEN) -> str:
    async with httpx.AsyncClient(base_url=s.rest_url, timeout=T) as client:
        r = await client.post("/frontoffice/api/v4/access-token", json={"token": api_token})
    assert r.status_code == 200, r.text
    token: str = r.json()["accessToken"]
    return token


async def delete(s: B2traderSimulator, order_id: str, jwt: str | None,
                 account_id: str | None) -> httpx.Response:
    headers = {"Accept": "*/*"}
    if jwt is not None:
        headers["Authorization"] = f"Bearer {jwt}"
    if account_id is not None:
        headers["accountId"] = account_id
    async with httpx.AsyncClient(base_url=s.rest_url, timeout=T) as client:
        return await client.delete(f"/frontoffice/api/v3/orders/{order_id}", headers=headers)


class Hub:
    """A SignalR JSON-protocol client framed by hand: records are split on 0x1E across
    frames, and every raw frame is kept for the framing tests."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self.pending = ""
        self.records: list[str] = []

    async def send(self, *messages: dict[str, Any]) -> None:
        await self.ws.send("".join(json.dumps(m) + RS for m in messages))

    async def recv_raw(self, timeout: float = T) -> str:
        while not self.records:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            assert isinstance(frame, str)
            self.frames.append(frame)
            self.pending += frame
            *done, self.pending = self.pending.split(RS)
            self.records += done
        return self.records.pop(0)

    async def recv(self, timeout: float = T, *, skip_pings: bool = True) -> dict[str, Any]:
        while True:
            msg: dict[str, Any] = json.loads(await self.recv_raw(timeout))
            if not (skip_pings and msg.get("type") == 6):
                return msg

    async def subscribe(self, account_id: str, invocation_id: str = "0") -> list[dict[str, Any]]:
        await self.send({"arguments": [account_id], "invocationId": invocation_id,
                         "target": "OpenOrders", "type": 4})
        msg = await self.recv()
        assert msg["type"] == 2 and msg["invocationId"] == invocation_id, msg
        items: list[dict[str, Any]] = msg["item"]
        return items

    async def closed(self) -> bool:
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), T)
        except ConnectionClosed:
            return True


async def open_hub(s: B2traderSimulator, jwt: str) -> Hub:
    ws = await connect(f"{s.ws_url}?access_token={jwt}", open_timeout=T, close_timeout=0.5)
    hub = Hub(ws)
    await ws.send('{"protocol":"json","version":1}' + RS)
    assert await hub.recv_raw() == "{}"
    return hub


def assert_stream_order(o: dict[str, Any]) -> None:
    assert list(o) == STREAM_FIELDS
    assert o["status"] in OPEN
    for key in ("requestedAmount", "remainingAmount", "executionPrice", "commissionAmount",
                "fillFactor"):
        assert isinstance(o[key], str) and DECIMAL.match(o[key]), (key, o[key])
    assert o["requestedPrice"] is None or DECIMAL.match(o["requestedPrice"])
    assert STAMP.match(o["createdAt"]) and STAMP.match(o["updatedAt"])
    assert ULID.match(o["orderId"])
    assert isinstance(o["leverage"], int)
    assert o["marketType"] in ("Spot", "Cfd", "Perp")
    assert o["marketId"].split(".")[0] == o["marketType"].lower()
    assert Decimal(o["remainingAmount"]) > 0


# --- tokens and accounts --------------------------------------------------------------------


async def test_describe_has_urls_and_api_token(sim: B2traderSimulator) -> None:
    d = sim.describe()
    assert d["venue"] == "b2trader" and d["credentials"] == {"api_token": API_TOKEN}
    assert re.match(r"^http://127\.0\.0\.1:\d+$", d["rest_url"])
    assert d["ws_url"] == d["rest_url"].replace("http", "ws") + WS_PATH
    assert WS_PATH == "/frontoffice/ws/v4/account"


async def test_token_exchange_issues_hs256_jwt_with_exp() -> None:
    async with started(token_lifetime=300) as s, httpx.AsyncClient(
            base_url=s.rest_url, timeout=T) as client:
        url = "/frontoffice/api/v4/access-token"
        # the media-type parameter is accepted
        r = await client.post(url, content=json.dumps({"token": API_TOKEN}),
                              headers={"Content-Type": "application/json; x-api-version=4.0"})
        assert r.status_code == 200 and list(r.json()) == ["accessToken"]
        jwt = r.json()["accessToken"]
        head, claims = b64url_json(jwt.split(".")[0]), b64url_json(jwt.split(".")[1])
        assert head == {"alg": "HS256", "typ": "JWT"}
        assert hs256_ok(jwt, s.jwt_secret) and not hs256_ok(jwt, b"other")
        assert claims["exp"] - claims["iat"] == 300 and abs(claims["iat"] - time.time()) < 2
        assert s.tokens_issued == 1
        bad = await client.post(url, json={"token": "nope"})
        assert (bad.status_code, bad.content) == (401, b"")
        missing = await client.post(url, json={})
        assert missing.status_code == 400
        assert missing.json()["errors"] == {"Token": ["The Token field is required."]}
        s.refuse_token = True
        assert (await client.post(url, json={"token": API_TOKEN})).status_code == 401
        assert s.tokens_issued == 1


async def test_accounts_and_bearer_checks(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        r = await client.get("/frontoffice/api/v3/accounts",
                             headers={"Authorization": f"Bearer {jwt}", "Accept": "*/*"})
        assert r.status_code == 200
        accounts = r.json()
        assert [a["accountName"] for a in accounts] == ["Acme Main", "Acme Margin"]
        for a in accounts:
            assert list(a) == ["accountId", "accountName", "accountType", "totalBalanceInRAT",
                               "isCopyTradingAccount"]
            assert re.match(r"^[0-9a-f]{24}$", a["accountId"])
            assert a["accountType"] in ("Hedging", "Netting")
            assert DECIMAL.match(a["totalBalanceInRAT"]) and a["isCopyTradingAccount"] is False
        # no token, a tampered token → 401, empty body, WWW-Authenticate
        none = await client.get("/frontoffice/api/v3/accounts")
        assert (none.status_code, none.content) == (401, b"")
        assert none.headers["WWW-Authenticate"] == "Bearer"
        head, payload, sig = jwt.split(".")
        forged = f"{head}.{payload[:-2]}AA.{sig}"
        bad = await client.get("/frontoffice/api/v3/accounts",
                               headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401 and bad.content == b""
        assert bad.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


async def test_configured_accounts() -> None:
    async with started(accounts=["Solo", {"accountId": "a" * 24, "accountType": "Netting",
                                          "publicAccountId": 1234567}]) as s:
        assert [a["accountName"] for a in s.accounts] == ["Solo", "Account 2"]
        assert s.accounts[1]["accountId"] == "a" * 24
        assert s.accounts[1]["publicAccountId"] == 1234567


async def test_jwt_expires_and_is_refused() -> None:
    async with started(token_lifetime=0.3) as s:
        jwt = await exchange(s)
        claims = b64url_json(jwt.split(".")[1])
        assert 0 < claims["exp"] - time.time() <= 0.35
        await asyncio.sleep(0.4)
        async with httpx.AsyncClient(base_url=s.rest_url, timeout=T) as client:
            r = await client.get("/frontoffice/api/v3/accounts",
                                 headers={"Authorization": f"Bearer {jwt}"})
        assert r.status_code == 401 and "expired" in r.headers["WWW-Authenticate"]
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{s.ws_url}?access_token={jwt}", open_timeout=T)
        assert refused.value.response.status_code == 401


# --- hub: connect, handshake, OpenOrders ------------------------------------------------------


async def test_upgrade_needs_a_valid_token(sim: B2traderSimulator) -> None:
    for url in (sim.ws_url, f"{sim.ws_url}?access_token=not.a.jwt"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, open_timeout=T)
        assert refused.value.response.status_code == 401
    # the .NET client's way: the bearer header instead of the query
    jwt = await exchange(sim)
    async with connect(sim.ws_url, additional_headers={"Authorization": f"Bearer {jwt}"},
                       open_timeout=T) as ws:
        await ws.send('{"protocol":"json","version":1}' + RS)
        assert await asyncio.wait_for(ws.recv(), T) == "{}" + RS


async def test_handshake_then_first_item_is_the_full_list(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    hub = await open_hub(sim, jwt)
    assert hub.frames == ["{}" + RS]  # no type, separator included
    main, margin = sim.account_ids
    items = await hub.subscribe(main)
    assert items == sim.open_orders(main) and items
    assert {o["orderId"] for o in items}.isdisjoint(o["orderId"] for o in sim.open_orders(margin))
    for o in items:
        assert_stream_order(o)
    assert any(o["status"] == "Working" for o in sim.open_orders())
    # P-7: both 3- and 7-digit fractions occur
    digits = {len(o["createdAt"].split(".")[1]) - 1 for o in sim.open_orders()}
    assert digits == {3, 7}
    # an account with no open orders: the first item is []
    for o in sim.open_orders(margin):
        sim.cancel_external(o["orderId"])
    assert await hub.subscribe(margin, "1") == []
    await hub.ws.close()


async def test_handshake_errors_and_timeout() -> None:
    async with started(handshake_timeout=0.3) as s:
        jwt = await exchange(s)
        async with connect(f"{s.ws_url}?access_token={jwt}", open_timeout=T) as ws:
            await ws.send('{"protocol":"messagepack","version":1}' + RS)
            reply = await asyncio.wait_for(ws.recv(), T)
            assert reply == '{"error":"Requested protocol \'messagepack\' is not available."}' + RS
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), T)
        # P-15: a handshake without the separator is never answered; closed at the timeout
        async with connect(f"{s.ws_url}?access_token={jwt}", open_timeout=T) as ws:
            await ws.send('{"protocol":"json","version":1}')
            started_at = time.monotonic()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), T)
            assert 0.2 < time.monotonic() - started_at < 1.0


async def test_negotiate_then_connect_with_the_connection_token(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        r = await client.post(f"{WS_PATH}/negotiate?negotiateVersion=1&access_token={jwt}")
        assert r.status_code == 200
        body = r.json()
        assert body["negotiateVersion"] == 1 and body["connectionId"]
        assert body["availableTransports"] == [{"transport": "WebSockets",
                                                "transferFormats": ["Text", "Binary"]}]
        assert (await client.post(f"{WS_PATH}/negotiate?negotiateVersion=1")).status_code == 401
    url = f"{sim.ws_url}?id={body['connectionToken']}&access_token={jwt}"
    async with connect(url, open_timeout=T) as ws:
        await ws.send('{"protocol":"json","version":1}' + RS)
        assert await asyncio.wait_for(ws.recv(), T) == "{}" + RS
    with pytest.raises(InvalidStatus) as used:  # a connection token is good once
        await connect(url, open_timeout=T)
    assert used.value.response.status_code == 404


async def test_server_pings_and_drops_a_silent_client() -> None:
    async with started(ping_interval=0.1, client_timeout=0.4) as s:
        hub = await open_hub(s, await exchange(s))
        # talking keeps the connection; the server pings when it has sent nothing for 0.1 s
        pings = 0
        for _ in range(5):
            msg = await hub.recv(skip_pings=False)
            assert msg == {"type": 6}
            pings += 1
            await hub.send({"type": 6})
        assert pings == 5
        # silence: the server closes after client_timeout
        closing = await hub.recv(T, skip_pings=True)
        assert closing["type"] == 7 and "timeout" in closing["error"]
        assert await hub.closed()


async def test_cancel_then_stream_shows_the_order_gone(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    hub = await open_hub(sim, jwt)
    main = sim.account_ids[0]
    items = await hub.subscribe(main)
    target = items[0]
    r = await delete(sim, target["orderId"], jwt, main)
    assert r.status_code == 200
    order = r.json()["order"]
    assert list(r.json()) == ["order"] and list(order) == REST_FIELDS
    assert order["status"] == "Cancelled" and order["orderId"] == target["orderId"]
    assert order["remainingAmount"] == target["remainingAmount"]
    assert order["updatedAt"] > target["updatedAt"]
    nxt = await hub.recv()
    assert nxt["type"] == 2 and nxt["invocationId"] == "0"
    assert [o["orderId"] for o in nxt["item"]] == [o["orderId"] for o in items[1:]]
    assert sim.cancel_requests == [{"orderId": target["orderId"], "accountId": main,
                                    "status": 200}]
    # the client's transcript ending (§3.9): CancelInvocation → Completion, then Close
    await hub.send({"type": 5, "invocationId": "0"})
    assert await hub.recv() == {"type": 3, "invocationId": "0"}
    sent = sim.items_sent
    sim.add_order(main)
    assert sim.items_sent == sent  # no longer streamed
    await hub.send({"type": 7})
    assert await hub.closed()
    assert hub.ws.close_code == 1000


async def test_cancel_error_answers(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    main, margin = sim.account_ids
    mine = sim.open_orders(main)[0]["orderId"]
    unknown = await delete(sim, "01JVQBFSTVC40VK03A0AY7K016", jwt, main)
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"].startswith("application/problem+json")
    body = unknown.json()
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert "01JVQBFSTVC40VK03A0AY7K016" in body["detail"] and body["traceId"].startswith("00-")
    missing = await delete(sim, mine, jwt, None)
    assert missing.status_code == 400
    assert missing.json()["errors"] == {"accountId": ["The accountId field is required."]}
    foreign = await delete(sim, mine, jwt, "f" * 24)
    assert (foreign.status_code, foreign.content) == (403, b"")
    other = await delete(sim, mine, jwt, margin)
    assert other.status_code == 404  # the order is not in that account
    no_auth = await delete(sim, mine, None, main)
    assert (no_auth.status_code, no_auth.content) == (401, b"")
    assert (await delete(sim, mine, jwt, main)).status_code == 200
    again = await delete(sim, mine, jwt, main)
    assert again.status_code == 400 and "Cancelled" in again.json()["detail"]
    assert [c["status"] for c in sim.cancel_requests] == [404, 400, 403, 404, 401, 200, 400]


async def test_fill_on_cancel_answers_completed(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    main = sim.account_ids[0]
    oid = sim.add_order(main, "cfd.eur_chf", "Sell", "10000", "0.95")
    sim.fill_on_cancel = True
    r = await delete(sim, oid, jwt, main)
    order = r.json()["order"]
    assert r.status_code == 200 and order["status"] == "Completed"
    assert (order["remainingAmount"], order["executionPrice"], order["fillFactor"]) == (
        "0", "0.95", "1")
    assert order["commission"] == "9.5"
    assert not sim.fill_on_cancel and sim.order(oid) is not None
    assert oid not in {o["orderId"] for o in sim.open_orders(main)}


async def test_forced_statuses_and_bodies(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    main = sim.account_ids[0]
    oid = sim.open_orders(main)[0]["orderId"]
    sim.force_status(503)
    sim.force_status(500, "empty")
    sim.force_status(429, "plain")
    r503 = await delete(sim, oid, jwt, main)
    assert r503.status_code == 503 and r503.json()["status"] == 503
    r500 = await delete(sim, oid, jwt, main)
    assert (r500.status_code, r500.content) == (500, b"")
    r429 = await delete(sim, oid, jwt, main)
    assert (r429.status_code, r429.text, r429.headers["Retry-After"]) == (
        429, "Too Many Requests", "1")
    sim.reply_delay = 0.2
    began = time.monotonic()
    assert (await delete(sim, oid, jwt, main)).status_code == 200
    assert time.monotonic() - began >= 0.2
    with pytest.raises(ValueError):
        sim.force_status(503, "xml")


async def test_rate_limit_answers_429_with_retry_after() -> None:
    async with started(initial_orders=5, rate_limit=3) as s:
        jwt = await exchange(s)
        main = s.account_ids[0]
        codes = [(await delete(s, "01JVQBFSTVC40VK03A0AY7K016", jwt, main)) for _ in range(4)]
        assert [r.status_code for r in codes] == [404, 404, 404, 429]
        assert codes[3].headers["Retry-After"] == "1"
        assert codes[3].json()["status"] == 429 and s.rate_limited == 1


async def test_expire_tokens_closes_the_stream_with_allow_reconnect(
        sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    hub = await open_hub(sim, jwt)
    await hub.subscribe(sim.account_ids[0])
    sim.expire_tokens()
    close = await hub.recv()
    assert close["type"] == 7 and close["allowReconnect"] is True and close["error"]
    assert await hub.closed()
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        old = await client.get("/frontoffice/api/v3/accounts",
                               headers={"Authorization": f"Bearer {jwt}"})
        assert old.status_code == 401
        fresh = await exchange(sim)
        new = await client.get("/frontoffice/api/v3/accounts",
                               headers={"Authorization": f"Bearer {fresh}"})
        assert new.status_code == 200


async def test_token_expiry_mid_stream_closes() -> None:
    async with started(initial_orders=3, token_lifetime=0.4) as s:
        hub = await open_hub(s, await exchange(s))
        await hub.subscribe(s.account_ids[0])
        close = await hub.recv()
        assert close == {"type": 7, "error": close["error"], "allowReconnect": True}
        assert "expired" in close["error"]
        assert await hub.closed()


async def test_split_records_arrive_in_two_frames(sim: B2traderSimulator) -> None:
    sim.split_records = True
    hub = await open_hub(sim, await exchange(sim))
    assert hub.frames == ["{", "}" + RS]
    items = await hub.subscribe(sim.account_ids[0])
    assert items == sim.open_orders(sim.account_ids[0])
    assert len(hub.frames) == 4 and not hub.frames[2].endswith(RS)


async def test_batched_records_share_a_frame(sim: B2traderSimulator) -> None:
    sim.batch_records = True
    hub = await open_hub(sim, await exchange(sim))
    main, margin = sim.account_ids
    await hub.send(*({"arguments": [a], "invocationId": str(n), "target": "OpenOrders",
                      "type": 4} for n, a in enumerate((main, margin))))
    first, second = await hub.recv(), await hub.recv()
    assert (first["invocationId"], second["invocationId"]) == ("0", "1")
    assert first["item"] == sim.open_orders(main) and second["item"] == sim.open_orders(margin)
    assert len(hub.frames) == 2 and hub.frames[1].count(RS) == 2


async def test_bad_invocations(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    main = sim.account_ids[0]
    await hub.send({"type": 4, "invocationId": "0", "target": "OpenOrders",
                    "arguments": ["0" * 24]})
    unknown = await hub.recv()
    assert unknown["type"] == 3 and unknown["invocationId"] == "0" and "0" * 24 in unknown["error"]
    await hub.send({"type": 4, "invocationId": "1", "target": "OpenOrders", "arguments": []})
    no_args = await hub.recv()
    assert no_args["type"] == 3 and "argument" in no_args["error"]
    await hub.send({"type": 4, "invocationId": "2", "target": "Nope", "arguments": [main]})
    assert (await hub.recv())["error"] == "Unknown hub method 'Nope'"
    # ids need not increase by one (A-12: a warning only) ...
    await hub.subscribe(main, "7")
    assert sim.warnings
    # ... but one in use again is a protocol error: Close with error, then the socket closes
    await hub.send({"type": 4, "invocationId": "7", "target": "OpenOrders", "arguments": [main]})
    close = await hub.recv()
    assert close["type"] == 7 and "already in use" in close["error"]
    assert "allowReconnect" not in close
    assert await hub.closed()


async def test_stream_faults_drop_duplicate_raw_and_close(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    main = sim.account_ids[0]
    sim.drop_items = 1
    await hub.send({"type": 4, "invocationId": "0", "target": "openOrders", "arguments": [main]})
    await until(lambda: any(m["type"] == 4 for m in sim.hub_messages))
    oid = sim.add_order(main)  # the first item was dropped; this change's item arrives
    first = await hub.recv()
    assert first["item"] == sim.open_orders(main) and oid in {o["orderId"] for o in first["item"]}
    sim.duplicate_items = 1
    sim.cancel_external(oid, "Admin")
    assert await hub.recv() == await hub.recv()
    assert sim.order(oid)["reason"] == "Admin"  # type: ignore[index]
    await sim.send_raw('{"type":6,"headers":{"x":"y"}}' + RS)
    assert await hub.recv(skip_pings=False) == {"type": 6, "headers": {"x": "y"}}
    sim.close_streams()
    assert await hub.recv() == {"type": 7, "error": "The server is closing the connection.",
                                "allowReconnect": True}
    assert await hub.closed()
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        debug = (await client.get("/_sim/orders", params={"accountId": main})).json()
    assert debug == sim.open_orders(main)


async def test_delta_mode_sends_changes_only() -> None:
    async with started(initial_orders=6, seed=3, delta_mode=True) as s:
        jwt = await exchange(s)
        hub = await open_hub(s, jwt)
        main = s.account_ids[0]
        first = await hub.subscribe(main)
        assert first == s.open_orders(main)  # the first item is still the full list
        oid = s.add_order(main, "spot.eth_usdt", "Sell", "1.5", "3500.10")
        added = await hub.recv()
        assert [o["orderId"] for o in added["item"]] == [oid]
        assert added["item"][0]["requestedPrice"] == "3500.1"
        assert (await delete(s, oid, jwt, main)).status_code == 200
        gone = await hub.recv()
        assert [(o["orderId"], o["status"]) for o in gone["item"]] == [(oid, "Cancelled")]


async def test_side_door_fills_and_expiry(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    margin = sim.account_ids[1]
    await hub.subscribe(margin)
    oid = sim.add_order(margin, "spot.btc_usdt", "Buy", "0.5", "90000",
                        time_in_force="Gtd",
                        cancellation_date=datetime(2026, 12, 6, 1, 20, tzinfo=UTC))
    mine = next(o for o in (await hub.recv())["item"] if o["orderId"] == oid)
    assert (mine["status"], mine["executionPrice"], mine["cancellationDate"]) == (
        "Pending", "0", "2026-12-06T01:20:00.0000000Z")
    sim.fill(oid, "0.2", "89990")
    part = next(o for o in (await hub.recv())["item"] if o["orderId"] == oid)
    assert (part["status"], part["remainingAmount"], part["executionPrice"],
            part["fillFactor"]) == ("Working", "0.3", "89990", "0.4")
    sim.expire(oid)
    assert oid not in {o["orderId"] for o in (await hub.recv())["item"]}
    done = sim.order(oid)
    assert done is not None and done["status"] == "Expired"
    with pytest.raises(KeyError):
        sim.fill(oid)
    market = sim.add_order(margin, "cfd.xau_usd", "Sell", "2", order_type="Market")
    assert sim.order(market)["requestedPrice"] is None  # type: ignore[index]
    assert sim.order(market)["status"] == "Started"  # type: ignore[index]


async def test_flow_streams_changes() -> None:
    async with started(initial_orders=8, seed=5, flow_rate=60) as s:
        hub = await open_hub(s, await exchange(s))
        main, margin = s.account_ids
        await hub.subscribe(main, "0")
        await hub.subscribe(margin, "1")
        seen = [await hub.recv() for _ in range(6)]
        for msg in seen:
            assert msg["type"] == 2 and msg["invocationId"] in ("0", "1")
            for o in msg["item"]:
                assert_stream_order(o)
        s.stop_flow()
        await until(lambda: not s.flow_running)


def test_flow_keeps_a_consistent_book() -> None:
    s = B2traderSimulator(initial_orders=30, seed=9)
    for _ in range(2000):
        s.flow_step()
    book = s.open_orders()
    assert 10 < len(book) < 80
    statuses = set()
    for o in book:
        assert_stream_order(o)
        statuses.add(o["status"])
        filled = Decimal(o["requestedAmount"]) - Decimal(o["remainingAmount"])
        assert (filled > 0) == (o["executionPrice"] != "0")
    assert {"Pending", "Working"} <= statuses
    ids = [o["orderId"] for o in book]
    assert len(set(ids)) == len(ids)


async def test_drop_connections_cuts_the_socket(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    await hub.subscribe(sim.account_ids[0])
    await sim.drop_connections()
    assert await hub.closed()
    assert hub.ws.close_code == 1006
    # and the venue takes new connections
    hub2 = await open_hub(sim, await exchange(sim))
    await hub2.subscribe(sim.account_ids[0])
    await hub2.ws.close()
