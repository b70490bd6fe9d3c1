"""Signing test vectors of bitfinex.md §7, and the persisted monotonic nonce (§5.2, §8 #1)."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from blotter.venues.bitfinex import codec
from blotter.venues.bitfinex.nonce import MAX_NONCE, NonceSource, key_fingerprint

SECRET = "secret"
NONCE = 1700000000000000


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        (  # WS auth (docs / py lib)
            "AUTH1700000000000000",
            ("972fdb5f9dd2676d1d363fff221e4db3f14cf7a1bd7cf5c2baae317251d6aca9"
            "f1412106221dbac44d35ce125fbf4840"),
        ),
        (  # REST cancel, compact body
            '/api/v2/auth/w/order/cancel1700000000000000{"id":123}',
            ("06a58367ea8fc68d720bf6e47e3c8ae6791b03fe62e215e420db2dc6ba797a34"
            "3e330e75bb079e62b8a7db0133b4b66e"),
        ),
        (  # WS auth, node-lib style (nonce twice)
            "AUTH17000000000000001700000000000000",
            ("9988d19ed872ea5c2339d1cbdedbb0d9f5122c4469c2691c927c41cf4df9fdc2"
            "1404cef06924e21f5c333d4922ab9912"),
        ),
        (  # REST cancel, py-lib body (json.dumps adds a space)
            '/api/v2/auth/w/order/cancel1700000000000000{"id": 123}',
            ("82c4b5eb290e5dda3c72fa09123211084bf25bd1ed415b42ad9bd714b27406dc"
            "ea8dc93013a65fbe8b0172724e9eda2f"),
        ),
        (  # REST open orders, body {}
            "/api/v2/auth/r/orders1700000000000000{}",
            ("409e248105be171c488ac1970f247035b11a07e5f7a7ebdbd71242060fc0456d"
            "76e36b4b29baa4851411eff28b2dfd1f"),
        ),
        (  # REST cancel multi
            '/api/v2/auth/w/order/cancel/multi1700000000000000{"id":[123,456]}',
            ("8abb1f3c07b17f73fd3f74a8700592eeb9fd6483b5b4e761c38300e963ac39ba"
            "00da4e9ed4f8a6e2de812b9c0070e6ac"),
        ),
    ],
)
def test_vectors(message: str, signature: str) -> None:
    assert codec.sign(SECRET, message) == signature
    assert codec.sign(SECRET, message.encode()) == signature


def test_ws_auth_message() -> None:
    raw = codec.auth_message("KEY", SECRET, NONCE)
    msg = orjson.loads(raw)
    assert msg == {
        "event": "auth",
        "apiKey": "KEY",
        "authSig": "972fdb5f9dd2676d1d363fff221e4db3f14cf7a1bd7cf5c2baae317251d6aca9"
        "f1412106221dbac44d35ce125fbf4840",
        "authPayload": "AUTH1700000000000000",
        "authNonce": 1700000000000000,  # a JSON number, as the official libraries send it
        "filter": ["trading", "notify"],
    }
    assert "dms" not in msg  # dms:4 would cancel every order whenever the socket drops
    with_dms = orjson.loads(codec.auth_message("KEY", SECRET, NONCE, dead_man_switch=True))
    assert with_dms["dms"] == 4


def test_rest_request_cancel_matches_the_notes() -> None:
    req = codec.rest_request(codec.PATH_CANCEL, {"id": 123}, "KEY", SECRET, NONCE)
    assert req.path == "/v2/auth/w/order/cancel"
    assert req.body == b'{"id":123}'  # the exact bytes signed are the bytes sent
    assert req.headers == {
        "content-type": "application/json",
        "bfx-nonce": "1700000000000000",
        "bfx-apikey": "KEY",
        "bfx-signature": "06a58367ea8fc68d720bf6e47e3c8ae6791b03fe62e215e420db2dc6ba797a34"
        "3e330e75bb079e62b8a7db0133b4b66e",
    }
    assert "KEY" not in repr(req) and SECRET not in repr(req)


def test_rest_request_orders_and_multi() -> None:
    orders = codec.rest_request(codec.PATH_ORDERS, {}, "KEY", SECRET, NONCE)
    assert orders.body == b"{}"
    assert orders.headers["bfx-signature"].startswith("409e248105be171c")
    multi = codec.rest_request(codec.PATH_CANCEL_MULTI, {"id": [123, 456]}, "KEY", SECRET, NONCE)
    assert multi.path == "/v2/auth/w/order/cancel/multi"
    assert multi.body == b'{"id":[123,456]}'
    assert multi.headers["bfx-signature"].startswith("8abb1f3c07b17f73")


# -- nonce -------------------------------------------------------------------------------------------
class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_nonce_is_the_clock_in_microseconds_when_ahead(tmp_path: Path) -> None:
    source = NonceSource("k", tmp_path, clock_us=Clock(NONCE))
    assert source.next() == NONCE


def test_nonce_strictly_increases_on_a_frozen_clock(tmp_path: Path) -> None:
    source = NonceSource("k", tmp_path, clock_us=Clock(NONCE))
    values = [source.next() for _ in range(5)]
    assert values == [NONCE, NONCE + 1, NONCE + 2, NONCE + 3, NONCE + 4]


def test_nonce_survives_a_restart_with_the_clock_gone_back(tmp_path: Path) -> None:
    first = NonceSource("key-1", tmp_path, clock_us=Clock(NONCE))
    last = [first.next() for _ in range(3)][-1]
    # a new process on the same directory, with the clock an hour behind
    again = NonceSource("key-1", tmp_path, clock_us=Clock(NONCE - 3_600_000_000))
    assert again.next() == last + 1
    assert again.next() == last + 2


def test_nonce_files_are_per_key_and_never_hold_the_key(tmp_path: Path) -> None:
    a = NonceSource("the-api-key-A", tmp_path, clock_us=Clock(NONCE))
    b = NonceSource("the-api-key-B", tmp_path, clock_us=Clock(5))
    a.next()
    assert b.next() == 5  # another key has its own counter
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [f"bitfinex-nonce-{key_fingerprint('the-api-key-A')}",
         f"bitfinex-nonce-{key_fingerprint('the-api-key-B')}"]
    )
    for path in tmp_path.iterdir():
        assert "the-api-key" not in path.name
        assert "the-api-key" not in path.read_text()


def test_nonce_follows_another_process_using_the_same_file(tmp_path: Path) -> None:
    ours = NonceSource("k", tmp_path, clock_us=Clock(NONCE))
    ours.next()
    theirs = NonceSource("k", tmp_path, clock_us=Clock(NONCE + 500))
    assert theirs.next() == NONCE + 500
    assert ours.next() == NONCE + 501  # read from the file, not only from memory


def test_nonce_bump_and_limit(tmp_path: Path) -> None:
    source = NonceSource("k", tmp_path, clock_us=Clock(NONCE))
    source.bump(NONCE + 1_000_000)
    assert source.next() == NONCE + 1_000_001
    capped = NonceSource("c", tmp_path, clock_us=Clock(MAX_NONCE + 1))
    with pytest.raises(OverflowError):
        capped.next()


def test_nonce_is_shared_per_key_and_thread_safe(tmp_path: Path) -> None:
    shared = NonceSource.for_key("k", tmp_path)
    assert NonceSource.for_key("k", tmp_path) is shared
    assert NonceSource.for_key("other", tmp_path) is not shared
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [shared.next() for _ in range(200)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 800


def test_unwritable_directory_still_gives_increasing_nonces(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    source = NonceSource("k", blocker / "sub", clock_us=Clock(NONCE))
    assert source.next() < source.next()
