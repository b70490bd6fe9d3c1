"""Bitfinex API v2, as the app knows it: environments, URLs (bitfinex.md §1.1, §5, §6.4), keys,
options, capabilities, and how its client is built."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from blotter.core.options import OptionField
from blotter.core.order import Order
from blotter.core.venue import Capabilities
from blotter.venues.spec import ClientSetup, VenueSpec, no_option_checks

if TYPE_CHECKING:
    from blotter.venues.base import VenueClient

VENUE: Final = "bitfinex"
CAPABILITIES = Capabilities(group_cancel=True, cancel_all=True, dead_man_switch=True)


@dataclass(frozen=True, slots=True)
class BitfinexOptions:
    # dms: 4 cancels every order of the account whenever the socket drops (bitfinex.md §2.4)
    dead_man_switch: bool = False


def build_client(setup: ClientSetup) -> VenueClient:
    from blotter.venues.bitfinex.client import BitfinexClient

    options: BitfinexOptions = setup.options
    return BitfinexClient(
        setup.account, api_key=setup.credentials["api_key"],
        api_secret=setup.credentials["api_secret"], nonce_dir=setup.state_dir,
        dead_man_switch=options.dead_man_switch, **setup.shared,
    )


_LIVE = ("https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2")


def notional(order: Order) -> tuple[Decimal, str] | None:
    """Price × remaining in the pair's quote currency: "tBTCUSD" → USD, "tBTCF0:USTF0" →
    USTF0 (the part after the colon of a pair with long names)."""
    price = order.price
    if price is None:
        return None
    symbol = order.symbol
    if ":" in symbol:
        quote = symbol.rsplit(":", 1)[1]
    elif symbol.startswith("t") and len(symbol) == 7:
        quote = symbol[4:]
    else:
        return None
    return price * order.remaining, quote

SPEC = VenueSpec(
    name=VENUE,
    notional=notional,
    title="Bitfinex",
    form_title="Bitfinex",
    # "paper" is a paper-trading sub-account on the production hosts (bitfinex.md §6.4)
    envs=("live", "paper"),
    default_urls={"live": _LIVE, "paper": _LIVE},
    rest_example=_LIVE[0],
    ws_example=_LIVE[1],
    secret_fields=("api_key", "api_secret"),
    options_type=BitfinexOptions,
    option_fields=(
        OptionField(
            "dead_man_switch", "bool",
            text="Dead-man switch: the venue cancels every order if the connection drops",
        ),
    ),
    check_options=no_option_checks,
    capabilities=CAPABILITIES,
    build_client=build_client,
    demo_account="bfx-demo",
)
