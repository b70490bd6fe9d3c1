"""Credential checks of the simulated venue: HMAC-SHA384 signatures and per-key nonces.

Written from the protocol notes (bitfinex.md §2.2, §5.1, §5.2, §7), independently of the client.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string

from .market import as_int

# The venue refuses nonces above JavaScript's MAX_SAFE_INTEGER.
MAX_NONCE = 2**53 - 1

_KEY_ALPHABET = string.ascii_letters + string.digits


def sign(secret: str, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA384 of `message` keyed with the UTF-8 secret."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha384).hexdigest()


def signature_ok(secret: str, message: str | bytes, signature: object) -> bool:
    """True when `signature` is the HMAC of `message`; constant time, case-insensitive hex."""
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign(secret, message), signature.strip().lower())


def rest_signed_message(path: str, nonce: str, raw_body: bytes) -> bytes:
    """What a REST request signs: "/api" + path (e.g. "/v2/auth/r/orders") + nonce + raw body.

    The body is taken as the bytes received, never re-serialised: clients differ in JSON spacing
    (compact vs. `json.dumps` defaults) and some send no body at all.
    """
    return b"/api" + path.encode("utf-8") + nonce.encode("utf-8") + raw_body


def parse_nonce(value: object) -> int | None:
    """A nonce given as a JSON number or a string of digits; None when it is neither."""
    nonce = as_int(value)
    return nonce if nonce is not None and nonce >= 0 else None


class NonceBook:
    """Last accepted nonce per API key; one counter serves REST and websocket auth alike."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def last(self, api_key: str) -> int:
        return self._last.get(api_key, 0)

    def accept(self, api_key: str, nonce: int) -> bool:
        """Record `nonce` if it is larger than the last one and within range."""
        if nonce <= self.last(api_key) or nonce > MAX_NONCE:
            return False
        self._last[api_key] = nonce
        return True


def random_credentials(rng: random.Random) -> tuple[str, str]:
    """Demo key and secret shaped like the venue's (43 alphanumeric characters each)."""
    key = "".join(rng.choice(_KEY_ALPHABET) for _ in range(43))
    secret = "".join(rng.choice(_KEY_ALPHABET) for _ in range(43))
    return key, secret
