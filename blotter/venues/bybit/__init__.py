"""Bybit v5: a sans-I/O codec (``codec.py``) and the venue client around it (``client.py``)."""

from blotter.venues.bybit.client import CAPABILITIES, BybitClient
from blotter.venues.bybit.codec import MalformedFrame

__all__ = ["CAPABILITIES", "BybitClient", "MalformedFrame"]
