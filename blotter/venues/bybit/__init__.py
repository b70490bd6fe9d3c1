"""Bybit v5: a sans-I/O codec (``codec.py``); the venue client is not written yet."""

from blotter.venues.bybit.codec import MalformedFrame

__all__ = ["MalformedFrame"]
