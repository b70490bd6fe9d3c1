"""B2TRADER (B2BROKER brokers): the SignalR framing (``signalr.py``) and a sans-I/O venue codec
(``codec.py``); the client around them comes next."""

from blotter.venues.b2trader.codec import MalformedFrame
from blotter.venues.b2trader.signalr import MalformedRecord

__all__ = ["MalformedFrame", "MalformedRecord"]
