"""Each venue client against a venue that trades, misbehaves and is cancelled at all at once.

For a few seconds the simulated venue keeps placing, filling and cancelling orders; meanwhile
its connections drop, its answers come late, some of its messages are lost, doubled, cut or
garbled (each venue's own faults), and the trader cancels rows one at a time, several at once,
an instrument (or one side of it) and a group. Then the venue calms down and the trader asks
for a check. What must hold:

* the rows equal the venue's open orders, exactly (no row the venue closed, none missing);
* every cancel receipt says what the venue did to that order: "cancelled" only for an order the
  venue cancelled, "filled" only for one it filled, gone only for one that is not open.

Seeded: a failure names its seed, and runs again the same.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Final

import pytest

from blotter.core.cancel import CancelResult, CancelScope, Outcome, plan_cancels
from blotter.core.notices import VenueState
from blotter.core.order import Side
from tests.helpers import until
from tests.venues import harness
from tests.venues.b2trader import env as b2trader_env
from tests.venues.bitfinex import test_client as bitfinex_env
from tests.venues.bybit import env as bybit_env

pytestmark = pytest.mark.timeout(60)

SECONDS = 2.5


# -- each venue: how to start it, its faults, its open orders, and what became of an order --
def open_ids(sim: Any) -> set[str]:
    """The ids of the venue's open orders (every account it holds)."""
    found = set()
    for o in sim.open_orders():
        found.add(str(o[0]) if isinstance(o, list) else o["orderId"])
    return found


def bitfinex_final(sim: Any, order_id: str) -> str | None:
    if sim.order(int(order_id)) is not None:
        return "open"
    final = sim._book.history.get(int(order_id))
    if final is None:
        return None
    return "filled" if str(final[13]).startswith("EXECUTED") else "cancelled"


def word_final(found: dict[str, Any] | None, field: str, filled: str,
               cancelled: tuple[str, ...]) -> str | None:
    """What became of an order the venue describes as an object: its status ``field`` read
    as "filled", "cancelled" or "open" (None: the venue no longer knows it)."""
    if found is None:
        return None
    status = found[field]
    if status == filled:
        return "filled"
    return "cancelled" if status in cancelled else "open"


def bybit_final(sim: Any, order_id: str) -> str | None:
    return word_final(sim.order(order_id), "orderStatus", "Filled",
                      ("Cancelled", "PartiallyFilledCanceled", "Deactivated", "Rejected"))


def b2trader_final(sim: Any, order_id: str) -> str | None:
    return word_final(sim.order(order_id), "status", "Completed",
                      ("Cancelled", "Expired", "Rejected"))


# Each venue's fault switches: name -> (its calm value, a misbehaving value for the storm).
Switches = dict[str, tuple[Any, Callable[[random.Random], Any]]]
DELAY: Final = ("reply_delay", (0.0, lambda rng: rng.choice([0.0, 0.2])))
BITFINEX_FAULTS: Final[Switches] = dict([
    ("drop_after_ack", (False, lambda rng: True)),
    ("fill_on_cancel", (False, lambda rng: True)),
    ("rest_failure", (None, lambda rng: rng.choice([None, None, 429, 500]))),  # every REST call
    DELAY,
])
BYBIT_FAULTS: Final[Switches] = dict([
    ("lose_next_close", (False, lambda rng: True)),
    ("garble_next_push", (False, lambda rng: True)),
    ("cut_pushes", (0, lambda rng: 1)),
    ("force_http_status", ([], lambda rng: [rng.choice([429, 500, 503])])),
    ("fill_on_cancel", (False, lambda rng: True)),
    ("force_rate_limit", (0, lambda rng: 1)),
    ("force_server_error", (0, lambda rng: 1)),
    DELAY,
])
B2TRADER_FAULTS: Final[Switches] = dict([
    ("drop_items", (0, lambda rng: 1)),
    ("duplicate_items", (0, lambda rng: 1)),
    ("bad_orders", (0, lambda rng: 1)),
    ("cut_requests", (0, lambda rng: 1)),
    ("fill_on_cancel", (False, lambda rng: True)),
    ("split_records", (False, lambda rng: rng.random() < 0.5)),
    ("batch_records", (False, lambda rng: rng.random() < 0.5)),
    DELAY,
])


# The demo menu's faults a storm leaves out: those the client meets only after its silence
# bound (seconds of nothing) or that leave the account refused until the trader acts.
LONG_FAULTS: Final = ("Silent", "Half-open", "Refuse", "Clock")


def menu_faults(sim: Any) -> list[Any]:
    """The venue's own faults, as its demo menu offers them, but the long ones."""
    return [f for f in sim.faults("storm") if not f.title.startswith(LONG_FAULTS)]


