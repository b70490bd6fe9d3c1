"""The simulated Bybit private websocket over real loopback sockets, checked against
`venues/bybit.md` §7: auth, subscriptions, pings, pushes, silence.

The client side here is deliberately raw (httpx + websockets, signing written from the notes) so
that these tests check the simulator, not our venue client.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from blotter.sim.bybit import BybitSimulator
from tests.sim.bybit.raw_client import KEY, SECRET, T, hmac256, now_ms, open_private, recv, ws_auth

pytestmark = pytest.mark.timeout(10)


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


async def test_a_half_open_socket_delivers_nothing_and_never_closes(sim: BybitSimulator) -> None:
    ws = await open_private(sim)
    await sim.half_open()
    await ws.send(json.dumps({"op": "ping"}))
    sim.place_order("linear", "BTCUSDT", "Sell", "0.010", "99000")
    with pytest.raises(TimeoutError):  # no pong, no push, and no close either
        await asyncio.wait_for(ws.recv(), 0.3)
    fresh = await open_private(sim)  # a new socket works
    await fresh.send(json.dumps({"op": "ping"}))
    assert (await recv(fresh))["op"] == "pong"
    await fresh.close()
    ws.transport.abort()


async def test_refused_upgrades(sim: BybitSimulator) -> None:
    sim.refuse_upgrade = True
    with pytest.raises(InvalidStatus) as refused:
        await connect(sim.ws_url, open_timeout=T)
    assert refused.value.response.status_code == 503
    sim.refuse_upgrade = False
    ws = await open_private(sim)
    await ws.close()


async def test_the_next_close_is_lost_and_a_push_can_carry_a_garbled_order(
    sim: BybitSimulator,
) -> None:
    ws = await open_private(sim)
    a = sim.place_order("linear", "BTCUSDT", "Sell", "0.010", "99000")
    b = sim.place_order("linear", "BTCUSDT", "Sell", "0.010", "99001")
    assert [(await recv(ws))["data"][0]["orderId"] for _ in range(2)] == [a, b]
    sim.lose_next_close = True
    sim.fill(a, "0.004")  # a partial fill is no close: pushed
    assert (await recv(ws))["data"][0]["orderStatus"] == "PartiallyFilled"
    sim.fill(a)  # lost
    sim.cancel_external(b)  # the next close is pushed again
    assert (await recv(ws))["data"][0] == sim.order(b)
    assert sim.order(a)["orderStatus"] == "Filled"  # type: ignore[index]
    sim.garble_next_push = True
    d = sim.place_order("linear", "ETHUSDT", "Buy", "1", "3001")
    data = (await recv(ws))["data"]
    assert len(data) == 2 and data[0] == sim.order(d)
    other = data[1]["orderId"]  # another open order, with a status no one knows
    assert other != d and data[1] == dict(sim.order(other), orderStatus="Parked")  # type: ignore[arg-type]
    assert sim.order(other)["orderStatus"] in ("New", "PartiallyFilled", "Untriggered")  # type: ignore[index]
    await ws.close()


async def test_pushes_cut_in_half(sim: BybitSimulator) -> None:
    ws = await open_private(sim)
    sim.cut_pushes = 1
    a = sim.place_order("linear", "BTCUSDT", "Sell", "0.010", "99000")
    cut = await asyncio.wait_for(ws.recv(), T)
    assert isinstance(cut, str) and cut.startswith('{"id":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)
    sim.fill(a)
    assert (await recv(ws))["data"][0]["orderStatus"] == "Filled"
    await ws.close()
