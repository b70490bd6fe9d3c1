"""Accounts to clients: the one place that turns a configured account and its secrets into the
venue client that serves it, for the window and the command line alike."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from blotter.config import AccountConfig, B2traderOptions, BitfinexOptions, BybitOptions
from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.venues.base import VenueClient


def account_key(account: AccountConfig) -> AccountKey:
    return AccountKey(account.venue, account.name)


def make_client(
    account: AccountConfig,
    credentials: Mapping[str, str],
    *,
    store: OrderStore,
    notices: NoticeBus,
    states: StateBus,
    nonce_dir: str | os.PathLike[str] | None = None,
    **tuning: Any,
) -> VenueClient:
    """The venue client for ``account`` with its secrets (``api_key``/``api_secret`` or
    ``api_token``); ``tuning`` passes test knobs (timeouts, backoff) through."""
    common: dict[str, Any] = {
        "rest_url": account.rest_url, "ws_url": account.ws_url,
        "store": store, "notices": notices, "states": states, **tuning,
    }
    key = account_key(account)
    options = account.options
    if account.venue == "bitfinex":
        from blotter.venues.bitfinex.client import BitfinexClient

        assert isinstance(options, BitfinexOptions)
        return BitfinexClient(
            key, api_key=credentials["api_key"], api_secret=credentials["api_secret"],
            nonce_dir=nonce_dir, dead_man_switch=options.dead_man_switch, **common,
        )
    if account.venue == "bybit":
        from blotter.venues.bybit.client import BybitClient

        assert isinstance(options, BybitOptions)
        return BybitClient(
            key, api_key=credentials["api_key"], api_secret=credentials["api_secret"],
            categories=options.categories, settle_coins=options.settle_coins,
            recv_window=options.recv_window, **common,
        )
    if account.venue == "b2trader":
        from blotter.venues.b2trader.client import B2traderClient

        assert isinstance(options, B2traderOptions)
        return B2traderClient(
            key, api_token=credentials["api_token"], broker=account.display_name,
            trading_accounts=options.trading_accounts, delta=options.stream == "delta",
            **common,
        )
    raise ValueError(f"unknown venue {account.venue!r}")
