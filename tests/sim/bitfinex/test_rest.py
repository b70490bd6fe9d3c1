"""The simulated REST endpoints (bitfinex.md §5): reads, cancels, signature and nonce errors,
the rate limit."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from blotter.sim.bitfinex import BitfinexSimulator
from tests.sim.bitfinex.wire import (
    SECRET,
    T,
    hmac384,
    nonce,
    note,
    open_authed,
    recv,
    rest,
)

pytestmark = pytest.mark.timeout(10)


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


async def test_order_history_names_how_closed_orders_ended(sim: BitfinexSimulator) -> None:
    filled, cancelled, still_open = (o[0] for o in sim.open_orders()[:3])
    sim.fill(filled)
    sim.cancel_external(cancelled)
    path = "/v2/auth/r/orders/hist"
    body = json.dumps({"id": [filled, cancelled, still_open]}).encode()
    closed = (await rest(sim, path, body)).json()
    assert [a[0] for a in closed] == [cancelled, filled]  # newest first; open ones are not there
    assert closed[1][13].startswith("EXECUTED @ ") and closed[1][6] == 0
    assert closed[0][13].startswith("CANCELED")
    symbol = closed[0][3]
    by_symbol = (await rest(sim, f"/v2/auth/r/orders/{symbol}/hist", b"{}")).json()
    assert {a[3] for a in by_symbol} == {symbol}
    assert [a[0] for a in (await rest(sim, path, b'{"limit":1}')).json()] == [cancelled]
    assert (await rest(sim, path, b'{"limit":0}')).json() == ["error", 10020, "limit: invalid"]
    sim.keep_history = False
    assert (await rest(sim, path, body)).json() == []


async def test_rest_failure_answers_every_call_unprocessed(sim: BitfinexSimulator) -> None:
    target = sim.open_orders()[0][0]
    body = json.dumps({"id": target}).encode()
    for status, answer in ((429, ["error", 11010, "ratelimit: error"]),
                           (500, ["error", 10000, "internal error"])):
        sim.rest_failure = status
        for path in ("/v2/auth/w/order/cancel", "/v2/auth/r/orders"):
            resp = await rest(sim, path, body)
            assert (resp.status_code, resp.json()) == (status, answer)
    sim.rest_failure = 503
    resp = await rest(sim, "/v2/auth/r/orders", b"{}")
    assert resp.status_code == 503 and resp.json()["error"] == "temporarily_unavailable"
    assert sim.order(target) is not None  # nothing was processed
    sim.rest_failure = None
    assert (await rest(sim, "/v2/auth/w/order/cancel", body)).status_code == 200


async def test_a_slow_read_answers_as_the_account_was_when_it_arrived(
    sim: BitfinexSimulator,
) -> None:
    sim.reply_delay = 0.3
    before = sim.open_orders()
    reading = asyncio.ensure_future(rest(sim, "/v2/auth/r/orders", b"{}"))
    while "/v2/auth/r/orders" not in sim.rest_calls:
        await asyncio.sleep(0.01)
    sim.cancel_external(before[0][0])  # while the answer is on its way
    resp = await asyncio.wait_for(reading, T)
    assert resp.json() == before
    assert sim.open_orders() == before[1:]
