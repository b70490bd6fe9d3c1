"""The simulated broker's REST side against the notes: the token exchange and its JWT, the
accounts, Bearer checks, the single-order cancel and every error answer (A-1 .. A-5).

A-numbers refer to the notes' §6 simulator decisions.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from blotter.sim.b2trader import B2traderSimulator
from tests.sim.b2trader.wire import (
    API_TOKEN,
    DECIMAL,
    REST_FIELDS,
    T,
    b64url_json,
    delete,
    exchange,
    hs256_ok,
    open_hub,
    started,
)

pytestmark = pytest.mark.timeout(10)


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


async def test_refusals_can_let_the_order_fill_and_reach_every_endpoint(
    sim: B2traderSimulator,
) -> None:
    jwt = await exchange(sim)
    main = sim.account_ids[0]
    oid = sim.open_orders(main)[0]["orderId"]
    sim.fill_after_refusal = True
    sim.force_status(429)
    assert (await delete(sim, oid, jwt, main)).status_code == 429
    assert sim.order(oid)["status"] == "Completed"  # type: ignore[index]
    again = await delete(sim, oid, jwt, main)  # the repeat says why it cannot
    assert again.status_code == 400
    assert again.json()["detail"] == f"Order '{oid}' cannot be cancelled in status Completed."
    # a cut connection: no answer at all
    other = sim.open_orders(main)[0]["orderId"]
    sim.cut_requests = 1
    with pytest.raises(httpx.TransportError):
        await delete(sim, other, jwt, main)
    assert sim.cancel_requests[-1] == {"orderId": other, "accountId": main, "status": 0}
    assert sim.order(other)["status"] != "Cancelled"  # type: ignore[index]
    # the accounts and the token calls can be made to fail too
    sim.force_status(500, "empty", endpoint="accounts")
    sim.force_status(429, "problem", endpoint="token")
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        accounts = await client.get("/frontoffice/api/v3/accounts",
                                    headers={"Authorization": f"Bearer {jwt}"})
        token = await client.post("/frontoffice/api/v4/access-token", json={"token": API_TOKEN})
        assert (accounts.status_code, token.status_code) == (500, 429)
        assert token.headers["Retry-After"] == "1"
        assert (await client.get("/frontoffice/api/v3/accounts",
                                 headers={"Authorization": f"Bearer {jwt}"})).status_code == 200
    with pytest.raises(ValueError):
        sim.force_status(500, endpoint="orders")
    # the token revoked without the hub being told
    sim.expire_tokens(close_hub=False)
    assert (await delete(sim, other, jwt, main)).status_code == 401
