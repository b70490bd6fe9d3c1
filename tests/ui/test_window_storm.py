"""The window while its venue storms, for each venue, against its simulator and real client over
loopback: the venue keeps trading, drops its connection and does what its demo menu's faults do,
while the trader cancels rows through the window (Delete on the current row). After the venue
calms down and the trader checks it, the table shows exactly the venue's open orders, and every
row in Recently Closed says what the venue did to that order: "filled" only for an order it
filled, cancelled (by you or at the venue) only for one it cancelled."""

from __future__ import annotations

import asyncio
import random

import pytest

from blotter.core.notices import VenueState
from blotter.ui.closed_view import REASON, section_of
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import Column
from tests.helpers import until
from tests.ui.conftest import select_row
from tests.ui.windows import WindowEnv, busy_venue, venue_open_ids, window_over
from tests.venues.test_chaos import b2trader_final, bitfinex_final, bybit_final, menu_faults

pytestmark = pytest.mark.timeout(90)

FINAL = {"bitfinex": bitfinex_final, "bybit": bybit_final, "b2trader": b2trader_final}


@pytest.fixture(params=["bitfinex", "bybit", "b2trader"])
async def env(request, qtbot, tmp_path):
    sim, build = busy_venue(request.param, tmp_path, 60)

    def ready(window: MainWindow) -> bool:
        return 0 < window.proxy.rowCount() == len(sim.open_orders())

    async with window_over(qtbot, tmp_path, sim, build, ready) as environment:
        environment.venue = request.param  # type: ignore[attr-defined]
        yield environment


def closed_reasons(env: WindowEnv) -> dict[str, str]:
    model = env.window.closed_model
    model.flush()
    ids = section_of(Column.ORDER_ID)
    return {model.index(r, ids).data(): model.index(r, REASON).data()
            for r in range(model.rowCount())}


async def test_after_a_storm_the_table_and_recently_closed_say_what_the_venue_did(env):
    sim, window, rng = env.sim, env.window, random.Random(7)
    faults = menu_faults(sim)
    stop = asyncio.Event()

    async def trade() -> None:
        while not stop.is_set():
            sim.flow_step()
            await asyncio.sleep(0.003)

    trading = asyncio.create_task(trade())
    cancels = 0
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 2.5
        while loop.time() < end:
            await asyncio.sleep(rng.uniform(0.04, 0.12))
            roll = rng.random()
            rows = window.proxy.rowCount()
            if roll < 0.5 and rows:
                select_row(window.view, rng.randrange(rows))
                window.actions_.order.trigger()  # Delete
                cancels += 1
            elif roll < 0.6:
                await sim.drop_connections()
            else:
                done = rng.choice(faults).act()
                if asyncio.iscoroutine(done):
                    await done
    finally:
        stop.set()
        await trading
        for fault in faults:  # every fault that stays until undone, undone
            if fault.on is not None and fault.on():
                done = fault.act()
                if asyncio.iscoroutine(done):
                    await done
    assert cancels > 5
    engine = env.engine
    await until(lambda: engine.states.current and all(
        s.state is VenueState.LIVE for s in engine.states.current.values()), timeout=20)
    for account in list(engine.states.current):  # the trader's Check Now
        await asyncio.wait_for(engine.check(account), 20)
    await until(lambda: set(env.row_ids()) == venue_open_ids(sim), timeout=20,
                message="the table shows exactly the venue's open orders")
    final = FINAL[env.venue]
    reasons = closed_reasons(env)
    assert reasons
    for order_id, reason in reasons.items():
        became = final(sim, order_id)
        if reason == "filled":
            assert became == "filled", (order_id, reason, became)
        elif reason.startswith("cancelled"):
            assert became == "cancelled", (order_id, reason, became)
        else:  # closed while unseen, or how unknown: at least not open
            assert became != "open", (order_id, reason, became)
