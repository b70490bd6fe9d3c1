"""The simulated Bybit venue's credential checks against every test vector of the notes (§9)
and the timestamp window (§1.3)."""

from __future__ import annotations

import pytest

from blotter.sim.bybit import rest_signed_message, sign, signature_ok, window_ok, ws_auth_message
from tests.sim.bybit.raw_client import hmac256

pytestmark = pytest.mark.timeout(10)


# bybit.md §9, inputs: key "key", secret "secret", timestamp 1700000000000, recv window 5000
VECTORS = [
    ('1700000000000key5000{"category":"linear","symbol":"BTCUSDT","orderId":"abc"}',
     "6abbd46cbb93c45a96a20a387757245b5ba2a8b9502eb45811472b8676d35c72"),
    ('1700000000000key5000{"category": "linear", "symbol": "BTCUSDT", "orderId": "abc"}',
     "30bc5f92b34d099e669d26709024fa0e89dbd5730e697a5412fdcc00cc4b608e"),
    ("1700000000000key5000category=linear&symbol=BTCUSDT",
     "3906b813750309cce9879a975510651953382a28592d69104d0b599e3d201f40"),
    ("1700000000000key5000category=linear&limit=50&settleCoin=USDT",
     "0d014db4b8cb8af3a44a56b26baa4e64fa9124f792a6e064bea8649e0ce63cc3"),
    ("1700000000000key5000category=spot",
     "17c2acfe0756d6851d1c5926859c172d8922e199dc9ad0f0b47bce6e00fd1d5e"),
    (("1700000000000key5000category=linear&settleCoin=USDT&limit=50&cursor=page_args%3Dfd4300ae"
      "%26symbol%3D6%26"),
     "c5300628bd0da07ed8d0cbfed5897ea50d5bc03927bb6e3c64d4bfcb56359648"),
    ('1700000000000key5000{"category":"linear","settleCoin":"USDT"}',
     "d997a87882f15b4f6b61aff7c955ddee129cccea93e822e1f7a6b25f1afc144a"),
    ('1700000000000key5000{"category":"spot","orderFilter":"StopOrder"}',
     "8e0a7358479201252dab798cb9cf56bbfe29df0bcabe1010794ff5d85ab773b2"),
    ('1700000000000key5000{"category":"spot","request":[{"symbol":"BTCUSDT","orderId":"abc"}]}',
     "b560b9f88f856120097608068141e68fe6d11469d439cefcfcf4e1395f7a46da"),
    ("GET/realtime1700000005000",
     "870a92b7592554e69a02b26e07d3cd0f25689e17ef588149eaf04b9c1358a6fa"),
]


@pytest.mark.parametrize(("message", "digest"), VECTORS)
def test_notes_vectors_match_the_verifier(message: str, digest: str) -> None:
    assert hmac256("secret", message) == digest
    assert sign("secret", message) == digest
    assert signature_ok("secret", message, digest)
    assert signature_ok("secret", message, digest.upper())
    assert not signature_ok("secret", message + " ", digest)


def test_message_builders_and_window() -> None:
    msg = rest_signed_message("1700000000000", "key", "5000", b'{"category":"spot"}')
    assert msg == b'1700000000000key5000{"category":"spot"}'
    assert sign("secret", ws_auth_message(1700000005000)) == VECTORS[-1][1]
    # notes §9: at server 1700000000500, recv 5000 accepts [1699999995500, 1700000001500)
    assert window_ok(1699999995500, 1700000000500, 5000)
    assert not window_ok(1699999995499, 1700000000500, 5000)
    assert window_ok(1700000001499, 1700000000500, 5000)
    assert not window_ok(1700000001500, 1700000000500, 5000)
