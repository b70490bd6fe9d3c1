"""The last known orders across restarts: written atomically a moment after a change and at
exit, read back as unverified rows, and a broken file reported and set aside, never fatal."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from blotter.core.closes import CloseReason
from blotter.core.notices import AccountState, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, Flag, Order, OrderStatus, Side, Snapshot
from blotter.core.store import OrderStore
from blotter.core.trust import clock_time
from blotter.engine import Engine
from blotter.saved_orders import (
    OrderSaver,
    UnreadableState,
    default_path,
    dumps,
    load,
    loads,
    restore,
    state_dir,
)
from tests.helpers import until

BFX = AccountKey("bitfinex", "bfx-main")
B2 = AccountKey("b2trader", "acme/T1")
SAVED_AT = 1_765_000_000_000


def order(oid: str, account: AccountKey = BFX, remaining: str = "0.1", **extra: object) -> Order:
    fields: dict[str, object] = {
        "venue": account.venue, "account": account.account, "order_id": oid, "symbol": "tBTCUSD",
        "side": Side.BUY, "order_type": "EXCHANGE LIMIT", "amount": Decimal("0.1"),
        "remaining": Decimal(remaining), "status": OrderStatus.OPEN, "status_text": "ACTIVE",
        "price": Decimal(95130), "client_id": "77", "client_id_date": "2026-12-05", "group_id": "7",
        "flags": frozenset({Flag.POST_ONLY}), "created_ms": SAVED_AT - 5000, "updated_ms": SAVED_AT,
    }
    fields.update(extra)
    return Order(**fields)  # type: ignore[arg-type]


def test_the_orders_and_closes_read_back_exactly(tmp_path: Path) -> None:
    store = OrderStore(clock=lambda: SAVED_AT)
    store.apply(Snapshot(BFX, (order("1"), order("2"))))
    store.apply(Closed(order("2", status=OrderStatus.FILLED, remaining="0",
                             avg_price=Decimal("95120.5"), status_text="EXECUTED @ 95120.5")))
    text = dumps(SAVED_AT, store.orders(), store.closed)
    back = loads(text)
    assert back.saved_ms == SAVED_AT
    assert back.orders == (order("1"),)
    assert back.closed == tuple(store.closed)
    assert back.closed[0].reason is CloseReason.FILLED
    assert json.loads(text)["orders"][0]["amount"] == "0.1"  # decimals as written, not floats


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "Expecting property name"),
        ('{"version": 99, "saved_ms": 1, "orders": []}', "not a saved-orders file"),
        ('{"version": 1, "orders": []}', "no time of saving"),
        ('{"version": 1, "saved_ms": 1, "orders": [{"venue": "bitfinex"}]}', "not text"),
        ('{"version": 1, "saved_ms": 1, "orders": [' + json.dumps(
            {**json.loads(dumps(1, [order("1")], []))["orders"][0], "remaining": "NaN"}) + "]}",
         "remaining is not finite"),
    ],
)
def test_a_broken_file_is_reported_and_set_aside_never_half_read(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "orders.json"
    path.write_text(text)
    with pytest.raises(UnreadableState, match=why) as caught:
        load(path)
    assert "kept as orders.json.unreadable" in str(caught.value)
    assert not path.exists() and (tmp_path / "orders.json.unreadable").read_text() == text


def test_no_file_is_no_saved_orders(tmp_path: Path) -> None:
    assert load(tmp_path / "orders.json") is None


def test_the_state_dir_can_be_pointed_elsewhere(tmp_path: Path) -> None:
    env = {"BLOTTER_STATE_DIR": str(tmp_path)}
    assert state_dir(env) == tmp_path
    assert default_path(demo=True, environ=env) == tmp_path / "demo-orders.json"
    assert default_path(environ=env) == tmp_path / "orders.json"


async def test_changes_are_written_once_after_a_pause_and_again_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "state" / "orders.json"
    store = OrderStore()
    saver = OrderSaver(store, path, clock=lambda: SAVED_AT, delay=0.05)
    for n in range(20):  # a burst of changes is one write
        store.put(order(str(n)))
        store.flush()
    await until(lambda: saver.saves == 1)
    await asyncio.sleep(0.15)
    assert saver.saves == 1
    assert {o.order_id for o in load(path).orders} == {str(n) for n in range(20)}  # type: ignore[union-attr]
    store.apply(Closed(order("3", status=OrderStatus.CANCELLED)))
    await saver.close()
    saved = load(path)
    assert saved is not None and "3" not in {o.order_id for o in saved.orders}
    assert [c.order.order_id for c in saved.closed] == ["3"]
    assert not list(path.parent.glob("*.tmp"))  # atomic: no half-written file left behind


async def test_a_write_that_fails_is_said_and_the_app_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state dir should be")
    store = OrderStore()
    saver = OrderSaver(store, blocker / "orders.json", clock=lambda: SAVED_AT, delay=0.01)
    store.put(order("1"))
    await saver.close()
    assert saver.error is not None and "not-a-dir" in saver.error and saver.saves == 0


def test_restored_rows_are_unverified_as_of_the_save_until_the_first_list() -> None:
    engine = Engine(OrderStore(), NoticeBus(), StateBus(), clock=lambda: SAVED_AT + 60_000)
    said: list[str] = []
    engine.notices.subscribe(lambda n: said.append(n.text))
    saved = loads(dumps(SAVED_AT, [order("1"), order("2"), order("9", B2),
                                   order("5", AccountKey("bybit", "gone"))], []))
    accounts = restore(engine.store, saved, lambda a: a.venue != "bybit")
    engine.trust.restore(accounts, saved.saved_ms)
    assert accounts == {BFX, B2}
    assert {o.order_id for o in engine.store} == {"1", "2", "9"}  # a removed account's are not
    assert not engine.trust.verified(BFX) and engine.trust.unverified_since(BFX) == SAVED_AT
    assert not engine.trust.verified(B2)
    assert said == []  # showing the last known orders is not news
    # the venue answers: one filled while blotter was closed, one new, one changed
    engine.store.apply(Snapshot(BFX, (order("2", remaining="0.04"), order("3"))))
    assert said == [(f"Since blotter last ran (orders as of {clock_time(SAVED_AT)}), bfx-main: "
                    "1 closed while unseen, 1 new, 1 changed")]
    engine.states.publish(AccountState(BFX.venue, BFX.account, VenueState.LIVE, ts_ms=SAVED_AT))
    assert engine.trust.verified(BFX) and not engine.trust.verified(B2)
