"""The running Bybit simulator the tests of this folder talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from blotter.sim.bybit import BybitSimulator
from tests.sim.bybit.raw_client import KEY, SECRET


@pytest.fixture
async def sim() -> AsyncIterator[BybitSimulator]:
    s = BybitSimulator(api_key=KEY, api_secret=SECRET, initial_orders=60, seed=11)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()
