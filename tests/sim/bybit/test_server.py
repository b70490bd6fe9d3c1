"""The simulated Bybit venue as a whole: the cancel/fill race, the background flow, where it
listens, the registry and `python -m blotter.sim`.

The client side here is deliberately raw (httpx + websockets, signing written from the notes) so
that these tests check the simulator, not our venue client.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from blotter.sim import SIMULATORS, start_all, stop_all
from blotter.sim.bybit import BybitSimulator
from tests.sim.bybit.raw_client import KEY, SECRET, get, open_private, pick, post, recv, recv_until

pytestmark = pytest.mark.timeout(10)


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
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[3],
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 8)  # type: ignore[union-attr]
        desc = json.loads(line)
        assert desc["venue"] == "bybit" and desc["ws_url"].endswith("/v5/private")
        assert desc["rest_url"].startswith("http://127.0.0.1:")
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
