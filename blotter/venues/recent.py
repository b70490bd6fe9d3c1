"""What a parser remembers of the orders it saw lately, in bounded memory.

A stream parser keeps, per order id, what it made of the fields that never change while the
order lives, so that an update of a known order costs only a look-up. Kept for every open order,
that memory grows with the book (about 350 bytes an order, 35 MB at 100k open orders); kept for
the orders seen lately, it stays small, and an order not seen for a long while is read in full
again, once, the next time it changes.

``Recent`` is a map in two generations: look-ups go to ``current`` (a plain dict, read on the hot
path without a method call); when it is full, its entries become the older generation and it
starts empty again; an entry found only in the older one moves back to ``current``. So whatever
was seen within the last ``generation`` insertions is always remembered, and never more than
twice that.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """A map that remembers at least the last ``generation`` keys put or recalled, and at most
    twice as many. ``current`` is a dict that stays the same object for the map's life (a parser
    may bind its ``get`` once); ``recall`` finds what only the older generation holds."""

    __slots__ = ("_older", "current", "generation")

    def __init__(self, generation: int) -> None:
        if generation < 1:
            raise ValueError("a generation holds at least one entry")
        self.generation = generation
        self.current: dict[K, V] = {}
        self._older: dict[K, V] = {}

    def __len__(self) -> int:
        return len(self.current) + len(self._older)

    def __contains__(self, key: object) -> bool:
        return key in self.current or key in self._older

    def recall(self, key: K) -> V | None:
        """The value of ``key`` (moved to the current generation if it was older), or None."""
        value = self.current.get(key)
        if value is None:
            value = self._older.pop(key, None)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key``; when the current generation is full, it becomes the
        older one first (and what the older one held is forgotten)."""
        current = self.current
        if len(current) >= self.generation and key not in current:
            self._older = current.copy()
            current.clear()
        current[key] = value

    def pop(self, key: K) -> None:
        """Forget ``key`` (nothing if it was not remembered)."""
        self.current.pop(key, None)
        self._older.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self.current.clear()
        self._older.clear()
