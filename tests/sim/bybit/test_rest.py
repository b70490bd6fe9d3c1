"""The simulated Bybit REST endpoints over real loopback sockets, checked against
`venues/bybit.md`: auth (§1–§2), rate limits (§6), open orders (§3.1), cancels (§3.2–§3.4).

The client side here is deliberately raw (httpx + websockets, signing written from the notes) so
that these tests check the simulator, not our venue client.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from blotter.sim.bybit import BybitSimulator
from tests.sim.bybit.raw_client import (
    KEY,
    SECRET,
    T,
    auth_headers,
    fetch_all,
    get,
    now_ms,
    open_private,
    pick,
    post,
    recv,
    recv_until,
)

pytestmark = pytest.mark.timeout(10)


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


async def test_the_next_list_can_carry_one_garbled_record(sim: BybitSimulator) -> None:
    sim.garble_lists = 1
    garbled = (await get(sim, "/v5/order/realtime", "category=spot&limit=50")).json()
    again = (await get(sim, "/v5/order/realtime", "category=spot&limit=50")).json()
    first, *rest = garbled["result"]["list"]
    assert first == dict(again["result"]["list"][0], orderStatus="Parked")
    assert rest == again["result"]["list"][1:]
