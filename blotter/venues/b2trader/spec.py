"""Brokers running B2TRADER, as the app knows them: every broker has its own host (no default
URLs), one API token, options (trading accounts, stream semantics, the broker's name),
capabilities, and how the client is built."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from blotter.core.options import OptionError, OptionField, check_label, check_labels, quoted
from blotter.core.order import Order
from blotter.core.venue import Capabilities
from blotter.venues.spec import ClientSetup, VenueSpec

if TYPE_CHECKING:
    from blotter.venues.base import VenueClient

VENUE: Final = "b2trader"
CAPABILITIES: Final = Capabilities(
    group_cancel=False,
    cancel_all=False,
    dead_man_switch=False,
    group_cancel_reason=(
        "B2TRADER has no order groups: select the orders and use Cancel Selected"
    ),
)
HUB_PATH: Final = "/frontoffice/ws/v4/account"  # the account hub (§3.2): ws_url's path
STREAMS: Final = ("snapshot", "delta")  # b2trader.md §3.7


@dataclass(frozen=True, slots=True)
class B2traderOptions:
    trading_accounts: tuple[str, ...] = ()  # ids or names to show; empty = all of them
    stream: str = "snapshot"  # OpenOrders semantics: snapshot | delta
    display_name: str | None = None  # the broker's name in the table; default the account name


def check_options(options: B2traderOptions) -> None:
    check_labels(options.trading_accounts, "trading_accounts")
    if options.stream not in STREAMS:
        raise OptionError(f"{quoted(options.stream)} is not one of {', '.join(STREAMS)}", "stream")
    if options.display_name is not None:
        check_label(options.display_name, "display_name")


def build_client(setup: ClientSetup) -> VenueClient:
    from blotter.venues.b2trader.client import B2traderClient

    options: B2traderOptions = setup.options
    return B2traderClient(
        setup.account, api_token=setup.credentials["api_token"], broker=setup.venue_label,
        trading_accounts=options.trading_accounts, delta=options.stream == "delta",
        **setup.shared,
    )



def notional(order: Order) -> tuple[Decimal, str] | None:
    """Price × remaining in the market's quote currency ("EUR/CHF" → CHF)."""
    price = order.price
    if price is None or "/" not in order.symbol:
        return None
    return price * order.remaining, order.symbol.rsplit("/", 1)[1]

SPEC = VenueSpec(
    name=VENUE,
    notional=notional,
    title="B2TRADER",
    form_title="B2TRADER broker",
    # "demo" is only a label: a broker's demo server has its own host, given by the URLs
    envs=("live", "demo"),
    default_urls={},
    rest_example="https://broker.example",
    ws_example=f"wss://broker.example{HUB_PATH}",
    secret_fields=("api_token",),
    options_type=B2traderOptions,
    option_fields=(
        OptionField("display_name", "text", label="Broker name",
                    text="the broker's name in the table, e.g. Acme"),
        OptionField("trading_accounts", "texts", label="Trading accounts",
                    text="all (or ids/names, comma separated)"),
        OptionField("stream", "choice", label="Order stream",
                    choices=(("snapshot", "complete lists (snapshot)"),
                             ("delta", "changes only (delta)"))),
    ),
    check_options=check_options,
    capabilities=CAPABILITIES,
    build_client=build_client,
    demo_account="acme",
    demo_options={"display_name": "Acme"},
    label_of=lambda account, options: options.display_name or account,
)
