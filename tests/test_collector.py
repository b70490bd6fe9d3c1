"""A big fresh list is kept out of the garbage collector's walks; a small one is not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from blotter.collector import freeze_after_big_lists
from blotter.core.order import AccountKey, Snapshot
from blotter.core.store import OrderStore
from tests.ui.book import make_order

ACCOUNT = AccountKey("bitfinex", "acct")


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # what a test froze goes back to the collector


def test_a_big_fresh_list_is_frozen_a_small_one_is_not(thawed: None) -> None:
    store = OrderStore()
    stop = freeze_after_big_lists(store, rows=50)
    store.apply(Snapshot(ACCOUNT, tuple(make_order(n) for n in range(10))))
    assert gc.get_freeze_count() == 0
    orders = tuple(make_order(n) for n in range(60))
    store.apply(Snapshot(ACCOUNT, orders))
    assert gc.get_freeze_count() > 0
    assert len(store.orders()) == 60
    gc.unfreeze()
    stop()
    store.apply(Snapshot(ACCOUNT, tuple(make_order(n) for n in range(100, 200))))
    assert gc.get_freeze_count() == 0  # stopped: no more freezing
