"""Bybit v5, as the app knows it: environments, URLs (bybit.md §0), keys, options (categories,
settle coins, recv_window), capabilities, and how its client is built."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from blotter.core.options import OptionError, OptionField, check_choices, quoted
from blotter.core.order import Order
from blotter.core.venue import Capabilities
from blotter.venues.spec import ClientSetup, VenueSpec

if TYPE_CHECKING:
    from blotter.venues.base import VenueClient

CAPABILITIES: Final = Capabilities(
    group_cancel=False,
    cancel_all=True,
    dead_man_switch=False,
    group_cancel_reason="Bybit has no order groups",
)
VENUE: Final = "bybit"
CATEGORIES: Final = ("spot", "linear", "inverse", "option")
SETTLE_COINS: Final = ("USDT", "USDC")  # linear settle coins queried by default (§3.1)
RECV_WINDOW: Final = 5000  # ms, bybit.md §1.1 default
# The notes give no upper bound (§1.3 recommends 5000-10000); a minute is a sanity limit, since a
# larger window only widens the replay window of a signed request.
RECV_WINDOW_MAX: Final = 60_000
_COIN: Final = re.compile(r"[A-Z0-9]{2,20}")


@dataclass(frozen=True, slots=True)
class BybitOptions:
    categories: tuple[str, ...] = CATEGORIES
    settle_coins: tuple[str, ...] = SETTLE_COINS  # for category linear
    recv_window: int = RECV_WINDOW  # ms


def check_options(options: BybitOptions) -> None:
    check_choices(options.categories, CATEGORIES, "categories")
    coins = options.settle_coins
    if not isinstance(coins, tuple) or not coins:
        raise OptionError(
            f"must list at least one coin (default {', '.join(SETTLE_COINS)})", "settle_coins"
        )
    for index, coin in enumerate(coins):
        if not isinstance(coin, str) or not _COIN.fullmatch(coin):
            raise OptionError(
                f"{quoted(coin)} is not a coin code such as \"USDT\" (upper case letters and "
                "digits)",
                f"settle_coins[{index}]",
            )
        if coin in coins[:index]:
            raise OptionError(f"{quoted(coin)} is listed twice", f"settle_coins[{index}]")
    recv = options.recv_window
    if not isinstance(recv, int) or isinstance(recv, bool) or not 1 <= recv <= RECV_WINDOW_MAX:
        raise OptionError(
            f"{quoted(recv)} is not a whole number of milliseconds from 1 to "
            f"{RECV_WINDOW_MAX} (Bybit's default is {RECV_WINDOW})",
            "recv_window",
        )


def build_client(setup: ClientSetup) -> VenueClient:
    from blotter.venues.bybit.client import BybitClient

    options: BybitOptions = setup.options
    return BybitClient(
        setup.account, api_key=setup.credentials["api_key"],
        api_secret=setup.credentials["api_secret"], categories=options.categories,
        settle_coins=options.settle_coins, recv_window=options.recv_window, **setup.shared,
    )



_SPOT_QUOTES: Final = ("USDT", "USDC", "USDE", "USD", "EUR", "BRL", "BTC", "ETH", "DAI", "MNT")


def notional(order: Order) -> tuple[Decimal, str] | None:
    """What an order is worth in its settle currency: an inverse contract's quantity is
    already US dollars; linear USDT and USDC contracts and options are price × remaining in
    their coin; spot in the pair's quote coin."""
    category = order.category
    if category == "inverse":
        return order.remaining, "USD"
    price = order.price
    if price is None:
        return None
    symbol = order.symbol
    if category == "option" or symbol.endswith("PERP") or "-" in symbol:
        return price * order.remaining, "USDC"
    for quote in _SPOT_QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return price * order.remaining, quote
    return None

SPEC = VenueSpec(
    name=VENUE,
    notional=notional,
    title="Bybit",
    form_title="Bybit",
    envs=("live", "testnet", "demo"),
    default_urls={
        "live": ("https://api.bybit.com", "wss://stream.bybit.com/v5/private"),
        "testnet": ("https://api-testnet.bybit.com", "wss://stream-testnet.bybit.com/v5/private"),
        "demo": ("https://api-demo.bybit.com", "wss://stream-demo.bybit.com/v5/private"),
    },
    rest_example="https://api.bybit.com",
    ws_example="wss://stream.bybit.com/v5/private",
    secret_fields=("api_key", "api_secret"),
    options_type=BybitOptions,
    option_fields=(
        OptionField("categories", "choices", label="Categories",
                    choices=tuple((c, c) for c in CATEGORIES)),
        OptionField("settle_coins", "texts", label="Settle coins", in_form=False),
        OptionField("recv_window", "int", label="recv_window", minimum=1,
                    maximum=RECV_WINDOW_MAX, suffix=" ms"),
    ),
    check_options=check_options,
    capabilities=CAPABILITIES,
    build_client=build_client,
    demo_account="bybit-demo",
)
