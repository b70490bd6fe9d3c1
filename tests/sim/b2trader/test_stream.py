"""The simulated broker's account hub against the notes: the upgrade, the handshake, negotiate,
the keep-alive, the OpenOrders stream and its faults (A-6 .. A-14).

A-numbers refer to the notes' §6 simulator decisions.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from blotter.sim.b2trader import WS_PATH, B2traderSimulator
from tests.helpers import until
from tests.sim.b2trader.wire import RS, T, assert_stream_order, delete, exchange, open_hub, started

pytestmark = pytest.mark.timeout(10)


async def test_upgrade_needs_a_valid_token(sim: B2traderSimulator) -> None:
    for url in (sim.ws_url, f"{sim.ws_url}?access_token=not.a.jwt"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, open_timeout=T)
        assert refused.value.response.status_code == 401
    # the .NET client's way: the bearer header instead of the query
    jwt = await exchange(sim)
    async with connect(sim.ws_url, additional_headers={"Authorization": f"Bearer {jwt}"},
                       open_timeout=T) as ws:
        await ws.send('{"protocol":"json","version":1}' + RS)
        assert await asyncio.wait_for(ws.recv(), T) == "{}" + RS


async def test_handshake_then_first_item_is_the_full_list(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    hub = await open_hub(sim, jwt)
    assert hub.frames == ["{}" + RS]  # no type, separator included
    main, margin = sim.account_ids
    items = await hub.subscribe(main)
    assert items == sim.open_orders(main) and items
    assert {o["orderId"] for o in items}.isdisjoint(o["orderId"] for o in sim.open_orders(margin))
    for o in items:
        assert_stream_order(o)
    assert any(o["status"] == "Working" for o in sim.open_orders())
    # P-7: both 3- and 7-digit fractions occur
    digits = {len(o["createdAt"].split(".")[1]) - 1 for o in sim.open_orders()}
    assert digits == {3, 7}
    # an account with no open orders: the first item is []
    for o in sim.open_orders(margin):
        sim.cancel_external(o["orderId"])
    assert await hub.subscribe(margin, "1") == []
    await hub.ws.close()


async def test_handshake_errors_and_timeout() -> None:
    async with started(handshake_timeout=0.3) as s:
        jwt = await exchange(s)
        async with connect(f"{s.ws_url}?access_token={jwt}", open_timeout=T) as ws:
            await ws.send('{"protocol":"messagepack","version":1}' + RS)
            reply = await asyncio.wait_for(ws.recv(), T)
            assert reply == '{"error":"Requested protocol \'messagepack\' is not available."}' + RS
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), T)
        # P-15: a handshake without the separator is never answered; closed at the timeout
        async with connect(f"{s.ws_url}?access_token={jwt}", open_timeout=T) as ws:
            await ws.send('{"protocol":"json","version":1}')
            started_at = time.monotonic()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), T)
            assert 0.2 < time.monotonic() - started_at < 1.0


async def test_negotiate_then_connect_with_the_connection_token(sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        r = await client.post(f"{WS_PATH}/negotiate?negotiateVersion=1&access_token={jwt}")
        assert r.status_code == 200
        body = r.json()
        assert body["negotiateVersion"] == 1 and body["connectionId"]
        assert body["availableTransports"] == [{"transport": "WebSockets",
                                                "transferFormats": ["Text", "Binary"]}]
        assert (await client.post(f"{WS_PATH}/negotiate?negotiateVersion=1")).status_code == 401
    url = f"{sim.ws_url}?id={body['connectionToken']}&access_token={jwt}"
    async with connect(url, open_timeout=T) as ws:
        await ws.send('{"protocol":"json","version":1}' + RS)
        assert await asyncio.wait_for(ws.recv(), T) == "{}" + RS
    with pytest.raises(InvalidStatus) as used:  # a connection token is good once
        await connect(url, open_timeout=T)
    assert used.value.response.status_code == 404


async def test_server_pings_and_drops_a_silent_client() -> None:
    async with started(ping_interval=0.1, client_timeout=0.4) as s:
        hub = await open_hub(s, await exchange(s))
        # talking keeps the connection; the server pings when it has sent nothing for 0.1 s
        pings = 0
        for _ in range(5):
            msg = await hub.recv(skip_pings=False)
            assert msg == {"type": 6}
            pings += 1
            await hub.send({"type": 6})
        assert pings == 5
        # silence: the server closes after client_timeout
        closing = await hub.recv(T, skip_pings=True)
        assert closing["type"] == 7 and "timeout" in closing["error"]
        assert await hub.closed()


async def test_expire_tokens_closes_the_stream_with_allow_reconnect(
        sim: B2traderSimulator) -> None:
    jwt = await exchange(sim)
    hub = await open_hub(sim, jwt)
    await hub.subscribe(sim.account_ids[0])
    sim.expire_tokens()
    close = await hub.recv()
    assert close["type"] == 7 and close["allowReconnect"] is True and close["error"]
    assert await hub.closed()
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        old = await client.get("/frontoffice/api/v3/accounts",
                               headers={"Authorization": f"Bearer {jwt}"})
        assert old.status_code == 401
        fresh = await exchange(sim)
        new = await client.get("/frontoffice/api/v3/accounts",
                               headers={"Authorization": f"Bearer {fresh}"})
        assert new.status_code == 200


async def test_token_expiry_mid_stream_closes() -> None:
    async with started(initial_orders=3, token_lifetime=0.4) as s:
        hub = await open_hub(s, await exchange(s))
        await hub.subscribe(s.account_ids[0])
        close = await hub.recv()
        assert close == {"type": 7, "error": close["error"], "allowReconnect": True}
        assert "expired" in close["error"]
        assert await hub.closed()


async def test_split_records_arrive_in_two_frames(sim: B2traderSimulator) -> None:
    sim.split_records = True
    hub = await open_hub(sim, await exchange(sim))
    assert hub.frames == ["{", "}" + RS]
    items = await hub.subscribe(sim.account_ids[0])
    assert items == sim.open_orders(sim.account_ids[0])
    assert len(hub.frames) == 4 and not hub.frames[2].endswith(RS)


async def test_batched_records_share_a_frame(sim: B2traderSimulator) -> None:
    sim.batch_records = True
    hub = await open_hub(sim, await exchange(sim))
    main, margin = sim.account_ids
    await hub.send(*({"arguments": [a], "invocationId": str(n), "target": "OpenOrders",
                      "type": 4} for n, a in enumerate((main, margin))))
    first, second = await hub.recv(), await hub.recv()
    assert (first["invocationId"], second["invocationId"]) == ("0", "1")
    assert first["item"] == sim.open_orders(main) and second["item"] == sim.open_orders(margin)
    assert len(hub.frames) == 2 and hub.frames[1].count(RS) == 2


async def test_bad_invocations(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    main = sim.account_ids[0]
    await hub.send({"type": 4, "invocationId": "0", "target": "OpenOrders",
                    "arguments": ["0" * 24]})
    unknown = await hub.recv()
    assert unknown["type"] == 3 and unknown["invocationId"] == "0" and "0" * 24 in unknown["error"]
    await hub.send({"type": 4, "invocationId": "1", "target": "OpenOrders", "arguments": []})
    no_args = await hub.recv()
    assert no_args["type"] == 3 and "argument" in no_args["error"]
    await hub.send({"type": 4, "invocationId": "2", "target": "Nope", "arguments": [main]})
    assert (await hub.recv())["error"] == "Unknown hub method 'Nope'"
    # ids need not increase by one (A-12: a warning only) ...
    await hub.subscribe(main, "7")
    assert sim.warnings
    # ... but one in use again is a protocol error: Close with error, then the socket closes
    await hub.send({"type": 4, "invocationId": "7", "target": "OpenOrders", "arguments": [main]})
    close = await hub.recv()
    assert close["type"] == 7 and "already in use" in close["error"]
    assert "allowReconnect" not in close
    assert await hub.closed()


async def test_stream_faults_drop_duplicate_raw_and_close(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    main = sim.account_ids[0]
    sim.drop_items = 1
    await hub.send({"type": 4, "invocationId": "0", "target": "openOrders", "arguments": [main]})
    await until(lambda: any(m["type"] == 4 for m in sim.hub_messages))
    oid = sim.add_order(main)  # the first item was dropped; this change's item arrives
    first = await hub.recv()
    assert first["item"] == sim.open_orders(main) and oid in {o["orderId"] for o in first["item"]}
    sim.duplicate_items = 1
    sim.cancel_external(oid, "Admin")
    assert await hub.recv() == await hub.recv()
    assert sim.order(oid)["reason"] == "Admin"  # type: ignore[index]
    await sim.send_raw('{"type":6,"headers":{"x":"y"}}' + RS)
    assert await hub.recv(skip_pings=False) == {"type": 6, "headers": {"x": "y"}}
    sim.close_streams()
    assert await hub.recv() == {"type": 7, "error": "The server is closing the connection.",
                                "allowReconnect": True}
    assert await hub.closed()
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=T) as client:
        debug = (await client.get("/_sim/orders", params={"accountId": main})).json()
    assert debug == sim.open_orders(main)


async def test_delta_mode_sends_changes_only() -> None:
    async with started(initial_orders=6, seed=3, delta_mode=True) as s:
        jwt = await exchange(s)
        hub = await open_hub(s, jwt)
        main = s.account_ids[0]
        first = await hub.subscribe(main)
        assert first == s.open_orders(main)  # the first item is still the full list
        oid = s.add_order(main, "spot.eth_usdt", "Sell", "1.5", "3500.10")
        added = await hub.recv()
        assert [o["orderId"] for o in added["item"]] == [oid]
        assert added["item"][0]["requestedPrice"] == "3500.1"
        assert (await delete(s, oid, jwt, main)).status_code == 200
        gone = await hub.recv()
        assert [(o["orderId"], o["status"]) for o in gone["item"]] == [(oid, "Cancelled")]


async def test_drop_connections_cuts_the_socket(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    await hub.subscribe(sim.account_ids[0])
    await sim.drop_connections()
    assert await hub.closed()
    assert hub.ws.close_code == 1006
    # and the venue takes new connections
    hub2 = await open_hub(sim, await exchange(sim))
    await hub2.subscribe(sim.account_ids[0])
    await hub2.ws.close()


async def test_trust_faults_refused_upgrade_bad_orders_silence_and_half_open(
    sim: B2traderSimulator,
) -> None:
    jwt = await exchange(sim)
    sim.refuse_upgrade = 503
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{sim.ws_url}?access_token={jwt}", open_timeout=T)
    assert refused.value.response.status_code == 503 and sim.upgrades_refused == 1
    sim.refuse_upgrade = 0
    hub = await open_hub(sim, jwt)
    main = sim.account_ids[0]
    await hub.subscribe(main)
    sim.bad_orders = 1
    oid = sim.add_order(main)
    listed = (await hub.recv())["item"]
    assert listed[:-1] == sim.open_orders(main) and oid in {o["orderId"] for o in listed}
    assert listed[-1]["side"] == "Sideways" and listed[-1]["orderId"] == sim.bad_order["orderId"]
    sim.add_order(main)
    assert (await hub.recv())["item"] == sim.open_orders(main)  # one item only
    # silent: nothing is sent, not even a ping; the hub still reads
    sim.ping_interval = 0.1
    sim.silent_socket = True
    sim.add_order(main)
    with pytest.raises(TimeoutError):
        await hub.recv(timeout=0.4, skip_pings=False)
    sim.silent_socket = False
    assert (await hub.recv(skip_pings=False))["type"] == 6  # pings again when idle
    # half-open: nothing sent, nothing read, no close; a new connection works
    sim.half_open()
    sim.add_order(main)
    with pytest.raises(TimeoutError):
        await hub.recv(timeout=0.4, skip_pings=False)
    hub.ws.transport.abort()
    fresh = await open_hub(sim, jwt)
    assert await fresh.subscribe(main) == sim.open_orders(main)
    await fresh.ws.close()
