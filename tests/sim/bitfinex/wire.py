"""A raw client of the simulated Bitfinex, written from `venues/bitfinex.md` (websockets + httpx,
signing by hand), so that the simulator tests check the simulator, not our venue client."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from blotter.sim.bitfinex import BitfinexSimulator

KEY, SECRET = "test-key", "secret"
T = 2.0  # seconds any single network wait may take

_nonce_source = itertools.count(int(time.time() * 1_000_000))


def nonce() -> int:
    return next(_nonce_source)


def hmac384(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha384).hexdigest()


async def recv(ws: ClientConnection, *, skip_hb: bool = True) -> Any:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), T))
        if not (skip_hb and frame == [0, "hb"]):
            return frame


async def recv_until(ws: ClientConnection, pred: Callable[[Any], bool]) -> Any:
    while True:
        frame = await recv(ws)
        if pred(frame):
            return frame


def auth_frame(key: str = KEY, secret: str = SECRET, n: int | None = None,
               **extra: Any) -> str:
    n = nonce() if n is None else n
    payload = f"AUTH{n}"
    return json.dumps({"event": "auth", "apiKey": key, "authPayload": payload,
                       "authSig": hmac384(secret, payload), "authNonce": n, **extra})


async def open_ws(s: BitfinexSimulator) -> ClientConnection:
    ws = await connect(s.ws_url, open_timeout=T, close_timeout=0.5)
    info = await recv(ws)
    assert info["event"] == "info" and info["version"] == 2
    return ws


async def open_authed(s: BitfinexSimulator, **extra: Any) -> tuple[ClientConnection, list[Any]]:
    """Connect, authenticate, and return the socket with the `os` snapshot."""
    ws = await open_ws(s)
    await ws.send(auth_frame(**extra))
    reply = await recv(ws)
    assert reply["status"] == "OK", reply
    snapshot = await recv_until(ws, lambda f: isinstance(f, list) and f[1] == "os")
    if extra.get("filter") is None:
        for name in ("fos", "fcs", "fls"):
            assert (await recv(ws)) == [0, name, []]
    return ws, snapshot[2]


async def rest(s: BitfinexSimulator, path: str, body: bytes | None = None, *,
               key: str = KEY, secret: str = SECRET, n: int | None = None,
               signature: str | None = None) -> httpx.Response:
    n = nonce() if n is None else n
    raw = body or b""
    sig = signature or hmac384(secret, f"/api{path}{n}" + raw.decode())
    headers = {"bfx-nonce": str(n), "bfx-apikey": key, "bfx-signature": sig,
               "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=s.rest_url, timeout=T) as client:
        return await client.post(path, content=raw, headers=headers)


def assert_order(arr: Any) -> None:
    assert isinstance(arr, list) and len(arr) == 32, arr
    assert isinstance(arr[0], int) and isinstance(arr[3], str) and arr[3].startswith("t")
    assert isinstance(arr[6], (int, float)) and isinstance(arr[7], (int, float))
    assert isinstance(arr[13], str)


def note(frame: Any) -> list[Any]:
    assert frame[:2] == [0, "n"] and len(frame[2]) >= 8, frame
    return frame[2]
