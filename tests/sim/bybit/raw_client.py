"""The raw client side of the Bybit simulator tests: httpx + websockets, signing written from
the notes (bybit.md §1, §7.1), so that the tests check the simulator, not our venue client."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from blotter.sim.bybit import BybitSimulator

KEY, SECRET = "key", "secret"
T = 2.0  # seconds any single network wait may take


def hmac256(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()



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
