"""Accounts to clients: the one place that turns a configured account and its secrets into the
venue client that serves it, for the window, the command line and the demo alike."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from blotter.config import AccountConfig
from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.venues.spec import ClientSetup

if TYPE_CHECKING:  # the clients' network libraries load with the first client, not before
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
    """The venue client for ``account`` with its secrets (the venue's ``secret_fields``), built
    by its venue's spec, auditing every ``audit_seconds`` while live; ``tuning`` passes test
    knobs (timeouts, backoff) through."""
    client = account.spec.build_client(ClientSetup(
        account_key(account), account.rest_url, account.ws_url, credentials, account.options,
        account.venue_label, store, notices, states, nonce_dir, tuning,
    ))
    client.audit_interval = float(account.audit_seconds)
    return client
