"""One harness for the window against a venue simulator and its real client, over loopback.

``window_over(sim, build, ...)`` starts the simulator, opens the window on a fresh engine, adds
the client ``build`` makes, waits until the table is ``ready``, and hands the test a
``WindowEnv``; on the way out the window closes and the client and simulator stop. A venue's
test module keeps only its own: the book it places, how its client is built, and how its
simulator lists open ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from blotter.core.notices import AccountState, NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.ui.main_window import MainWindow
from blotter.ui.orders_model import Column
from blotter.venues.base import Backoff
from tests.helpers import until
from tests.ui.conftest import close_window, select_row

FAST = Backoff(base=0.05, factor=2.0, cap=0.3)


def bitfinex_build(account: AccountKey, tmp_path: Path) -> Callable[..., Any]:
    """How a window test builds the BitfinexClient of ``account`` over its simulator (the
    ``build`` of ``window_over``)."""

    def build(sim: Any, store: OrderStore, notices: NoticeBus, states: StateBus) -> Any:
        from blotter.venues.bitfinex.client import BitfinexClient

        credentials = sim.credentials
        return BitfinexClient(
            account, rest_url=sim.rest_url, ws_url=sim.ws_url,
            api_key=credentials["api_key"], api_secret=credentials["api_secret"],
            store=store, notices=notices, states=states, nonce_dir=tmp_path / "nonces",
            cancel_timeout=5.0, backoff=FAST,
        )

    return build

SimT = TypeVar("SimT")


@dataclass
class WindowEnv(Generic[SimT]):
    """The window, its engine and simulator, every line the status bar showed (in order) and
    every account state published."""

    sim: SimT
    engine: Engine
    window: MainWindow
    shown: list[str]
    states: list[AccountState]

    def row_ids(self) -> list[str]:
        proxy = self.window.proxy
        return [proxy.index(r, Column.ORDER_ID).data() for r in range(proxy.rowCount())]

    def proxy_row(self, order_id: int | str) -> int:
        return self.row_ids().index(str(order_id))

    def cell(self, order_id: int | str, column: Column) -> str:
        return self.window.proxy.index(self.proxy_row(order_id), column).data()

    def status(self, order_id: int | str) -> str:
        return self.cell(order_id, Column.STATUS)

    def select(self, order_id: int | str, add: bool = False) -> None:
        """Make the order's row current and selected (added to the selection with ``add``)."""
        select_row(self.window.view, self.proxy_row(order_id), add)
        self.window.view.setFocus()


EnvT = TypeVar("EnvT", bound=WindowEnv[Any])


@asynccontextmanager
async def window_over(
    qtbot: Any,
    tmp_path: Path,
    sim: SimT,
    build: Callable[[SimT, OrderStore, NoticeBus, StateBus], Any],
    ready: Callable[[MainWindow], bool],
    env_type: Callable[..., EnvT] = WindowEnv,  # type: ignore[assignment]
) -> AsyncIterator[EnvT]:
    """The window showing ``sim``'s account through the client ``build`` makes, active and
    ``ready``; closed and stopped after."""
    await sim.start()  # type: ignore[attr-defined]
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    states: list[AccountState] = []
    engine.states.subscribe(states.append)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings=settings)
    qtbot.addWidget(window)
    shown: list[str] = []
    window.status_bar.notice_logged.connect(lambda entry: shown.append(window.status_bar.text))
    window.show()
    window.activateWindow()
    engine.add_client(build(sim, engine.store, engine.notices, engine.states))
    try:
        await until(lambda: ready(window))
        await until(lambda: window.stack.currentWidget() is window.view)
        await until(lambda: QApplication.activeWindow() is window, timeout=2)
        yield env_type(sim, engine, window, shown, states)
    finally:
        close_window(window)
        await asyncio.wait_for(engine.stop(), 5)
        await asyncio.wait_for(sim.stop(), 5)  # type: ignore[attr-defined]
        # what the stop set going (a request cut short by it) takes its first step while the
        # test's loop still runs: never started, it would warn in whichever test collects it
        await asyncio.sleep(0.05)


def busy_venue(venue: str, tmp_path: Path, orders: int) -> tuple[Any, Callable[..., Any]]:
    """A simulator of ``venue`` (bitfinex, bybit or b2trader) holding ``orders`` open orders,
    and how its client is built (the ``sim`` and ``build`` of ``window_over``)."""
    if venue == "bitfinex":
        from blotter.sim.bitfinex import BitfinexSimulator

        sim = BitfinexSimulator(seed=5, initial_orders=orders)
        sim.rate_limit_connections = False  # a busy test reconnects more than 5 times in 15 s
        return sim, bitfinex_build(AccountKey("bitfinex", "bfx-busy"), tmp_path)
    if venue == "bybit":
        from blotter.sim.bybit import BybitSimulator
        from blotter.venues.bybit.client import BybitClient

        def bybit(sim: Any, store: OrderStore, notices: NoticeBus, states: StateBus) -> Any:
            return BybitClient(
                AccountKey("bybit", "bybit-busy"), rest_url=sim.rest_url, ws_url=sim.ws_url,
                api_key="k", api_secret="s", store=store, notices=notices, states=states,
                cancel_timeout=5.0, backoff=FAST,
            )

        return BybitSimulator(api_key="k", api_secret="s", seed=5, initial_orders=orders), bybit
    from blotter.sim.b2trader import B2traderSimulator
    from blotter.venues.b2trader.client import B2traderClient

    def b2trader(sim: Any, store: OrderStore, notices: NoticeBus, states: StateBus) -> Any:
        return B2traderClient(
            AccountKey("b2trader", "acme"), rest_url=sim.rest_url, ws_url=sim.ws_url,
            api_token=sim.credentials["api_token"], store=store, notices=notices,
            states=states, broker="Acme", cancel_timeout=5.0, backoff=FAST,
        )

    return B2traderSimulator(seed=5, initial_orders=orders), b2trader


def venue_open_ids(sim: Any) -> set[str]:
    """The ids of a simulator's open orders (every account it holds)."""
    return {str(o[0]) if isinstance(o, list) else o["orderId"] for o in sim.open_orders()}
