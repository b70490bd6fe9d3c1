"""Small helpers shared by the tests.

``until`` polls a condition without ever re-entering the event loop (safe inside qasync too);
``running_sim`` starts a loopback simulator for the length of an ``async with`` block;
``fixture_bytes``/``fixture_text``/``fixture_json`` read the recorded frames under
``tests/fixtures/<venue>/``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from blotter.sim.bitfinex import BitfinexSimulator

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_bytes(venue: str, name: str) -> bytes:
    """The recorded frame or body ``tests/fixtures/<venue>/<name>``, as the wire carried it."""
    return (FIXTURES / venue / name).read_bytes()


def fixture_text(venue: str, name: str) -> str:
    return fixture_bytes(venue, name).decode("utf-8")


def fixture_json(venue: str, name: str) -> Any:
    return json.loads(fixture_bytes(venue, name))


def fixture_names(venue: str, pattern: str = "*") -> list[str]:
    """The names of ``venue``'s fixtures matching ``pattern``, sorted."""
    return sorted(p.name for p in (FIXTURES / venue).glob(pattern))


async def until(
    predicate: Callable[[], object | Awaitable[object]],
    timeout: float = 5.0,
    interval: float = 0.01,
    message: str | None = None,
) -> Any:
    """Wait until ``predicate()`` is truthy (polled every 10 ms); return its value.

    Fails the test with ``message`` (or the predicate's source line) after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            what = message or _describe(predicate)
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


def _describe(predicate: Callable[..., object]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


@asynccontextmanager
async def running_sim(**options: Any) -> AsyncIterator[BitfinexSimulator]:
    """``async with running_sim(initial_orders=5, seed=1) as sim:`` — started, then stopped.

    Reconnect-heavy tests get ``rate_limit_connections = False`` unless they pass it.
    """
    from blotter.sim.bitfinex import BitfinexSimulator

    rate_limit = options.pop("rate_limit_connections", False)
    sim = BitfinexSimulator(**options)
    sim.rate_limit_connections = rate_limit
    await asyncio.wait_for(sim.start(), 10.0)
    try:
        yield sim
    finally:
        await asyncio.wait_for(sim.stop(), 10.0)
