"""Every venue the blotter knows, by name. Adding a venue: its folder under ``venues/`` (with a
``spec.py``), its simulator under ``sim/``, and one line here."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from blotter.core.order import Order
from blotter.venues.b2trader.spec import SPEC as B2TRADER
from blotter.venues.bitfinex.spec import SPEC as BITFINEX
from blotter.venues.bybit.spec import SPEC as BYBIT
from blotter.venues.spec import VenueSpec

SPECS: Final[dict[str, VenueSpec]] = {spec.name: spec for spec in (BITFINEX, BYBIT, B2TRADER)}
VENUES: Final = tuple(SPECS)


def spec_for(venue: str) -> VenueSpec:
    """The spec of ``venue``; ``KeyError`` naming the known venues otherwise."""
    try:
        return SPECS[venue]
    except KeyError:
        raise KeyError(f"unknown venue {venue!r} (known: {', '.join(VENUES)})") from None


def notional(order: Order) -> tuple[Decimal, str] | None:
    """``order``'s notional in its quote currency as its venue reckons it (``VenueSpec.
    notional_of``); None for an unknown venue or where the venue gives no way."""
    spec = SPECS.get(order.venue)
    return spec.notional_of(order) if spec is not None else None


def venue_title(venue: str) -> str:
    """How the trader names ``venue`` ("Bitfinex"); an unknown name as it is."""
    spec = SPECS.get(venue)
    return spec.title if spec is not None else venue
