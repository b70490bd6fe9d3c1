"""What makes a venue, for the rest of the app: one ``VenueSpec`` per venue.

Each venue folder has a ``spec.py`` with its ``SPEC``; ``venues/registry.py`` lists them. The
accounts file, the account form, the command line, the engine and the demo read everything they
know of a venue from its spec: names and titles, environments and default URLs, the keyring
fields, the options, the capabilities, the demo account, and how to build its client.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.options import OptionField
from blotter.core.order import AccountKey, Order
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities

if TYPE_CHECKING:
    from blotter.venues.base import VenueClient


@dataclass(frozen=True, slots=True)
class ClientSetup:
    """Everything a venue's client is built from: the account, its resolved URLs, its secrets
    (never shown in a repr), its options, what the trader calls the venue (``VenueSpec.
    venue_label``), the shared store and buses, a directory for the
    client's small state files (the Bitfinex nonce) and test knobs (timeouts, backoff)."""

    account: AccountKey
    rest_url: str
    ws_url: str
    credentials: Mapping[str, str] = field(repr=False)
    options: Any
    venue_label: str
    store: OrderStore
    notices: NoticeBus
    states: StateBus
    state_dir: str | os.PathLike[str] | None = None
    tuning: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shared(self) -> dict[str, Any]:
        """The keyword arguments every venue client takes: its URLs, the store and buses, and
        the test knobs (timeouts, backoff)."""
        return {"rest_url": self.rest_url, "ws_url": self.ws_url, "store": self.store,
                "notices": self.notices, "states": self.states, **self.tuning}


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """One venue, as the app knows it without talking to it.

    ``name`` is the accounts file's ``venue``; ``title`` how the table names it and
    ``form_title`` how the account form's venue list does. ``envs`` lists the environments
    (the first is the default) and ``default_urls`` maps each to its (REST origin, websocket
    endpoint); a venue without defaults needs both URLs on every account. ``secret_fields`` are
    the keyring fields, ``options_type`` the frozen dataclass of its options (every field with a
    default), ``option_fields`` how each is written and shown, and ``check_options`` raises
    ``OptionError`` for a value that cannot be used. ``demo_account`` and ``demo_options`` make
    the account ``--demo`` runs against the venue's simulator.
    """

    name: str
    title: str
    form_title: str
    envs: tuple[str, ...]
    default_urls: Mapping[str, tuple[str, str]]
    rest_example: str
    ws_example: str
    secret_fields: tuple[str, ...]
    options_type: type[Any]
    option_fields: tuple[OptionField, ...]
    check_options: Callable[[Any], None]
    capabilities: Capabilities
    build_client: Callable[[ClientSetup], VenueClient]
    demo_account: str
    demo_options: Mapping[str, Any] = field(default_factory=dict)
    label_of: Callable[[str, Any], str] | None = None
    # an order's notional in its quote currency, as the venue's contracts reckon it
    notional: Callable[[Order], tuple[Decimal, str] | None] = field(default=lambda order: None)

    @property
    def default_env(self) -> str:
        """The environment an account gets when it names none."""
        return self.envs[0]

    def urls(self, env: str) -> tuple[str, str] | None:
        """The (REST origin, websocket endpoint) of ``env``; None where there is no default."""
        return self.default_urls.get(env)

    def venue_label(self, account: str, options: Any) -> str:
        """What the trader calls the venue of ``account``: "Bitfinex", or a broker's name."""
        return self.title if self.label_of is None else self.label_of(account, options)

    def notional_of(self, order: Order) -> tuple[Decimal, str] | None:
        """``order``'s notional: (price × remaining, or what the venue's contracts make of
        them, in the quote currency), or None where the venue gives no way to reckon it."""
        return self.notional(order)

    def option(self, name: str) -> OptionField | None:
        """The option called ``name``, or None."""
        return next((f for f in self.option_fields if f.name == name), None)


def no_option_checks(options: object) -> None:
    """``check_options`` for a venue whose option types say it all."""
