"""Loopback simulator of a broker running the B2TRADER platform, written from
`venues/b2trader.md` (REST token exchange, accounts and cancel; SignalR `OpenOrders` stream)."""

from .auth import TokenError, b64url, b64url_decode, bearer_token, decode_jwt, encode_jwt
from .server import WS_PATH, B2traderSimulator

__all__ = [
    "WS_PATH",
    "B2traderSimulator",
    "TokenError",
    "b64url",
    "b64url_decode",
    "bearer_token",
    "decode_jwt",
    "encode_jwt",
]
