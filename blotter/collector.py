"""The garbage collector kept off the rows that live long.

A window with 10k open orders holds a few hundred thousand Python objects that stay put until
their order changes (the orders, their decimals and keys, the model's lists). Python's full
collections walk every one of them: measured at 35-42 ms each, about one every ten seconds
under a flood of 5k updates a second — two or three missed frames at a time, the longest
stall the window had (bench/bench_flood.py, "garbage collections" and the lag's max).

After a fresh list of many orders lands, everything alive is moved out of the collector's
sight (``gc.freeze``): the collector then walks only what came after. Frozen objects are still
freed the ordinary way when nothing refers to them any more (an order replaced by its update),
so memory does not grow; only a reference cycle that was already garbage at the moment of the
freeze stays until the process ends, a one-off amount per big list.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from blotter.core.closes import ResyncDiff
from blotter.core.store import OrderStore

BIG_LIST = 1000  # rows a fresh list must bring in or change before the collector is spared them


def freeze_after_big_lists(store: OrderStore, rows: int = BIG_LIST) -> Callable[[], None]:
    """Freeze what is alive (``gc.freeze``) whenever a fresh list brings ``rows`` or more new or
    changed orders into ``store``; returns the function that stops doing so."""

    def landed(diff: ResyncDiff) -> None:
        if len(diff.added) + len(diff.changed) >= rows:
            gc.freeze()

    store.add_resync_listener(landed)
    return lambda: store.remove_resync_listener(landed)
