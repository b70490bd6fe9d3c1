"""Credential checks of the simulated venue: HMAC-SHA256 over the exact bytes received.

Written from the protocol notes (bybit.md §1, §7.1, §9, §11), independently of the client.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string

DEFAULT_RECV_WINDOW = 5000
# a timestamp may be at most this far ahead of the server clock (notes §1.3)
AHEAD_TOLERANCE_MS = 1000

_ALPHABET = string.ascii_letters + string.digits


def sign(secret: str, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `message` keyed with the UTF-8 secret."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def signature_ok(secret: str, message: str | bytes, signature: object) -> bool:
    """True when `signature` is the HMAC of `message`; constant time, case-insensitive hex."""
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign(secret, message), signature.strip().lower())


def rest_signed_message(timestamp: str, api_key: str, recv_window: str, payload: bytes) -> bytes:
    """timestamp + apiKey + recvWindow + payload, where payload is the raw query string after
    `?` (GET, undecoded) or the raw body bytes (POST), never a re-serialised copy."""
    return (timestamp + api_key + recv_window).encode("utf-8") + payload


def ws_auth_message(expires: int | str) -> str:
    """What the private websocket auth signs: "GET/realtime" + expires."""
    return f"GET/realtime{expires}"


def window_ok(timestamp: int, server_ms: int, recv_window: int) -> bool:
    """The venue's rule: server - recv_window <= timestamp < server + 1000 (notes §1.3)."""
    return server_ms - recv_window <= timestamp < server_ms + AHEAD_TOLERANCE_MS


def random_credentials(rng: random.Random) -> tuple[str, str]:
    """Demo key and secret shaped like the venue's (18 and 36 alphanumeric characters)."""
    key = "".join(rng.choice(_ALPHABET) for _ in range(18))
    secret = "".join(rng.choice(_ALPHABET) for _ in range(36))
    return key, secret
