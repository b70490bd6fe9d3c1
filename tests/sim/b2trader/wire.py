"""The deliberately raw client side of the B2TRADER simulator tests: httpx, the websockets
library, SignalR records framed by hand as JSON + 0x1E, the JWT checked with hmac here, so that
the tests check the simulator, not our venue client (which it must never share code with)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from decimal import Decimal
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from blotter.sim.b2trader import B2traderSimulator

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
