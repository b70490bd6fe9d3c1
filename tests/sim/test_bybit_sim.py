"""The Bybit v5 simulator over real loopback sockets, checked against `venues/bybit.md`.

The client side here is deliberately raw (httpx + websockets, signing written from the notes) so
that these tests check the simulator, not our venue client.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from blotter.sim import SIMULATORS, start_all, stop_all
from blotter.sim.bybit import (
    BybitSimulator,
    rest_signed_message,
    sign,
    signature_ok,
    window_ok,
    ws_auth_message,
)

pytestmark = pytest.mark.timeout(10)

KEY, SECRET = "key", "secret"
T = 2.0  # seconds any single network wait may take


def hmac256(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


# bybit.md §9, inputs: key "key", secret "secret", timestamp 1700000000000, recv window 5000
VECTORS = [
    ('1700000000000key5000{"category":"linear","symbol":"BTCUSDT","orderId":"abc"}',
     "6abbd46cbb93c45a96a20a387757245b5ba2a8b9502eb45811472b8676d35c72"),
    ('1700000000000key5000{"category": "linear", "symbol": "BTCUSDT", "orderId": "abc"}',
     "30bc5f92b34d099e669d26709024fa0e89dbd5730e697a5412fdcc00cc4b608e"),
    ("1700000000000key5000category=linear&symbol=BTCUSDT",
     "3906b813750309cce9879a975510651953382a28592d69104d0b599e3d201f40"),
    ("1700000000000key5000category=linear&limit=50&settleCoin=USDT",
     "0d014db4b8cb8af3a44a56b26baa4e64fa9124f792a6e064bea8649e0ce63cc3"),
    ("1700000000000key5000category=spot",
     "17c2acfe0756d6851d1c5926859c172d8922e199dc9ad0f0b47bce6e00fd1d5e"),
    (("1700000000000key5000category=linear&settleCoin=USDT&limit=50&cursor=page_args%3Dfd4300ae"
      "%26symbol%3D6%26"),
     "c5300628bd0da07ed8d0cbfed5897ea50d5bc03927bb6e3c64d4bfcb56359648"),
    ('1700000000000key5000{"category":"linear","settleCoin":"USDT"}',
     "d997a87882f15b4f6b61aff7c955ddee129cccea93e822e1f7a6b25f1afc144a"),
    ('1700000000000key5000{"category":"spot","orderFilter":"StopOrder"}',
     "8e0a7358479201252dab798cb9cf56bbfe29df0bcabe1010794ff5d85ab773b2"),
    ('1700000000000key5000{"category":"spot","request":[{"symbol":"BTCUSDT","orderId":"abc"}]}',
     "b560b9f88f856120097608068141e68fe6d11469d439cefcfcf4e1395f7a46da"),
    ("GET/realtime1700000005000",
     "870a92b7592554e69a02b26e07d3cd0f25689e17ef588149eaf04b9c1358a6fa"),
]


@pytest.mark.parametrize(("message", "digest"), VECTORS)
def test_notes_vectors_match_the_verifier(message: str, digest: str) -> None:
    assert hmac256("secret", message) == digest
    assert sign("secret", message) == digest
    assert signature_ok("secret", message, digest)
    assert signature_ok("secret", message, digest.upper())
    assert not signature_ok("secret", message + " ", digest)


def test_message_builders_and_window() -> None:
    msg = rest_signed_message("1700000000000", "key", "5000", b'{"category":"spot"}')
    assert msg == b'1700000000000key5000{"category":"spot"}'
    assert sign("secret", ws_auth_message(1700000005000)) == VECTORS[-1][1]
    # notes §9: at server 1700000000500, recv 5000 accepts [1699999995500, 1700000001500)
    assert window_ok(1699999995500, 1700000000500, 5000)
    assert not window_ok(1699999995499, 1700000000500, 5000)
    assert window_ok(1700000001499, 1700000000500, 5000)
    assert not window_ok(1700000001500, 1700000000500, 5000)


# --- client-side helpers --------------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[BybitSimulator]:
    s = BybitSimulator(api_key=KEY, api_secret=SECRET, initial_orders=60, seed=11)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def now_ms() -> int:
    return int(time.time() * 1000)


def auth_headers(payload: str, *, key: str = KEY, secret: str = SECRET, ts: int | None = None,
                 recv: str | None = "5000") -> dict[str, str]:
    stamp = str(now_ms() - 100 if ts is None else ts)
    headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": stamp,
               "X-BAPI-SIGN": hmac256(secret, stamp + key + (recv or "") + payload),
               "X-BAPI-SIGN-TYPE": "2", "Content-Type": "application/json"}
    if recv is not None:
        headers["X-BAPI-RECV-WINDOW"] = recv
    return headers


async def get(s: BybitSimulator, path: str, query: str, **kw: Any) -> httpx.Response:
    """GET with the query string sent (and signed) exactly as written."""
    async with httpx.AsyncClient(base_url=s.rest_url, timeout=T) as client:
        return await client.get(f"{path}?{query}", headers=auth_headers(query, **kw))


async def post(s: BybitSimulator, path: str, body: Any, **kw: Any) -> httpx.Response:
    raw = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    async with httpx.AsyncClient(base_url=s.rest_url, timeout=T) as client:
        return await client.post(path, content=raw.encode(), headers=auth_headers(raw, **kw))


async def fetch_all(s: BybitSimulator, query: str, limit: int = 7) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):
        q = f"{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = (await get(s, "/v5/order/realtime", q)).json()
        assert body["retCode"] == 0, body
        out += body["result"]["list"]
        cursor = body["result"]["nextPageCursor"]
        if not cursor or not body["result"]["list"]:
            return out
    raise AssertionError("cursor never ended")


async def recv(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), T))


async def recv_until(ws: ClientConnection, pred: Callable[[Any], bool]) -> Any:
    while True:
        frame = await recv(ws)
        if pred(frame):
            return frame


def ws_auth(key: str = KEY, secret: str = SECRET, expires: int | None = None) -> str:
    exp = now_ms() + 10_000 if expires is None else expires
    return json.dumps({"op": "auth", "args": [key, exp, hmac256(secret, f"GET/realtime{exp}")]})


async def open_private(s: BybitSimulator, topics: list[str] | None = None) -> ClientConnection:
    ws = await connect(s.ws_url, open_timeout=T, close_timeout=0.5)
    await ws.send(ws_auth())
    reply = await recv(ws)
    assert reply["success"] is True and reply["op"] == "auth", reply
    await ws.send(json.dumps({"req_id": "sub-1", "op": "subscribe", "args": topics or ["order"]}))
    ack = await recv(ws)
    assert ack == {"req_id": "sub-1", "success": True, "ret_msg": "", "op": "subscribe",
                   "conn_id": ack["conn_id"]}
    return ws


def pick(s: BybitSimulator, category: str, status: str = "New") -> dict[str, Any]:
    return next(o for o in s.open_orders(category) if o["orderStatus"] == status)


# --- REST auth ------------------------------------------------------------------------------


async def test_market_time_and_clock_skew(sim: BybitSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        body = (await client.get("/v5/market/time")).json()
        assert body["retCode"] == 0 and abs(body["time"] - now_ms()) < 1000
        assert int(body["result"]["timeNano"]) // 10**9 == int(body["result"]["timeSecond"])
        sim.clock_skew = -3.0
        skewed = (await client.get("/v5/market/time")).json()
        assert 2500 < now_ms() - skewed["time"] < 3500


async def test_auth_errors(sim: BybitSimulator) -> None:
    q = "category=spot"
    ok = (await get(sim, "/v5/order/realtime", q)).json()
    assert ok["retCode"] == 0 and ok["retMsg"] == "OK" and ok["result"]["category"] == "spot"
    bad_key = (await get(sim, "/v5/order/realtime", q, key="nokey")).json()
    assert (bad_key["retCode"], bad_key["retMsg"], bad_key["result"]) == (
        10003, "API key is invalid.", {})
    bad_sig = (await get(sim, "/v5/order/realtime", q, secret="wrong")).json()
    assert bad_sig["retCode"] == 10004
    assert bad_sig["retMsg"].startswith("error sign! origin_string[")
    assert bad_sig["retMsg"].endswith(f"{KEY}5000{q}]")
    # the clock 3 s ahead of the venue: refused (only 1 s ahead is tolerated)
    ahead = (await get(sim, "/v5/order/realtime", q, ts=now_ms() + 3000)).json()
    assert ahead["retCode"] == 10002
    assert "req_timestamp[" in ahead["retMsg"] and "recv_window[5000]" in ahead["retMsg"]
    assert (await get(sim, "/v5/order/realtime", q, ts=now_ms() - 4000)).json()["retCode"] == 0
    # the venue's clock 3 s behind ours: a client that does not correct gets 10002
    sim.clock_skew = -3.0
    assert (await get(sim, "/v5/order/realtime", q)).json()["retCode"] == 10002
    assert (await get(sim, "/v5/order/realtime", q, ts=now_ms() - 3200)).json()["retCode"] == 0
    sim.clock_skew = 0.0
    sim.refuse_key = True
    assert (await get(sim, "/v5/order/realtime", q)).json()["retCode"] == 10003
    sim.refuse_key = False
    sim.force_server_error = 1
    err = (await get(sim, "/v5/order/realtime", q)).json()
    assert err["retCode"] == 10016
    assert (await get(sim, "/v5/order/realtime", q)).json()["retCode"] == 0


async def test_signature_over_exact_bytes(sim: BybitSimulator) -> None:
    order = pick(sim, "linear")
    # pybit's spaced json.dumps body, signed as sent, is accepted as it is
    spaced = json.dumps({"category": "linear", "symbol": order["symbol"],
                         "orderId": order["orderId"]})
    resp = await post(sim, "/v5/order/cancel", spaced)
    assert resp.json()["retCode"] == 0
    # signing a compact copy but sending the spaced bytes is refused
    compact = json.dumps(json.loads(spaced), separators=(",", ":"))
    headers = auth_headers(compact)
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        resp = await client.post("/v5/order/cancel", content=spaced.encode(), headers=headers)
    assert resp.json()["retCode"] == 10004
    # no recv-window header: default 5000, either signing form is accepted
    assert (await get(sim, "/v5/order/realtime", "category=spot", recv=None)).json()[
        "retCode"] == 0


async def test_rate_limit_headers_and_10006(sim: BybitSimulator) -> None:
    resp = await get(sim, "/v5/order/realtime", "category=option")
    assert resp.headers["X-Bapi-Limit"] == "50"
    assert int(resp.headers["X-Bapi-Limit-Status"]) == 49
    assert "X-Bapi-Limit-Reset-Timestamp" in resp.headers
    sim.force_rate_limit = 1
    limited = await get(sim, "/v5/order/realtime", "category=option")
    assert limited.status_code == 200 and limited.json()["retCode"] == 10006
    assert limited.json()["retMsg"] == "Too many visits!"
    # option cancel-all: 1 per second
    assert (await post(sim, "/v5/order/cancel-all", {"category": "option"})).json()[
        "retCode"] == 0
    second = await post(sim, "/v5/order/cancel-all", {"category": "option"})
    assert second.json()["retCode"] == 10006
    assert int(second.headers["X-Bapi-Limit-Reset-Timestamp"]) > now_ms() - 1000


# --- open orders ----------------------------------------------------------------------------


async def test_realtime_pages_every_category(sim: BybitSimulator) -> None:
    seen: list[tuple[str, str]] = []
    for query in ("category=spot", "category=linear&settleCoin=USDT",
                  "category=linear&settleCoin=USDC", "category=inverse", "category=option"):
        orders = await fetch_all(sim, query)
        created = [int(o["createdTime"]) for o in orders]
        assert created == sorted(created, reverse=True)
        seen += [(query.split("&")[0][9:], o["orderId"]) for o in orders]
        assert all("category" not in o for o in orders)
    expected = [(o["category"], o["orderId"]) for o in sim.open_orders()]
    assert sorted(seen) == sorted(expected) and len(seen) == 60
    assert {c for c, _ in seen} == {"spot", "linear", "inverse", "option"}
    assert any(o["orderStatus"] == "Untriggered" for o in sim.open_orders())
    assert any(o["orderStatus"] == "PartiallyFilled" for o in sim.open_orders())


async def test_realtime_filters_and_errors(sim: BybitSimulator) -> None:
    scope = (await get(sim, "/v5/order/realtime", "category=linear")).json()
    assert scope["retCode"] == 10001
    order = pick(sim, "linear")
    by_symbol = (await get(sim, "/v5/order/realtime",
                           f"category=linear&symbol={order['symbol']}&limit=50")).json()
    assert {o["symbol"] for o in by_symbol["result"]["list"]} == {order["symbol"]}
    by_id = (await get(sim, "/v5/order/realtime",
                       f"category=linear&orderId={order['orderId']}")).json()
    assert [o["orderId"] for o in by_id["result"]["list"]] == [order["orderId"]]
    unknown = (await get(sim, "/v5/order/realtime", "category=spot&orderId=123")).json()
    assert (unknown["retCode"], unknown["retMsg"]) == (170213, "Order does not exist.")
    page = (await get(sim, "/v5/order/realtime", "category=spot&limit=2")).json()
    cursor = page["result"]["nextPageCursor"]
    assert cursor.startswith("page_args%3D") and "%26" in cursor
    assert (await get(sim, "/v5/order/realtime", "category=spot&limit=51")).json()[
        "retCode"] == 10001


# --- cancels --------------------------------------------------------------------------------


async def test_cancel_one_ack_then_push(sim: BybitSimulator) -> None:
    ws = await open_private(sim)
    order = pick(sim, "linear")
    resp = (await post(sim, "/v5/order/cancel", {"category": "linear", "symbol": order["symbol"],
                                                  "orderId": order["orderId"]})).json()
    assert resp["retCode"] == 0
    assert resp["result"] == {"orderId": order["orderId"], "orderLinkId": order["orderLinkId"]}
    push = await recv_until(ws, lambda f: f.get("topic") == "order")
    assert isinstance(push["creationTime"], int) and len(push["data"]) == 1
    data = push["data"][0]
    assert data["category"] == "linear" and data["orderId"] == order["orderId"]
    assert (data["orderStatus"], data["cancelType"], data["rejectReason"]) == (
        "Cancelled", "CancelByUser", "EC_PerCancelRequest")
    assert data["leavesQty"] == "0" and int(data["updatedTime"]) > int(order["updatedTime"])
    assert order["orderId"] not in {o["orderId"] for o in sim.open_orders()}
    again = (await post(sim, "/v5/order/cancel", {"category": "linear",
                                                   "symbol": order["symbol"],
                                                   "orderId": order["orderId"]})).json()
    assert again["retCode"] == 110001
    spot = (await post(sim, "/v5/order/cancel", {"category": "spot", "symbol": "BTCUSDT",
                                                  "orderId": "1"})).json()
    assert (spot["retCode"], spot["retMsg"]) == (170213, "Order does not exist.")
    missing = (await post(sim, "/v5/order/cancel", {"category": "linear",
                                                     "symbol": "BTCUSDT"})).json()
    assert missing["retMsg"] == "params error: OrderId or orderLinkId is required"
    await ws.close()


async def test_cancel_by_link_id_and_spot_partial(sim: BybitSimulator) -> None:
    ws = await open_private(sim, ["order.spot"])
    oid = sim.place_order("spot", "ETHUSDT", "Buy", "0.5", "3300", order_link_id="my-1")
    placed = await recv_until(ws, lambda f: f.get("topic") == "order.spot")
    assert placed["data"][0]["orderStatus"] == "New"
    sim.fill(oid, "0.2")
    part = await recv(ws)
    assert part["data"][0]["orderStatus"] == "PartiallyFilled"
    assert part["data"][0]["cumExecQty"] == "0.20000"
    resp = (await post(sim, "/v5/order/cancel", {"category": "spot", "symbol": "ETHUSDT",
                                                  "orderLinkId": "my-1"})).json()
    assert resp["result"] == {"orderId": oid, "orderLinkId": "my-1"}
    done = await recv(ws)
    assert done["data"][0]["orderStatus"] == "PartiallyFilledCanceled"
    await ws.close()


async def test_cancel_batch_per_item_errors_and_cap(sim: BybitSimulator) -> None:
    ws = await open_private(sim)
    spot = [o for o in sim.open_orders("spot") if o["orderStatus"] != "Untriggered"][:2]
    items = [{"symbol": o["symbol"], "orderId": o["orderId"]} for o in spot]
    items.append({"symbol": "ATOMUSDT", "orderLinkId": "nope"})
    resp = (await post(sim, "/v5/order/cancel-batch",
                       {"category": "spot", "request": items})).json()
    assert resp["retCode"] == 0
    assert [i["code"] for i in resp["retExtInfo"]["list"]] == [0, 0, 170213]
    assert resp["result"]["list"][2] == {"category": "spot", "symbol": "ATOMUSDT",
                                         "orderId": "", "orderLinkId": "nope"}
    closed: set[str] = set()
    while len(closed) < 2:
        push = await recv_until(ws, lambda f: f.get("topic") == "order")
        closed |= {d["orderId"] for d in push["data"]
                   if d["orderStatus"] in ("Cancelled", "PartiallyFilledCanceled")}
    assert closed == {o["orderId"] for o in spot}
    eleven = [{"symbol": "BTCUSDT", "orderId": str(i)} for i in range(11)]
    over = (await post(sim, "/v5/order/cancel-batch",
                       {"category": "spot", "request": eleven})).json()
    assert over["retCode"] == 10001
    await ws.close()


async def test_cancel_all_scopes_and_the_500_cap() -> None:
    s = BybitSimulator(api_key=KEY, api_secret=SECRET, seed=2)
    for i in range(620):
        s.place_order("linear", "SOLUSDT", "Buy", "1", f"{150 + i * 0.01:.3f}", push=False)
    s.place_order("linear", "BTCPERP", "Sell", "0.01", "99000", push=False)
    stop = s.place_order("spot", "BTCUSDT", "Sell", "0.01", "90000", trigger_price="91000",
                         push=False)
    s.place_order("spot", "BTCUSDT", "Buy", "0.01", "90000", push=False)
    await s.start()
    try:
        assert (await post(s, "/v5/order/cancel-all", {"category": "linear"})).json()[
            "retCode"] == 10001
        first = (await post(s, "/v5/order/cancel-all",
                            {"category": "linear", "settleCoin": "USDT"})).json()
        assert first["retCode"] == 0 and first["result"]["success"] == "1"
        assert len(first["result"]["list"]) == 500
        await asyncio.sleep(0.05)
        assert len(s.open_orders("linear")) == 121
        second = (await post(s, "/v5/order/cancel-all",
                             {"category": "linear", "settleCoin": "USDT"})).json()
        assert len(second["result"]["list"]) == 120
        await asyncio.sleep(0.05)
        assert [o["symbol"] for o in s.open_orders("linear")] == ["BTCPERP"]
        # spot: the default filter cancels normal orders only
        spot = (await post(s, "/v5/order/cancel-all", {"category": "spot"})).json()
        assert len(spot["result"]["list"]) == 1
        await asyncio.sleep(0.05)
        assert [o["orderId"] for o in s.open_orders("spot")] == [stop]
        stops = (await post(s, "/v5/order/cancel-all",
                            {"category": "spot", "orderFilter": "StopOrder"})).json()
        assert [o["orderId"] for o in stops["result"]["list"]] == [stop]
        await asyncio.sleep(0.05)
        assert s.order(stop)["orderStatus"] == "Deactivated"  # type: ignore[index]
        assert (await post(s, "/v5/order/cancel-all",
                           {"category": "spot", "settleCoin": "USDT"})).json()[
            "retCode"] == 10001
    finally:
        await s.stop()


async def test_cancel_fill_race_gives_two_filled(sim: BybitSimulator) -> None:
    ws = await open_private(sim)
    order = pick(sim, "inverse")
    sim.fill_on_cancel = True
    resp = (await post(sim, "/v5/order/cancel", {"category": "inverse",
                                                  "symbol": order["symbol"],
                                                  "orderId": order["orderId"]})).json()
    assert resp["retCode"] == 0
    one = (await recv_until(ws, lambda f: f.get("topic") == "order"))["data"][0]
    two = (await recv(ws))["data"][0]
    assert (one["orderStatus"], one["rejectReason"]) == ("Filled", "EC_NoError")
    assert (two["orderStatus"], two["cancelType"], two["rejectReason"]) == (
        "Filled", "CancelByUser", "EC_OrigClOrdIDDoesNotExist")
    assert one["updatedTime"] == two["updatedTime"]
    await ws.close()


# --- private websocket ----------------------------------------------------------------------


async def test_ws_auth_failures_and_subscribe_rules(sim: BybitSimulator) -> None:
    async with connect(sim.ws_url, open_timeout=T, close_timeout=0.5) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": ["order"]}))
        assert (await recv(ws))["success"] is False
        await ws.send(ws_auth(expires=now_ms() - 1000))
        assert (await recv(ws))["ret_msg"] == "Params Error"
        await ws.send(ws_auth(secret="wrong"))
        assert (await recv(ws))["success"] is False
        await ws.send(ws_auth(key="nokey"))
        assert (await recv(ws))["success"] is False
        await ws.send(json.dumps({"req_id": "a1", "op": "auth", "args": [
            KEY, str(now_ms() + 10_000), hmac256(SECRET, f"GET/realtime{now_ms() + 10_000}")]}))
        ok = await recv(ws)
        # the expires sent as a string (ccxt) is accepted when the signature matches it
        assert ok["op"] == "auth" and ok["req_id"] == "a1"
        if not ok["success"]:  # the millisecond moved between the two now_ms() calls
            await ws.send(ws_auth())
            assert (await recv(ws))["success"] is True
        await ws.send(json.dumps({"op": "subscribe", "args": ["order", "order.spot"]}))
        assert (await recv(ws))["success"] is False
        await ws.send(json.dumps({"op": "subscribe", "args": ["nope"]}))
        assert (await recv(ws))["ret_msg"] == "error:handler not found,topic:nope"
        await ws.send(json.dumps({"req_id": "100001", "op": "ping"}))
        pong = await recv(ws)
        assert pong["op"] == "pong" and pong["req_id"] == "100001"
        assert abs(int(pong["args"][0]) - now_ms()) < 1000


async def test_no_snapshot_and_pushes_follow_topics(sim: BybitSimulator) -> None:
    ws = await open_private(sim, ["order.linear"])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.2)
    sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "90000")
    oid = sim.place_order("linear", "BTCUSDT", "Sell", "0.010", "99000")
    push = await recv(ws)
    assert push["topic"] == "order.linear" and push["data"][0]["orderId"] == oid
    sim.cancel_external(oid)
    assert (await recv(ws))["data"][0]["orderStatus"] == "Cancelled"
    await ws.close()


async def test_silent_socket_and_drop(sim: BybitSimulator) -> None:
    ws = await open_private(sim)
    sim.silent_socket = True
    await ws.send(json.dumps({"op": "ping"}))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.2)
    pong_waiter = await ws.ping()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pong_waiter, 0.2)
    sim.silent_socket = False
    await sim.drop_connections()
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), T)


async def test_flow_produces_pushes() -> None:
    s = BybitSimulator(api_key=KEY, api_secret=SECRET, initial_orders=20, seed=4,
                       flow_rate=200.0)
    await s.start()
    try:
        ws = await open_private(s)
        statuses: set[str] = set()
        for _ in range(40):
            push = await recv(ws)
            statuses |= {d["orderStatus"] for d in push["data"]}
        assert "New" in statuses and len(statuses) >= 3
        await ws.close()
    finally:
        await s.stop()
    assert BybitSimulator(seed=1).describe()["ws_url"].endswith("/v5/private")
    with pytest.raises(ValueError, match="loopback"):
        await BybitSimulator().start(host="0.0.0.0")


# --- registry and command line --------------------------------------------------------------


async def test_start_all_registry() -> None:
    assert SIMULATORS["bybit"] is BybitSimulator
    sims = await start_all(["bybit"], initial_orders=5, seed=5)
    try:
        assert set(sims) == {"bybit"}
        desc = sims["bybit"].describe()
        assert desc["venue"] == "bybit" and desc["ws_url"].startswith("ws://127.0.0.1:")
        creds = desc["credentials"]
        assert set(creds) == {"api_key", "api_secret"}
        body = (await get(sims["bybit"], "/v5/order/realtime", "category=option",
                          key=creds["api_key"], secret=creds["api_secret"])).json()
        assert body["retCode"] == 0 and len(body["result"]["list"]) == 1
    finally:
        await stop_all(sims)


async def test_main_prints_the_bybit_line() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blotter.sim", "--venue", "bybit", "--orders", "3", "--rate", "0",
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 8)  # type: ignore[union-attr]
        desc = json.loads(line)
        assert desc["venue"] == "bybit" and desc["ws_url"].endswith("/v5/private")
        assert desc["rest_url"].startswith("http://127.0.0.1:")
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
