"""The demo venues: one loopback simulator per venue, the demo accounts made from each venue's
spec and pointed at them, a fault menu worded as the trader knows each venue, and nothing left
behind once stopped."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.demo import Demo, DemoVenues
from blotter.engine import Engine
from blotter.venues.registry import VENUES, spec_for
from tests.helpers import until


@pytest.fixture
async def demo() -> AsyncIterator[DemoVenues]:
    venues = DemoVenues()
    try:
        await asyncio.wait_for(venues.start(), 20)
        for sim in venues.sims.values():
            sim.stop_flow()  # the tests read the venues; nothing moves under them
        yield venues
    finally:
        await asyncio.wait_for(venues.stop(), 20)


async def test_the_demo_accounts_come_from_the_specs_and_point_at_the_simulators(demo):
    assert demo.venues == VENUES
    assert [account.venue for account, _ in demo.accounts] == list(VENUES)
    for account, credentials in demo.accounts:
        spec, sim = spec_for(account.venue), demo.sims[account.venue]
        assert account.name == spec.demo_account
        assert (account.rest_url, account.ws_url) == (sim.rest_url, sim.ws_url)
        assert account.rest_url.startswith("http://127.0.0.1:")
        assert credentials == sim.credentials
        assert set(credentials) == set(spec.secret_fields)
    assert [a.venue_label for a, _ in demo.accounts] == ["Bitfinex", "Bybit", "Acme"]
    assert demo.state_dir is not None and demo.state_dir.is_dir()


async def test_the_fault_menu_has_a_section_per_venue_named_as_the_trader_knows_it(demo):
    menu = demo.fault_menu(lambda text: None)
    assert [name for name, _ in menu] == ["Bitfinex", "Bybit", "Acme"]
    for _, items in menu:
        titles = [title for title, _, _, _ in items]
        assert titles[0] == "Drop the connection"
        assert titles[-3:] == ["Next cancel loses to a fill", "Slow replies on/off",
                               "Pause/resume order flow"]
        assert all(tip for _, tip, _, _ in items)
    acme = {title: tip for title, tip, _, _ in menu[2][1]}
    assert acme["Expire the access token"] == (
        "Every JWT expires now; the hub closes the stream"
    )


def action(menu, section: str, title: str):
    items = dict(menu)[section]
    return next(act for name, _, act, _ in items if name == title)


async def test_a_fault_says_what_it_did(demo):
    said: list[str] = []
    menu = demo.fault_menu(said.append)
    assert action(menu, "Bybit", "Rate limit (10006)")() is None
    assert said == ["Bybit answers the next 3 calls with 10006 (rate limit)."]
    assert demo.sims["bybit"].force_rate_limit == 3
    action(menu, "Acme", "Slow replies on/off")()
    assert said[-1] == "slow Acme replies on (1.5 s)."
    assert demo.sims["b2trader"].reply_delay == 1.5


async def test_an_async_fault_says_what_it_did_once_awaited(demo):
    said: list[str] = []
    refuse = action(demo.fault_menu(said.append), "Bybit", "Refuse the API key on/off")
    pending = refuse()
    assert inspect.isawaitable(pending)
    assert said == []  # nothing happened yet
    await pending
    assert said == ["Bybit refuses the API key."] and demo.sims["bybit"].refuse_key
    await refuse()
    assert said[-1] == "Bybit accepts the API key." and not demo.sims["bybit"].refuse_key


async def test_a_fault_whose_effect_speaks_for_itself_says_nothing(demo):
    said: list[str] = []
    drop = action(demo.fault_menu(said.append), "Bitfinex", "Drop the connection")
    await drop()  # the client's own reconnect says it
    assert said == []


async def test_stop_removes_the_state_and_the_simulators() -> None:
    venues = DemoVenues(["bybit"])
    await asyncio.wait_for(venues.start(), 20)
    state_dir = venues.state_dir
    assert isinstance(state_dir, Path) and state_dir.is_dir()
    (state_dir / "nonce").write_text("1")
    await asyncio.wait_for(venues.stop(), 20)
    assert not state_dir.exists()
    assert venues.sims == {} and venues.state_dir is None
    await venues.stop()  # twice is harmless


async def test_the_demo_runs_its_clients_in_the_engine_and_says_where() -> None:
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    said: list[str] = []
    engine.notices.subscribe(lambda n: said.append(n.line()) if n.venue == "blotter" else None)
    demo = Demo(engine)
    try:
        accounts = await asyncio.wait_for(demo.start(), 20)
        assert set(engine.clients) == {AccountKey(a.venue, a.name) for a, _ in accounts}
        where = ", ".join(f"{a.venue_label} at {a.rest_url}" for a, _ in accounts)
        assert said == [f"Demo mode: simulated {where}. Nothing here is real money."]
        await until(lambda: {s.venue for s in engine.states.current.values()
                             if s.state is VenueState.LIVE} == set(VENUES), timeout=15)
        assert {o.venue for o in engine.store} == set(VENUES)  # every venue's orders shown
        (name, items), *_ = demo.fault_items()
        pause = next(act for title, _, act, _ in items if title == "Pause/resume order flow")
        pause()
        assert said[-1] == f"Demo: {name} order flow paused."
        assert engine.notices.history[-1].level is Level.INFO
    finally:
        await asyncio.wait_for(engine.stop(), 10)
        await asyncio.wait_for(demo.stop(), 20)
