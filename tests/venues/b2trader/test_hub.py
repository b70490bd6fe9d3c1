"""The account hub's socket against the loopback broker: a refused JWT, the handshake, the
keep-alive Pings, and a hub that goes silent taken for dead in time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from blotter.core.order import AccountKey
from blotter.sim.b2trader import B2traderSimulator
from blotter.venues.b2trader.hub import HubSocket
from blotter.venues.b2trader.requests import hub_url
from blotter.venues.b2trader.signalr import HandshakeResponse
from blotter.venues.b2trader.stream import ListWaiting, StreamParser
from blotter.venues.base import SessionEnd
from tests.helpers import until

pytestmark = pytest.mark.timeout(20)

LOGIN = AccountKey("b2trader", "acme")


@pytest.fixture
async def sim() -> AsyncIterator[B2traderSimulator]:
    sim = B2traderSimulator(seed=3, initial_orders=2)
    await asyncio.wait_for(sim.start(), 10)
    yield sim
    await asyncio.wait_for(sim.stop(), 10)


async def open_hub(sim: B2traderSimulator, token: str, refused: list[bool]) -> HubSocket:
    return await HubSocket.open(
        hub_url(sim.ws_url, token), keepalive=0.1, server_timeout=0.5, who=LOGIN,
        redact=lambda text: text, unauthorized=lambda: refused.append(True),
    )


async def test_a_refused_jwt_asks_for_a_fresh_one(sim: B2traderSimulator) -> None:
    refused: list[bool] = []
    with pytest.raises(SessionEnd) as caught:
        await open_hub(sim, "not-a-jwt", refused)
    assert caught.value.reason == "the account hub refused the connection: HTTP 401"
    assert refused == [True]


async def test_handshake_pings_and_a_silent_hub(sim: B2traderSimulator) -> None:
    refused: list[bool] = []
    hub = await open_hub(sim, sim.issue_token(), refused)
    parser = StreamParser(LOGIN)
    parser.use_accounts({sim.account_ids[0]: AccountKey("b2trader", "acme/Acme Main")})
    parser.start()
    try:
        await hub.handshake(parser)
        assert parser.handshake == HandshakeResponse()
        await hub.send(parser.subscribe(sim.account_ids[0]))
        hub.start_keep_alive()
        parser.feed(await hub.recv())
        assert parser.next_event() == ListWaiting(sim.account_ids[0])
        # Nothing to send for a while: the keep-alive pings, so the hub keeps the connection.
        await until(lambda: any(m.get("type") == 6 for m in sim.hub_messages), timeout=2)
        sim.silent_socket = True
        with pytest.raises(SessionEnd) as caught:
            while True:
                await asyncio.wait_for(hub.recv(), 3)
        assert caught.value.reason == "no message from the account hub in 0.5 s"
    finally:
        await hub.close()
    assert refused == []
