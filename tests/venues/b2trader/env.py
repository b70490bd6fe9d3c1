"""The B2TRADER client against its simulator, as the tests here run it: the login "acme" with
two trading accounts, and how the venue's open orders read as rows."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

from blotter.core.notices import NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.sim.b2trader import B2traderSimulator
from blotter.venues.b2trader.client import B2traderClient
from tests.venues import harness
from tests.venues.harness import FAST

LOGIN = AccountKey("b2trader", "acme")
MAIN = AccountKey("b2trader", "acme/Acme Main")
MARGIN = AccountKey("b2trader", "acme/Acme Margin")

Row = tuple[Decimal, Decimal | None, Decimal | None]  # remaining, price, average price


class Env(harness.Env[B2traderSimulator, B2traderClient]):
    """The login's two trading accounts, as the simulator and the table hold them."""

    @property
    def main_id(self) -> str:
        return self.sim.account_ids[0]

    @property
    def margin_id(self) -> str:
        return self.sim.account_ids[1]

    def venue_ids(self, account_id: str | None = None) -> set[str]:
        return {o["orderId"] for o in self.sim.open_orders(account_id)}

    def in_sync(self) -> bool:
        return (set(self.rows(MAIN)) == self.venue_ids(self.main_id)
                and set(self.rows(MARGIN)) == self.venue_ids(self.margin_id))

    def venue_table(self) -> dict[tuple[str, str], Row]:
        """The simulator's open orders, as (trading account, order id) → what a row shows."""
        table = {}
        for account, account_id in ((MAIN, self.main_id), (MARGIN, self.margin_id)):
            for o in self.sim.open_orders(account_id):
                price, avg = o["requestedPrice"], Decimal(o["executionPrice"])
                table[(account.account, o["orderId"])] = (
                    Decimal(o["remainingAmount"]), None if price is None else Decimal(price),
                    avg or None,
                )
        return table

    def table(self) -> dict[tuple[str, str], Row]:
        """The store's rows, the same way."""
        return {(o.account, o.order_id): (o.remaining, o.price, o.avg_price)
                for a in (MAIN, MARGIN) for o in self.store.orders(a)}

    def equal(self) -> bool:
        """The store equals the venue exactly: ids, remaining amounts, prices; no ghost, no
        missing order."""
        return self.table() == self.venue_table()

    def leaves_live(self) -> bool:
        return self.state() not in (VenueState.LIVE, None)


def connected(
    sim_options: dict[str, Any] | None = None, **client_options: Any
) -> AbstractAsyncContextManager[Env]:
    options: dict[str, Any] = {"seed": 5}
    options.update(sim_options or {})
    kwargs: dict[str, Any] = {"backoff": FAST, "cancel_timeout": 3.0, "broker": "Acme"}
    kwargs.update(client_options)

    def build(sim: B2traderSimulator, store: OrderStore, notices: NoticeBus,
              states: StateBus) -> B2traderClient:
        return B2traderClient(
            LOGIN, rest_url=sim.rest_url, ws_url=sim.ws_url,
            api_token=sim.credentials["api_token"], store=store, notices=notices,
            states=states, **kwargs,
        )

    return harness.connected(B2traderSimulator(**options), build, Env)
