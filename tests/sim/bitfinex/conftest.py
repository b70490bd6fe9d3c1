"""The simulated venue the Bitfinex simulator tests talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from blotter.sim.bitfinex import BitfinexSimulator
from tests.sim.bitfinex.wire import KEY, SECRET


@pytest.fixture
async def sim() -> AsyncIterator[BitfinexSimulator]:
    s = BitfinexSimulator(api_key=KEY, api_secret=SECRET, initial_orders=8, seed=7,
                          heartbeat_interval=30.0)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()
