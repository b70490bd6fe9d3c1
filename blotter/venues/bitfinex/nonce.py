"""The Bitfinex nonce: microseconds, strictly increasing per API key, across restarts.

Bitfinex checks one counter per key for REST and WebSocket auth alike and rejects anything not
above the last nonce it saw (``10114 nonce: small``). A key that once saw a large nonce is
poisoned for smaller ones forever, so the last value is kept in a small file per key (named by a
hash of the key, never the key itself) and the next nonce is ``max(now_us, last + 1)``: a clock
that stepped back, or a second process using the same key (``blotter cancel`` beside the
window), cannot push us below what the venue already accepted.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

MAX_NONCE = 9_007_199_254_740_991  # 2**53 - 1: the venue's documented maximum


def default_nonce_dir() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("blotter"))


def _now_us() -> int:
    return time.time_ns() // 1000


def key_fingerprint(api_key: str) -> str:
    """A short, stable, non-reversible name for a key (for file names and logs)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:24]


class NonceSource:
    """One per API key per process (see ``for_key``); thread-safe; persists each value."""

    _shared: ClassVar[dict[tuple[str, str], NonceSource]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        api_key: str,
        directory: str | os.PathLike[str] | None = None,
        clock_us: Callable[[], int] = _now_us,
    ) -> None:
        base = Path(directory) if directory is not None else default_nonce_dir()
        self.path = base / f"bitfinex-nonce-{key_fingerprint(api_key)}"
        self._clock_us = clock_us
        self._lock = threading.Lock()
        self._last = self._read()

    @classmethod
    def for_key(
        cls, api_key: str, directory: str | os.PathLike[str] | None = None
    ) -> NonceSource:
        """The process-wide source for this key and directory, shared by REST and WS."""
        base = Path(directory) if directory is not None else default_nonce_dir()
        ident = (str(base.resolve()), key_fingerprint(api_key))
        with cls._shared_lock:
            source = cls._shared.get(ident)
            if source is None:
                source = cls(api_key, base)
                cls._shared[ident] = source
            return source

    @property
    def last(self) -> int:
        return self._last

    def next(self) -> int:
        with self._lock:
            # Another process may have used the key since: the file is the shared truth.
            last = max(self._last, self._read())
            nonce = max(self._clock_us(), last + 1)
            if nonce > MAX_NONCE:
                raise OverflowError("nonce above 2**53-1: the key needs to be replaced")
            self._last = nonce
            self._write(nonce)
            return nonce

    def bump(self, at_least: int) -> None:
        """Make the next nonce exceed ``at_least`` (after the venue said ``nonce: small``)."""
        with self._lock:
            if at_least > self._last:
                self._last = at_least
                self._write(at_least)

    def _read(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii").strip()
            return int(text) if text else 0
        except (OSError, ValueError):
            return 0

    def _write(self, value: int) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(str(value), encoding="ascii")
            os.replace(tmp, self.path)
        except OSError:
            # An unwritable state dir must not stop a cancel: the in-memory counter still holds
            # within this process, and the clock keeps us ahead of earlier runs in practice.
            pass
