"""The simulated venue itself: its seeded book, scripted fills, the background flow, the registry
and `python -m blotter.sim`."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from blotter.sim import SIMULATORS, start_all, stop_all
from blotter.sim.bitfinex import BitfinexSimulator
from tests.sim.bitfinex.wire import (
    KEY,
    SECRET,
    T,
    assert_order,
    open_authed,
    recv,
    rest,
)

pytestmark = pytest.mark.timeout(10)


async def test_seeded_book_is_realistic(sim: BitfinexSimulator) -> None:
    orders = sim.open_orders()
    assert len(orders) == 8
    assert len({o[3] for o in orders}) >= 2
    assert any(o[1] is not None for o in orders)  # a group
    assert any(o[13].startswith("PARTIALLY FILLED @ ") for o in orders)
    assert all(o[13] == "ACTIVE" or o[13].startswith("PARTIALLY FILLED @ ") for o in orders)
    ids = [o[0] for o in orders]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    big = BitfinexSimulator(initial_orders=40, seed=3)
    many = big.open_orders()
    assert {o[6] > 0 for o in many} == {True, False}
    assert any(o[12] & 64 and o[24] == 1 for o in many)
    assert any(o[12] & 4096 and o[31] == {"$F7": 1} for o in many)


async def test_place_and_fill_frames(sim: BitfinexSimulator) -> None:
    ws, _ = await open_authed(sim)
    # float noise in, exact numbers out: 0.1 + 0.2 and a price beyond 5 significant digits
    oid = sim.place_order("tBTCUSD", 0.1 + 0.2, 16673.456, gid=9, flags=64)
    raw = await asyncio.wait_for(ws.recv(), T)
    assert "0.30000000000000004" not in raw
    on = json.loads(raw)
    assert on[:2] == [0, "on"] and on[2][0] == oid
    assert on[2][6] == 0.3 and on[2][7] == 0.3 and on[2][16] == 16673 and on[2][1] == 9
    assert on[2][12] == 64 and on[2][24] == 1
    sim.fill(oid, 0.1)
    ou = (await recv(ws))[2]
    assert ou[13] == "PARTIALLY FILLED @ 16673.0(0.1)" and ou[6] == 0.2 and ou[17] == 16673
    sim.fill(oid, "0.05")
    ou = (await recv(ws))[2]
    assert ou[13] == ("PARTIALLY FILLED @ 16673.0(0.05): was PARTIALLY FILLED @ 16673.0(0.1)")
    sim.fill(oid)
    oc = await recv(ws)
    assert oc[:2] == [0, "oc"] and oc[2][6] == 0 and oc[2][7] == 0.3
    assert oc[2][13].startswith("EXECUTED @ 16673.0(0.15)")
    assert sim.order(oid) is None

    sell = sim.place_order("tETHUSD", "-1", "3500")
    await recv(ws)
    sim.fill(sell)
    assert (await recv(ws))[2][13] == "EXECUTED @ 3500.0(-1.0)"
    sell = sim.place_order("tETHUSD", "-1", "3500")
    await recv(ws)
    sim.cancel_external(sell)
    assert (await recv(ws))[2][13] == "CANCELED"
    with pytest.raises(KeyError):
        sim.fill(sell)
    await ws.close()


async def test_flow_produces_frames() -> None:
    s = BitfinexSimulator(api_key=KEY, api_secret=SECRET, initial_orders=10, seed=1)
    await s.start()
    try:
        ws, _ = await open_authed(s)
        s.start_flow(200.0)
        kinds: set[str] = set()
        deadline = time.monotonic() + 3
        while not {"on", "ou", "oc"} <= kinds and time.monotonic() < deadline:
            frame = await recv(ws)
            kinds.add(frame[1])
            assert_order(frame[2])
        s.stop_flow()
        assert {"on", "ou", "oc"} <= kinds
        assert 2 <= len(s.open_orders()) <= 40
        await ws.close()
    finally:
        await s.stop()


def test_flow_keeps_the_book_size_and_groups() -> None:
    s = BitfinexSimulator(initial_orders=30, seed=11)
    sizes = []
    for _ in range(3000):
        s.flow_step()
        sizes.append(len(s.open_orders()))
    assert 15 <= sum(sizes[-1000:]) / 1000 <= 50
    assert any(o[1] is not None for o in s.open_orders())
    for arr in s.open_orders():
        assert_order(arr)


async def test_start_all_registry() -> None:
    assert SIMULATORS["bitfinex"] is BitfinexSimulator
    sims = await start_all(initial_orders=3, seed=5)
    try:
        assert set(sims) == set(SIMULATORS) and "bitfinex" in sims
        desc = sims["bitfinex"].describe()
        assert desc["venue"] == "bitfinex" and desc["ws_url"].startswith("ws://127.0.0.1:")
        resp = await rest(sims["bitfinex"], "/v2/auth/r/orders", b"{}",
                          key=desc["credentials"]["api_key"],
                          secret=desc["credentials"]["api_secret"])
        assert len(resp.json()) == 3
    finally:
        await stop_all(sims)
    with pytest.raises(ValueError, match="loopback"):
        await BitfinexSimulator().start(host="0.0.0.0")
    with pytest.raises(ValueError, match="unknown venue"):
        await start_all(["nowhere"])


async def test_main_prints_one_json_line() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blotter.sim", "--orders", "3", "--rate", "0",
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[3],
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 8)  # type: ignore[union-attr]
        desc = json.loads(line)
        assert desc["venue"] == "bitfinex" and set(desc["credentials"]) == {"api_key",
                                                                            "api_secret"}
        assert desc["rest_url"].startswith("http://127.0.0.1:")
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
