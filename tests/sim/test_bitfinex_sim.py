"""The Bitfinex simulator over real loopback sockets, checked against `venues/bitfinex.md`.

The client side here is deliberately raw (websockets + httpx, signing written from the notes) so
that these tests check the simulator, not our venue client.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from blotter.sim import SIMULATORS, start_all, stop_all
from blotter.sim.bitfinex import BitfinexSimulator, rest_signed_message, sign, signature_ok

pytestmark = pytest.mark.timeout(10)

KEY, SECRET = "test-key", "secret"
T = 2.0  # seconds any single network wait may take

_nonce_source = itertools.count(int(time.time() * 1_000_000))


def nonce() -> int:
    return next(_nonce_source)


def hmac384(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha384).hexdigest()


# --- client-side helpers --------------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[BitfinexSimulator]:
    s = BitfinexSimulator(api_key=KEY, api_secret=SECRET, initial_orders=8, seed=7,
                          heartbeat_interval=30.0)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


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


# --- signatures -----------------------------------------------------------------------------

VECTORS = [
    ("AUTH1700000000000000",
     ("972fdb5f9dd2676d1d363fff221e4db3f14cf7a1bd7cf5c2baae317251d6aca9"
      "f1412106221dbac44d35ce125fbf4840")),
    ('/api/v2/auth/w/order/cancel1700000000000000{"id":123}',
     ("06a58367ea8fc68d720bf6e47e3c8ae6791b03fe62e215e420db2dc6ba797a34"
      "3e330e75bb079e62b8a7db0133b4b66e")),
    ("AUTH17000000000000001700000000000000",
     ("9988d19ed872ea5c2339d1cbdedbb0d9f5122c4469c2691c927c41cf4df9fdc2"
      "1404cef06924e21f5c333d4922ab9912")),
    ('/api/v2/auth/w/order/cancel1700000000000000{"id": 123}',
     ("82c4b5eb290e5dda3c72fa09123211084bf25bd1ed415b42ad9bd714b27406dc"
      "ea8dc93013a65fbe8b0172724e9eda2f")),
    ("/api/v2/auth/r/orders1700000000000000{}",
     ("409e248105be171c488ac1970f247035b11a07e5f7a7ebdbd71242060fc0456d"
      "76e36b4b29baa4851411eff28b2dfd1f")),
    ('/api/v2/auth/w/order/cancel/multi1700000000000000{"id":[123,456]}',
     ("8abb1f3c07b17f73fd3f74a8700592eeb9fd6483b5b4e761c38300e963ac39ba"
      "00da4e9ed4f8a6e2de812b9c0070e6ac")),
]


@pytest.mark.parametrize(("message", "digest"), VECTORS)
def test_notes_vectors_match_the_verifier(message: str, digest: str) -> None:
    assert hmac384("secret", message) == digest
    assert sign("secret", message) == digest
    assert signature_ok("secret", message, digest)
    assert signature_ok("secret", message, digest.upper())
    assert not signature_ok("secret", message + " ", digest)
    assert not signature_ok("Secret", message, digest)


def test_rest_message_is_built_from_raw_bytes() -> None:
    msg = rest_signed_message("/v2/auth/w/order/cancel", "1700000000000000", b'{"id":123}')
    assert sign("secret", msg) == VECTORS[1][1]
    empty = rest_signed_message("/v2/auth/r/wallets", "1700000000000000", b"")
    assert empty == b"/api/v2/auth/r/wallets1700000000000000"


# --- connection, auth -----------------------------------------------------------------------


async def test_info_frame_on_open(sim: BitfinexSimulator) -> None:
    async with connect(sim.ws_url, open_timeout=T) as ws:
        info = await recv(ws)
    assert info["event"] == "info" and info["version"] == 2
    assert info["platform"] == {"status": 1} and len(info["serverId"]) == 36
    assert sim.connections_opened == 1
    assert sim.rest_url.startswith("http://127.0.0.1:") and sim.ws_url.endswith("/ws/2")
    assert sim.credentials == {"api_key": KEY, "api_secret": SECRET}


async def test_auth_ok_then_snapshots_in_order(sim: BitfinexSimulator) -> None:
    ws = await open_ws(sim)
    await ws.send(auth_frame())
    ok = await recv(ws)
    assert ok["event"] == "auth" and ok["status"] == "OK" and ok["chanId"] == 0
    assert isinstance(ok["userId"], int) and len(ok["auth_id"]) == 36
    assert ok["caps"]["orders"] == {"read": 1, "write": 1}
    names = []
    for _ in range(6):
        frame = await recv(ws)
        names.append(frame[1])
        if frame[1] == "os":
            assert len(frame[2]) == 8
            for arr in frame[2]:
                assert_order(arr)
        else:
            assert frame[2] == []
    assert names == ["ps", "ws", "os", "fos", "fcs", "fls"]
    assert sim.auth_ok_count == 1
    await ws.close()


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


async def test_filter_gates_messages_and_heartbeats(sim: BitfinexSimulator) -> None:
    sim.heartbeat_interval = 0.05
    ws = await open_ws(sim)
    await ws.send(auth_frame(filter=["trading-tNOSUCH", "wallet"]))
    assert (await recv(ws))["status"] == "OK"
    assert await recv(ws) == [0, "ws", []]
    assert await recv(ws) == [0, "os", []]
    assert await recv(ws, skip_hb=False) == [0, "hb"]
    # neither the fill (other symbol) nor any notification passes this filter
    sim.fill(sim.open_orders()[0][0])
    await ws.send(json.dumps([0, "oc", None, {"id": 1}]))
    assert await recv(ws, skip_hb=False) == [0, "hb"]
    sim.stop_heartbeats = True
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.2)
    await ws.close()


async def test_auth_failures(sim: BitfinexSimulator) -> None:
    ws = await open_ws(sim)
    await ws.send(auth_frame(secret="wrong"))
    bad_sig = await recv(ws)
    assert bad_sig["event"] == "auth" and bad_sig["status"] == "FAILED"
    assert bad_sig["chanId"] == 0 and bad_sig["code"] == 10100
    await ws.send(auth_frame(key="nobody"))
    assert await recv(ws) == {"event": "auth", "status": "FAILED", "chanId": 0,
                              "code": 10100, "msg": "apikey: invalid"}
    sim.refuse_auth = True
    await ws.send(auth_frame())
    assert (await recv(ws))["msg"] == "apikey: invalid"
    sim.refuse_auth = False
    # node-lib style payload AUTH<n><n> and a nonce given as a string are accepted
    n = nonce()
    payload = f"AUTH{n}{n}"
    await ws.send(json.dumps({"event": "auth", "apiKey": KEY, "authPayload": payload,
                              "authSig": hmac384(SECRET, payload), "authNonce": str(n)}))
    assert (await recv(ws))["status"] == "OK"
    await ws.close()


async def test_nonce_small_and_shared_with_rest(sim: BitfinexSimulator) -> None:
    first = nonce()
    resp = await rest(sim, "/v2/auth/r/orders", b"{}", n=first + 10)
    assert resp.status_code == 200
    ws = await open_ws(sim)
    await ws.send(auth_frame(n=first + 5))  # below what REST already used
    assert await recv(ws) == {"event": "auth", "status": "FAILED", "chanId": 0,
                              "code": 10114, "msg": "nonce: small"}
    await ws.send(auth_frame(n=first + 20))
    assert (await recv(ws))["status"] == "OK"
    resp = await rest(sim, "/v2/auth/r/orders", b"{}", n=first + 15)
    assert resp.status_code == 500 and resp.json() == ["error", 10114, "nonce: small"]
    await ws.close()
    ws = await open_ws(sim)
    await ws.send(auth_frame(n=2**53))
    assert (await recv(ws))["code"] == 10114
    await ws.close()


async def test_inputs_before_auth_and_odd_frames(sim: BitfinexSimulator) -> None:
    ws = await open_ws(sim)
    await ws.send(json.dumps([0, "oc", None, {"id": 5}]))
    assert await recv(ws) == {"event": "error", "msg": "auth: invalid", "code": 10100}
    await ws.send(json.dumps({"event": "ping", "cid": 1234}))
    pong = await recv(ws)
    assert pong["event"] == "pong" and pong["cid"] == 1234 and isinstance(pong["ts"], int)
    await ws.send(json.dumps({"event": "conf", "flags": 32768}))
    assert await recv(ws) == {"event": "conf", "status": "OK", "flags": 32768}
    for junk in ("{not json", "[]", "42", '{"event":"nope"}', '"x"', '[0,"zz",null,{}]'):
        await ws.send(junk)
        reply = await recv(ws)
        assert reply["event"] == "error" and reply["code"] in (10000, 10001, 10100), junk
    await ws.send(json.dumps({"event": "ping", "cid": 1}))
    assert (await recv(ws))["event"] == "pong"  # still serving
    assert sim.inputs_received[0] == [0, "oc", None, {"id": 5}]
    await ws.close()


# --- cancels over the websocket -------------------------------------------------------------


async def test_cancel_by_id(sim: BitfinexSimulator) -> None:
    ws, snapshot = await open_authed(sim)
    target = next(o for o in snapshot if o[13] == "ACTIVE")
    await ws.send(json.dumps([0, "oc", None, {"id": target[0]}]))
    ack = note(await recv(ws))
    assert ack[1] == "oc-req" and ack[6] == "SUCCESS"
    assert ack[7] == f"Submitted for cancellation; waiting for confirmation (ID: {target[0]})."
    assert ack[4] == target  # the order as it was, still ACTIVE
    closed = await recv(ws)
    assert closed[:2] == [0, "oc"] and closed[2][0] == target[0]
    assert closed[2][13] == "CANCELED" and closed[2][5] > target[5]
    assert_order(closed[2])
    assert sim.order(target[0]) is None
    assert target[0] not in [o[0] for o in sim.open_orders()]
    assert sim.inputs_received[-1] == [0, "oc", None, {"id": target[0]}]
    await ws.close()


async def test_cancel_partially_filled_and_by_cid(sim: BitfinexSimulator) -> None:
    ws, _ = await open_authed(sim)
    oid = sim.place_order("tBTCUSD", "0.5", "90000", cid=4242)
    created = (await recv(ws))[2]
    assert created[2] == 4242 and created[13] == "ACTIVE"
    sim.fill(oid, "0.2")
    updated = await recv(ws)
    assert updated[:2] == [0, "ou"]
    assert updated[2][13] == "PARTIALLY FILLED @ 90000.0(0.2)" and updated[2][6] == 0.3
    cid_date = time.strftime("%Y-%m-%d", time.gmtime(created[4] / 1000))
    await ws.send(json.dumps([0, "oc", None, {"cid": 4242, "cid_date": cid_date}]))
    ack = note(await recv(ws))
    assert ack[6] == "SUCCESS" and ack[4][13].startswith("PARTIALLY FILLED")
    closed = (await recv(ws))[2]
    assert closed[13] == "CANCELED was: PARTIALLY FILLED @ 90000.0(0.2)"
    await ws.close()


async def test_cancel_unknown_gives_error_stub(sim: BitfinexSimulator) -> None:
    ws, _ = await open_authed(sim)
    await ws.send(json.dumps([0, "oc", None, {"id": 1111}]))
    err = note(await recv(ws))
    assert err[1] == "oc-req" and err[6] == "ERROR" and err[7] == "Order not found."
    stub = err[4]
    assert len(stub) == 32 and stub[0] == 1111
    assert stub[18] == 0 and stub[19] == 0 and stub[23] == 0
    assert all(v is None for i, v in enumerate(stub) if i not in (0, 18, 19, 23))
    await ws.send(json.dumps([0, "oc", None, {"cid": 77, "cid_date": "2020-01-01"}]))
    err = note(await recv(ws))
    assert err[6] == "ERROR" and err[4][2] == 77 and len(err[4]) == 32
    await ws.close()


async def test_oc_multi_by_id_gid_and_all(sim: BitfinexSimulator) -> None:
    ws, snapshot = await open_authed(sim)
    a, b = snapshot[0][0], snapshot[-1][0]
    await ws.send(json.dumps([0, "oc_multi", None, {"id": [a, b, 999]}]))
    ack = note(await recv(ws))
    assert ack[1] == "oc_multi-req" and ack[6] == "SUCCESS"
    assert ack[7] == "Submitting 2 order cancellations."
    assert [o[0] for o in ack[4]] == [a, b]
    closed = {(await recv(ws))[2][0] for _ in range(2)}
    assert closed == {a, b}

    gid = 31337
    ids = [sim.place_order("tETHUSD", -0.4, 3500 + i, gid=gid) for i in range(3)]
    for _ in ids:
        assert (await recv(ws))[1] == "on"
    await ws.send(json.dumps([0, "oc_multi", None, {"gid": [gid]}]))
    ack = note(await recv(ws))
    assert ack[7] == "Submitting 3 order cancellations." and [o[1] for o in ack[4]] == [gid] * 3
    for _ in ids:
        frame = await recv(ws)
        assert frame[1] == "oc" and frame[2][13] == "CANCELED" and frame[2][1] == gid

    left = len(sim.open_orders())
    await ws.send(json.dumps([0, "oc_multi", None, {"all": 1}]))
    ack = note(await recv(ws))
    assert ack[7] == f"Submitting {left} order cancellations."
    for _ in range(left):
        assert (await recv(ws))[1] == "oc"
    assert sim.open_orders() == []
    await ws.send(json.dumps([0, "oc_multi", None, {"all": 1}]))
    assert note(await recv(ws))[7] == "Submitting 0 order cancellations."
    await ws.close()


async def test_ox_multi_processes_ops_in_order(sim: BitfinexSimulator) -> None:
    ws, snapshot = await open_authed(sim)
    a, b = snapshot[0][0], snapshot[1][0]
    await ws.send(json.dumps([0, "ox_multi", None,
                              [["oc", {"id": a}], ["oc_multi", {"id": [b]}]]]))
    first = note(await recv(ws))
    assert first[1] == "oc-req" and first[4][0] == a
    seen = [await recv(ws) for _ in range(3)]
    assert [f[1] for f in seen].count("oc") == 2
    assert note(next(f for f in seen if f[1] == "n"))[1] == "oc_multi-req"
    await ws.close()


async def test_two_sockets_both_get_account_events(sim: BitfinexSimulator) -> None:
    ws1, _ = await open_authed(sim)
    ws2, _ = await open_authed(sim)
    oid = sim.open_orders()[0][0]
    await ws1.send(json.dumps([0, "oc", None, {"id": oid}]))
    for ws in (ws1, ws2):
        assert note(await recv(ws))[6] == "SUCCESS"
        assert (await recv(ws))[1] == "oc"
    sim.broadcast_notifications = False
    oid = sim.open_orders()[0][0]
    await ws1.send(json.dumps([0, "oc", None, {"id": oid}]))
    assert note(await recv(ws1))[6] == "SUCCESS"
    assert (await recv(ws2))[1] == "oc"  # ws2 sees the close but not the ack
    await ws1.close()
    await ws2.close()


async def test_reply_delay_slows_the_ack(sim: BitfinexSimulator) -> None:
    ws, snapshot = await open_authed(sim)
    sim.reply_delay = 0.2
    started = time.monotonic()
    await ws.send(json.dumps([0, "oc", None, {"id": snapshot[0][0]}]))
    note(await recv(ws))
    assert time.monotonic() - started >= 0.2
    await ws.close()


# --- fills and flow -------------------------------------------------------------------------


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


# --- faults ---------------------------------------------------------------------------------


async def test_drop_after_ack_and_fill_on_cancel(sim: BitfinexSimulator) -> None:
    ws1, snapshot = await open_authed(sim)
    ws2, _ = await open_authed(sim)
    sim.drop_after_ack = True
    target = snapshot[0][0]
    await ws1.send(json.dumps([0, "oc", None, {"id": target}]))
    assert note(await recv(ws1))[6] == "SUCCESS"
    with pytest.raises(ConnectionClosed):
        await recv(ws1)
    assert ws1.close_code == 1006
    assert note(await recv(ws2))[6] == "SUCCESS"
    assert (await recv(ws2))[2][13] == "CANCELED"  # the cancel still happened at the venue
    assert sim.drop_after_ack is False

    sim.fill_on_cancel = True
    target = sim.open_orders()[0]
    await ws2.send(json.dumps([0, "oc", None, {"id": target[0]}]))
    assert note(await recv(ws2))[6] == "SUCCESS"
    closed = (await recv(ws2))[2]
    assert closed[0] == target[0] and closed[13].startswith("EXECUTED @ ") and closed[6] == 0
    assert sim.fill_on_cancel is False
    await ws2.close()


async def test_drop_connections_is_abrupt(sim: BitfinexSimulator) -> None:
    ws, _ = await open_authed(sim)
    await sim.drop_connections()
    with pytest.raises(ConnectionClosed):
        await recv(ws)
    assert ws.close_code == 1006


async def test_send_info_restart_then_close(sim: BitfinexSimulator) -> None:
    ws, _ = await open_authed(sim)
    await sim.send_info(20060)
    assert (await recv(ws))["code"] == 20060
    await sim.send_info(20051, close=True)
    assert await recv(ws) == {"event": "info", "code": 20051,
                              "msg": "Stopping. Please try to reconnect"}
    with pytest.raises(ConnectionClosed):
        await recv(ws)
    assert ws.close_code == 1012


async def test_send_raw_reaches_authenticated_sockets(sim: BitfinexSimulator) -> None:
    ws, _ = await open_authed(sim)
    await sim.send_raw("[0,\"on\",[1,2")
    assert await asyncio.wait_for(ws.recv(), T) == "[0,\"on\",[1,2"
    await ws.close()


async def test_connection_limit_answers_429(sim: BitfinexSimulator) -> None:
    sockets = [await open_ws(sim) for _ in range(5)]
    with pytest.raises(InvalidStatus) as refused:
        await connect(sim.ws_url, open_timeout=T)
    assert refused.value.response.status_code == 429
    sim.rate_limit_connections = False
    sockets.append(await open_ws(sim))
    assert sim.connections_opened == 6
    for ws in sockets:
        await ws.close()


async def test_dead_man_switch_cancels_everything(sim: BitfinexSimulator) -> None:
    watcher, _ = await open_authed(sim)
    ws, _ = await open_authed(sim, dms=4)
    count = len(sim.open_orders())
    await ws.close()
    for _ in range(count):
        assert (await recv(watcher))[2][13].startswith("CANCELED")
    assert sim.open_orders() == []
    await watcher.close()


# --- REST -----------------------------------------------------------------------------------


async def test_rest_read_orders(sim: BitfinexSimulator) -> None:
    resp = await rest(sim, "/v2/auth/r/orders", b"{}")
    assert resp.status_code == 200
    orders = resp.json()
    assert orders == sim.open_orders() and len(orders) == 8
    symbol = orders[0][3]
    by_symbol = (await rest(sim, f"/v2/auth/r/orders/{symbol}")).json()  # no body at all
    assert by_symbol and {o[3] for o in by_symbol} == {symbol}
    picked = (await rest(sim, "/v2/auth/r/orders", json.dumps({"id": [orders[1][0]]}).encode()))
    assert [o[0] for o in picked.json()] == [orders[1][0]]
    spaced = json.dumps({"id": [orders[1][0]]}, separators=(", ", ": ")).encode()
    assert (await rest(sim, "/v2/auth/r/orders", spaced)).status_code == 200
    assert sim.rest_calls[0] == "/v2/auth/r/orders"
    assert sim.rest_calls[1] == f"/v2/auth/r/orders/{symbol}"


async def test_rest_cancel_and_multi(sim: BitfinexSimulator) -> None:
    ws, snapshot = await open_authed(sim)
    target = snapshot[0]
    resp = await rest(sim, "/v2/auth/w/order/cancel", json.dumps({"id": target[0]}).encode())
    assert resp.status_code == 200
    answer = resp.json()
    assert answer[1] == "oc-req" and answer[6] == "SUCCESS" and answer[4][0] == target[0]
    assert answer[7] == f"Submitted for cancellation; waiting for confirmation (ID: {target[0]})."
    frame = await recv(ws)  # no `n` on the socket by default, only the close
    assert frame[:2] == [0, "oc"] and frame[2][0] == target[0]

    resp = await rest(sim, "/v2/auth/w/order/cancel", json.dumps({"id": target[0]}).encode())
    assert resp.status_code == 500 and resp.json() == ["error", 10001, "Order not found."]
    resp = await rest(sim, "/v2/auth/w/order/cancel", b'{"cid":5}')
    assert resp.status_code == 500 and resp.json()[:2] == ["error", 10020]
    assert resp.json()[2].endswith(": invalid")

    sim.rest_cancel_emits_n = True
    ids = [o[0] for o in snapshot[1:3]]
    resp = await rest(sim, "/v2/auth/w/order/cancel/multi", json.dumps({"id": ids}).encode())
    answer = resp.json()
    assert answer[1] == "oc_multi-req" and answer[7] == "Submitting 2 order cancellations."
    assert note(await recv(ws))[1] == "oc_multi-req"
    assert {(await recv(ws))[2][0] for _ in ids} == set(ids)
    resp = await rest(sim, "/v2/auth/w/order/cancel/multi", b'{"all":1}')
    assert resp.json()[7] == f"Submitting {len(snapshot) - 3} order cancellations."
    await ws.close()


async def test_rest_auth_errors_and_rate_limit(sim: BitfinexSimulator) -> None:
    path = "/v2/auth/r/orders"
    resp = await rest(sim, path, b"{}", signature="0" * 96)
    assert resp.status_code == 500 and resp.json() == ["error", 10100, "apikey: digest invalid"]
    resp = await rest(sim, path, b"{}", key="nobody")
    assert resp.status_code == 500 and resp.json() == ["error", 10100, "apikey: invalid"]
    # signing a different serialisation than the bytes sent fails
    n = nonce()
    sig = hmac384(SECRET, f"/api{path}{n}" + '{"id": [1]}')
    resp = await rest(sim, path, b'{"id":[1]}', n=n, signature=sig)
    assert resp.json() == ["error", 10100, "apikey: digest invalid"]
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        assert (await client.get(path)).status_code == 405

    sim.rest_rate_limit = 3
    statuses = [(await rest(sim, "/v2/auth/w/order/cancel/multi", b'{"id":[1]}')).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await rest(sim, "/v2/auth/w/order/cancel/multi", b'{"id":[1]}')
    assert limited.status_code == 429 and limited.json() == ["error", 11010, "ratelimit: error"]


# --- registry and entry point ---------------------------------------------------------------


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
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[2],
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
