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
from websockets.exceptions import ConnectionClosed

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