async def misbehave(sim: Any, rng: random.Random, switches: Switches) -> None:
    """Turn one of the venue's fault switches, or do one of its menu's faults, at random."""
    faults = menu_faults(sim)
    pick = rng.randrange(len(switches) + len(faults))
    if pick < len(switches):
        name = sorted(switches)[pick]
        setattr(sim, name, switches[name][1](rng))
        return
    done = faults[pick - len(switches)].act()
    if asyncio.iscoroutine(done):
        await done


async def calm(sim: Any, switches: Switches) -> None:
    """Every fault switch of the venue back to its calm value, every menu fault undone."""
    for name, (value, _) in switches.items():
        setattr(sim, name, value)
    for fault in menu_faults(sim):
        if fault.on is not None and fault.on():
            done = fault.act()
            if asyncio.iscoroutine(done):
                await done


Venue = tuple[
    Callable[[], AbstractAsyncContextManager[Any]], Switches, Callable[[Any, str], "str | None"]
]


def venues(tmp_path: Path) -> dict[str, Venue]:
    return {
        "bitfinex": (lambda: bitfinex_env.connected(tmp_path, {"initial_orders": 40}),
                     BITFINEX_FAULTS, bitfinex_final),
        "bybit": (lambda: bybit_env.connected({"initial_orders": 40}), BYBIT_FAULTS,
                  bybit_final),
        "b2trader": (lambda: b2trader_env.connected({"initial_orders": 40}), B2TRADER_FAULTS,
                     b2trader_final),
    }


# -- the trader and the venue, at once ----------------------------------------------------------
async def storm(env: Any, rng: random.Random, switches: Switches,
                results: list[CancelResult]) -> None:
    sim = env.sim
    stop = asyncio.Event()

    async def trade() -> None:
        while not stop.is_set():
            sim.flow_step()
            await asyncio.sleep(0.004)

    async def cancel(scope: CancelScope) -> None:
        plans = plan_cancels(scope, env.store)
        for plan in plans:
            results.append(await asyncio.wait_for(env.client.cancel(plan), 20))

    trading = asyncio.create_task(trade())
    cancels: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + SECONDS
    try:
        while loop.time() < end:
            await asyncio.sleep(rng.uniform(0.03, 0.15))
            rows = env.rows()
            ids = sorted(rows)
            roll = rng.random()
            scope = None
            if roll < 0.3 and ids:
                scope = CancelScope.order(env.key(rng.choice(ids)))
            elif roll < 0.42 and len(ids) > 3:
                scope = CancelScope.selected([env.key(r) for r in rng.sample(ids, 3)])
            elif roll < 0.5 and ids:  # one instrument of the account, maybe one side of it
                aim = rows[rng.choice(ids)]
                scope = CancelScope.for_instrument(aim, rng.choice([None, Side.BUY, Side.SELL]))
            elif roll < 0.53 and any(o.group_id for o in rows.values()):  # Bitfinex's groups
                aim = rng.choice([o for o in rows.values() if o.group_id])
                scope = CancelScope.group(aim.account_key, str(aim.group_id))
            if scope is not None:
                cancels.append(asyncio.create_task(cancel(scope)))
            elif roll < 0.65:
                await sim.drop_connections()
            else:
                await misbehave(sim, rng, switches)
    finally:
        stop.set()
        await asyncio.wait_for(trading, 5)
        await calm(sim, switches)
        await asyncio.wait_for(asyncio.gather(*cancels), 30)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("venue", ["bitfinex", "bybit", "b2trader"])
async def test_rows_and_receipts_stay_true_through_a_storm(
    tmp_path: Path, venue: str, seed: int
) -> None:
    start, switches, final = venues(tmp_path)[venue]
    rng = random.Random(seed)
    results: list[CancelResult] = []
    async with start() as env:
        await harness.live(env)
        await storm(env, rng, switches, results)
        await until(lambda: env.state() is VenueState.LIVE, timeout=15)
        assert await asyncio.wait_for(env.client.check(), 15)  # the trader's "Check now"
        await until(lambda: set(env.rows()) == open_ids(env.sim), timeout=15,
                    message=f"seed {seed}: the rows equal the venue's open orders")
        said = [(o, r.plan) for r in results for o in r.outcomes.values()]
        assert said, f"seed {seed}: no cancel receipt to check"
        for outcome, _ in said:
            became = final(env.sim, outcome.key.order_id)
            if outcome.outcome is Outcome.CANCELLED:
                assert became == "cancelled", (seed, outcome, became)
            elif outcome.outcome is Outcome.FILLED:
                assert became == "filled", (seed, outcome, became)
            elif outcome.outcome.order_gone:
                assert became != "open", (seed, outcome, became)
