"""The demo venues: one loopback simulator per venue, and the demo account of each pointed at it.

Used by the window (``--demo`` and "Try the demo"), the command line (``--demo``) and the
tests alike; Qt-free. The accounts come from each venue's spec (``demo_account``,
``demo_options``) and their clients are built the way the trader's own accounts are
(``accounts.make_client``). Each simulator describes its own fault menu (``faults``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from blotter.accounts import make_client
from blotter.config import AccountConfig, make_account
from blotter.core.notices import Level, Notice
from blotter.core.order import AccountKey
from blotter.engine import Engine
from blotter.venues.registry import VENUES, spec_for

if TYPE_CHECKING:
    from blotter.sim import Simulator

log = logging.getLogger("blotter.demo")

DEMO_SEED: Final = 20240501
INITIAL_ORDERS: Final = 40
FLOW_RATE: Final = 1.5  # simulated order events per second and venue
STOP_TIMEOUT: Final = 5.0

# (menu entry, tooltip, action, whether it is in force: None for a one-off)
FaultItem = tuple[str, str, Callable[[], object], Callable[[], bool] | None]

class DemoVenues:
    """The simulators on 127.0.0.1 (free ports) and the demo accounts that point at them."""

    def __init__(self, venues: Sequence[str] = VENUES) -> None:
        self.venues = tuple(venues)
        self.sims: dict[str, Simulator] = {}
        self.accounts: list[tuple[AccountConfig, dict[str, str]]] = []
        self.state_dir: Path | None = None

    def account_keys(self) -> set[AccountKey]:
        """The demo's accounts, known before the simulators start."""
        return {AccountKey(v, spec_for(v).demo_account) for v in self.venues}

    async def start(self) -> list[tuple[AccountConfig, dict[str, str]]]:
        """Start the simulators; returns each demo account with its (demo) credentials."""
        from blotter.sim import start_all

        self.state_dir = Path(tempfile.mkdtemp(prefix="blotter-demo-"))
        self.sims = await start_all(
            list(self.venues), host="127.0.0.1", port=0,
            initial_orders=INITIAL_ORDERS, flow_rate=FLOW_RATE, seed=DEMO_SEED,
        )
        self.accounts = []
        for venue in self.venues:
            spec, sim = spec_for(venue), self.sims[venue]
            account = make_account(
                spec.demo_account, venue, rest_url=sim.rest_url, ws_url=sim.ws_url,
                **spec.demo_options,
            )
            self.accounts.append((account, dict(sim.credentials)))
        return list(self.accounts)

    def fault_menu(self, say: Callable[[str], None]) -> list[tuple[str, list[FaultItem]]]:
        """One section per venue, named as the trader knows it, of what its simulator can be
        made to do wrong; each action reports what it did through ``say``."""
        sections = []
        for account, _ in self.accounts:
            name = account.venue_label
            items = [
                (fault.title, fault.tip, _reporting(fault.act, say), fault.on)
                for fault in self.sims[account.venue].faults(name)
            ]
            sections.append((name, items))
        return sections

    async def stop(self) -> None:
        for name, sim in self.sims.items():
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await sim.stop()
            except Exception:  # a simulator's teardown must not hide what the app was doing
                log.warning("the %s simulator did not stop cleanly", name, exc_info=True)
        self.sims.clear()
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None


class Demo(DemoVenues):
    """The demo in the window: the demo venues, and their clients running in the engine."""

    def __init__(self, engine: Engine, venues: Sequence[str] = VENUES) -> None:
        super().__init__(venues)
        self.engine = engine

    async def start(self) -> list[tuple[AccountConfig, dict[str, str]]]:
        accounts = await super().start()
        for account, credentials in accounts:
            self.engine.add_client(make_client(
                account, credentials, store=self.engine.store, notices=self.engine.notices,
                states=self.engine.states, nonce_dir=self.state_dir,
            ))
        where = ", ".join(f"{a.venue_label} at {a.rest_url}" for a, _ in accounts)
        self.engine.notices.publish(
            Notice("blotter", "", Level.INFO,
                   f"Demo mode: simulated {where}. Nothing here is real money.")
        )
        return accounts

    def fault_items(self) -> list[tuple[str, list[FaultItem]]]:
        """The window's Demo menu; what a fault did is said in the status bar."""
        return self.fault_menu(self._say)

    def _say(self, text: str) -> None:
        self.engine.notices.publish(Notice("blotter", "", Level.INFO, f"Demo: {text}"))


def _reporting(
    act: Callable[[], str | Awaitable[str]], say: Callable[[str], None]
) -> Callable[[], object]:
    """``act`` as a menu action: what it returns (or awaits to) is said, unless empty."""

    def run() -> object:
        said = act()
        if inspect.isawaitable(said):
            pending = said

            async def finish() -> None:
                text = await pending
                if text:
                    say(text)

            return finish()
        if said:
            say(said)
        return None

    return run
