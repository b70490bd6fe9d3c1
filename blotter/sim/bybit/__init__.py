"""Loopback simulator of the Bybit v5 API, written from `venues/bybit.md`."""

from .auth import rest_signed_message, sign, signature_ok, window_ok, ws_auth_message
from .server import BybitSimulator

__all__ = [
    "BybitSimulator",
    "rest_signed_message",
    "sign",
    "signature_ok",
    "window_ok",
    "ws_auth_message",
]
