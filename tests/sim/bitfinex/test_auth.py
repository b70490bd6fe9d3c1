"""The simulator checks signatures as the notes' test vectors say (bitfinex.md §7)."""

from __future__ import annotations

import pytest

from blotter.sim.bitfinex import rest_signed_message, sign, signature_ok
from tests.sim.bitfinex.wire import (
    hmac384,
)

pytestmark = pytest.mark.timeout(10)

VECTORS = [
    ("AUTH1700000000000000",
     ("972fdb5f9dd2676d1d363fff221e4db3f14cf7a1bd7cf5c2baae317251d6aca9"
      "f1412106221dbac44d35ce125fbf4840")),
    ('/api/v2/auth/w/order/cancel1700000000000000{"id":123}',
     ("06a58367ea8fc68d720bf6e47e3c8ae6791b03fe62e215e420db2dc6ba797a34"
      "3e330e75bb079e62b8a7db0133b4b66e")),
    ("AUTH17000000000000001700000000000000",
     ("9988d19ed872ea5c2339d1cbdedbb0d9f5122c4469c2691c927c41cf4df9fdc2"
      "1404cef06924e21f5c333d4922ab9912")),
    ('/api/v2/auth/w/order/cancel1700000000000000{"id": 123}',
     ("82c4b5eb290e5dda3c72fa09123211084bf25bd1ed415b42ad9bd714b27406dc"
      "ea8dc93013a65fbe8b0172724e9eda2f")),
    ("/api/v2/auth/r/orders1700000000000000{}",
     ("409e248105be171c488ac1970f247035b11a07e5f7a7ebdbd71242060fc0456d"
      "76e36b4b29baa4851411eff28b2dfd1f")),
    ('/api/v2/auth/w/order/cancel/multi1700000000000000{"id":[123,456]}',
     ("8abb1f3c07b17f73fd3f74a8700592eeb9fd6483b5b4e761c38300e963ac39ba"
      "00da4e9ed4f8a6e2de812b9c0070e6ac")),
]



@pytest.mark.parametrize(("message", "digest"), VECTORS)
def test_notes_vectors_match_the_verifier(message: str, digest: str) -> None:
    assert hmac384("secret", message) == digest
    assert sign("secret", message) == digest
    assert signature_ok("secret", message, digest)
    assert signature_ok("secret", message, digest.upper())
    assert not signature_ok("secret", message + " ", digest)
    assert not signature_ok("Secret", message, digest)


def test_rest_message_is_built_from_raw_bytes() -> None:
    msg = rest_signed_message("/v2/auth/w/order/cancel", "1700000000000000", b'{"id":123}')
    assert sign("secret", msg) == VECTORS[1][1]
    empty = rest_signed_message("/v2/auth/r/wallets", "1700000000000000", b"")
    assert empty == b"/api/v2/auth/r/wallets1700000000000000"
