"""Loopback simulator of the Bitfinex API v2, written from `venues/bitfinex.md`."""

from .auth import rest_signed_message, sign, signature_ok
from .server import BitfinexSimulator

__all__ = ["BitfinexSimulator", "rest_signed_message", "sign", "signature_ok"]
