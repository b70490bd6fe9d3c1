"""Loopback simulators of the venues, for tests, demo mode and `python -m blotter.sim`.

Each simulator class takes `initial_orders`, `flow_rate` and `seed` keywords, has
`async start(host, port)` / `async stop()` and `describe()` (venue, URLs, credentials).
A new venue joins by adding its class to SIMULATORS.
"""

from __future__ import annotations

from typing import Any, Protocol

from ._loopback import Fault
from .b2trader import B2traderSimulator
from .bitfinex import BitfinexSimulator
from .bybit import BybitSimulator


class Simulator(Protocol):
    """What the demo, the tests and ``python -m blotter.sim`` use of a simulator."""

    VENUE: str

    @property
    def rest_url(self) -> str: ...
    @property
    def ws_url(self) -> str: ...
    @property
    def credentials(self) -> dict[str, str]: ...

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None: ...
    async def stop(self) -> None: ...
    def describe(self) -> dict[str, Any]: ...
    def faults(self, name: str) -> list[Fault]: ...


SIMULATORS: dict[str, type[Any]] = {
    "bitfinex": BitfinexSimulator,
    "bybit": BybitSimulator,
    "b2trader": B2traderSimulator,
}


async def start_all(
    venues: list[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **kwargs: Any,
) -> dict[str, Simulator]:
    """Start one simulator per venue (all known venues by default) and return them by name.

    With `port` 0 each gets a free port; otherwise the venues take `port`, `port + 1`, ...
    in the order given. Keyword arguments (initial_orders, flow_rate, seed, ...) go to every
    simulator. If one fails to start, those already started are stopped again.
    """
    names = list(SIMULATORS) if not venues else list(venues)
    unknown = [n for n in names if n not in SIMULATORS]
    if unknown:
        raise ValueError(f"unknown venue(s): {', '.join(unknown)}; known: {', '.join(SIMULATORS)}")
    started: dict[str, Simulator] = {}
    try:
        for offset, name in enumerate(names):
            sim = SIMULATORS[name](**kwargs)
            await sim.start(host=host, port=port + offset if port else 0)
            started[name] = sim
    except BaseException:
        await stop_all(started)
        raise
    return started


async def stop_all(sims: dict[str, Simulator]) -> None:
    for sim in sims.values():
        await sim.stop()


__all__ = [
    "SIMULATORS", "B2traderSimulator", "BitfinexSimulator", "BybitSimulator", "Fault",
    "Simulator",
    "start_all", "stop_all",
]
