"""The persisted monotonic nonce of each API key (bitfinex.md §5.2, §8 #1)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from blotter.venues.bitfinex.nonce import MAX_NONCE, NonceSource, key_fingerprint

NONCE = 1700000000000000


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
