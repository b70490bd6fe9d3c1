"""The account hub's socket against the loopback broker: a refused JWT, the handshake, every frame
counted, and a half-open hub dropped without waiting for an answer it will never give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from blotter.core.order import AccountKey
from blotter.sim.b2trader import B2traderSimulator
from blotter.venues.b2trader.hub import HubSocket
from blotter.venues.b2trader.requests import hub_url
from blotter.venues.b2trader.signalr import HandshakeResponse
from blotter.venues.b2trader.stream import OrderList, StreamParser
from blotter.venues.base import SessionEnd

pytestmark = pytest.mark.timeout(20)

LOGIN = AccountKey("b2trader", "acme")


@pytest.fixture
async def sim() -> AsyncIterator[B2traderSimulator]:
    sim = B2traderSimulator(seed=3, initial_orders=2)
    await asyncio.wait_for(sim.start(), 10)
    yield sim
    await asyncio.wait_for(sim.stop(), 10)


async def open_hub(
    sim: B2traderSimulator, token: str, refused: list[bool], frames: list[int] | None = None
) -> HubSocket:
    return await HubSocket.open(
        hub_url(sim.ws_url, token), who=LOGIN, redact=lambda text: text,
        unauthorized=lambda: refused.append(True),
        on_frame=(lambda: frames.append(1)) if frames is not None else lambda: None,
    )


async def test_a_refused_jwt_asks_for_a_fresh_one(sim: B2traderSimulator) -> None:
    refused: list[bool] = []
    with pytest.raises(SessionEnd) as caught:
        await open_hub(sim, "not-a-jwt", refused)
    assert caught.value.reason == "the account hub refused the connection: HTTP 401"
    assert refused == [True]
    sim.refuse_upgrade = 503
    with pytest.raises(SessionEnd) as caught:
        await open_hub(sim, sim.issue_token(), refused)
    assert caught.value.reason == "the account hub refused the connection: HTTP 503"
    assert refused == [True] and sim.upgrades_refused == 2


async def test_handshake_frames_counted_and_a_half_open_hub_closed_in_time(
    sim: B2traderSimulator,
) -> None:
    refused: list[bool] = []
    frames: list[int] = []
    hub = await open_hub(sim, sim.issue_token(), refused, frames)
    parser = StreamParser(LOGIN)
    parser.use_accounts({sim.account_ids[0]: AccountKey("b2trader", "acme/Acme Main")})
    parser.start()
    try:
        await hub.handshake(parser)
        assert parser.handshake == HandshakeResponse()
        await hub.send(parser.subscribe(sim.account_ids[0]))
        parser.feed(await hub.recv())
        (first,) = [parser.next_event()]
        assert isinstance(first, OrderList) and first.first
        assert len(frames) == 2  # the handshake answer and the list: every frame counts
        # Half-open: nothing delivered, no close answered. Closing must not wait for it.
        sim.half_open()
        await asyncio.wait_for(hub.close(), 5)
        assert hub.ws.transport.is_closing()
    finally:
        await hub.close()
    assert refused == []


async def test_a_hub_that_never_answers_the_handshake_is_given_up_on(
    sim: B2traderSimulator,
) -> None:
    sim.silent_socket = True
    hub = await open_hub(sim, sim.issue_token(), [])
    try:
        with pytest.raises(SessionEnd, match="no handshake answer from the account hub"):
            await asyncio.wait_for(hub.handshake(StreamParser(LOGIN), timeout=0.3), 5)
    finally:
        hub.abort()
        await hub.close()
