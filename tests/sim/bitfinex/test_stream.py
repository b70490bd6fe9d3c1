"""The simulated websocket `/ws/2` over a real loopback socket: connection, auth, filters,
cancel inputs and their answers, faults (bitfinex.md §1–§4)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from blotter.sim.bitfinex import BitfinexSimulator
from tests.sim.bitfinex.wire import (
    KEY,
    SECRET,
    T,
    assert_order,
    auth_frame,
    hmac384,
    nonce,
    note,
    open_authed,
    open_ws,
    recv,
    rest,
)

pytestmark = pytest.mark.timeout(10)


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


async def test_a_silent_socket_delivers_nothing_and_never_closes(sim: BitfinexSimulator) -> None:
    ws, snapshot = await open_authed(sim)
    await ws.send(json.dumps({"event": "ping", "cid": 1}))
    assert await recv(ws) == {"event": "pong", "ts": pytest.approx(time.time() * 1000, abs=5000),
                              "cid": 1}
    assert await asyncio.wait_for(await ws.ping(), T) is not None  # protocol pings too
    sim.silent_socket = True
    await ws.send(json.dumps({"event": "ping", "cid": 2}))
    sim.fill(snapshot[0][0])  # its oc is lost with the silence
    await sim.send_info(20051, close=True)  # nor does a close arrive
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.3)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(await ws.ping(), 0.3)
    assert sim.pings_received == 2
    await ws.close()  # nor is our close answered
    assert ws.close_code == 1006
    sim.silent_socket = False
    fresh, _ = await open_authed(sim)  # a new socket talks again
    await fresh.send(json.dumps({"event": "ping", "cid": 3}))
    assert (await recv(fresh))["cid"] == 3
    await fresh.close()
    assert fresh.close_code == 1000


async def test_a_refused_upgrade_answers_its_status(sim: BitfinexSimulator) -> None:
    sim.refuse_upgrade = 503
    with pytest.raises(InvalidStatus) as refused:
        await connect(sim.ws_url, open_timeout=T)
    assert refused.value.response.status_code == 503
    sim.refuse_upgrade = None
    ws = await open_ws(sim)
    await ws.close()


async def test_lose_next_close_drops_one_oc_but_the_venue_closed_it(
    sim: BitfinexSimulator,
) -> None:
    ws, snapshot = await open_authed(sim)
    first, second = snapshot[0][0], snapshot[1][0]
    sim.lose_next_close = True
    sim.fill(first)
    sim.cancel_external(second)
    frame = await recv(ws)
    assert frame[:2] == [0, "oc"] and frame[2][0] == second  # the first close never came
    assert sim.order(first) is None and sim.lose_next_close is False
    await ws.close()


async def test_garble_next_sends_one_order_frame_with_a_text_update_time(
    sim: BitfinexSimulator,
) -> None:
    ws, snapshot = await open_authed(sim)
    sim.garble_next = "oc"
    sim.cancel_external(snapshot[0][0])
    sim.cancel_external(snapshot[1][0])
    garbled, plain = (await recv(ws))[2], (await recv(ws))[2]
    assert isinstance(garbled[5], str) and int(garbled[5]) > 0
    assert garbled[13].startswith("CANCELED")
    assert isinstance(plain[5], int) and sim.garble_next is None
    await ws.close()
