"""A BybitClient running against its simulator over real loopback sockets, for the tests of
this folder: ``connected(sim_options, **client_options)`` gives an ``Env`` whose rows can be
compared with the venue's open orders."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey, Order
from blotter.core.store import OrderStore
from blotter.sim.bybit import BybitSimulator
from blotter.venues.bybit.client import BybitClient
from blotter.venues.bybit.orders import parse_order
from tests.venues import harness
from tests.venues.harness import FAST

KEY, SECRET = "bybit-test-key", "bybit-test-secret"
ACCOUNT = AccountKey("bybit", "sim")


class Env(harness.Env[BybitSimulator, BybitClient]):
    def venue_orders(self) -> dict[str, Order]:
        return {
            d["orderId"]: parse_order(d, ACCOUNT, d["category"]) for d in self.sim.open_orders()
        }

    def in_sync(self) -> bool:
        return self.rows() == self.venue_orders()


def connected(
    sim_options: dict[str, Any] | None = None, **client_options: Any
) -> AbstractAsyncContextManager[Env]:
    options: dict[str, Any] = {"api_key": KEY, "api_secret": SECRET, "seed": 7}
    options.update(sim_options or {})
    kwargs: dict[str, Any] = {"backoff": FAST, "cancel_timeout": 3.0}
    kwargs.update(client_options)

    def build(sim: BybitSimulator, store: OrderStore, notices: NoticeBus,
              states: StateBus) -> BybitClient:
        return BybitClient(
            ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=KEY, api_secret=SECRET,
            store=store, notices=notices, states=states, **kwargs,
        )

    return harness.connected(BybitSimulator(**options), build, Env)
