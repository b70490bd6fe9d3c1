"""The running simulator most B2TRADER simulator tests start from."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from blotter.sim.b2trader import B2traderSimulator
from tests.sim.b2trader.wire import started


@pytest.fixture
async def sim() -> AsyncIterator[B2traderSimulator]:
    async with started(initial_orders=12, seed=7) as s:
        yield s
