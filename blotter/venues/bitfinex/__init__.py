"""Bitfinex API v2: the venue client (``client.py``) over a sans-I/O codec (``codec.py``)."""

from blotter.venues.bitfinex.client import BitfinexClient

__all__ = ["BitfinexClient"]
