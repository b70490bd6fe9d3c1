"""Tokens of the simulated B2TRADER broker: the long-lived API token a trader copies from the
terminal, and the short HS256 JWT it is exchanged for (b2trader.md §1.2, §6 A-1, A-2).

The JWT is signed and checked here with hmac/hashlib/base64 only, written from RFC 7515/7519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import string
from typing import Any

_ALPHABET = string.ascii_letters + string.digits
_HEADER = {"alg": "HS256", "typ": "JWT"}


class TokenError(Exception):
    """A bearer token that is missing, malformed, badly signed or expired; `str()` is the
    `error_description` the 401's WWW-Authenticate header carries."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset(string.ascii_letters + string.digits + "-_")


def _hs256(secret: bytes, signing_input: bytes) -> bytes:
    return hmac.new(secret, signing_input, hashlib.sha256).digest()


def encode_jwt(claims: dict[str, Any], secret: bytes) -> str:
    """`header.payload.signature`, compact JSON, HS256."""
    header = b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{b64url(_hs256(secret, signing_input))}"


def decode_jwt(token: str, secret: bytes, now: float) -> dict[str, Any]:
    """The claims of a valid, unexpired HS256 token; raises TokenError otherwise.

    Only HS256 is accepted (`alg: none` or any other algorithm is refused), the signature is
    compared in constant time, and `exp` is required and must lie after `now`.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("The token is malformed")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TokenError("The token is malformed") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenError("The signature key was not found")
    expected = _hs256(secret, f"{parts[0]}.{parts[1]}".encode("ascii"))
    if not hmac.compare_digest(expected, signature):
        raise TokenError("The signature is invalid")
    if not isinstance(claims, dict):
        raise TokenError("The token is malformed")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise TokenError("The token has no expiration time")
    if now >= exp:
        raise TokenError(f"The token expired at {int(exp)}")
    return claims


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def random_api_token(rng: random.Random) -> str:
    """A demo API token; the real format is not published (b2trader.md §1.2), so: 48
    alphanumerics."""
    return "".join(rng.choice(_ALPHABET) for _ in range(48))


__all__ = [
    "TokenError",
    "b64url",
    "b64url_decode",
    "bearer_token",
    "decode_jwt",
    "encode_jwt",
    "random_api_token",
]
