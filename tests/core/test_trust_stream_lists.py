"""A full list that is how the stream speaks (``Snapshot(stream=True)``, a B2TRADER hub in
snapshot mode) is never summed up as something missed, whatever the account's state: only a
fresh list (a reconnect's, a check's) is."""

from __future__ import annotations

from decimal import Decimal

from blotter.core.notices import AccountState, Notice, NoticeBus, VenueState
from blotter.core.order import AccountKey, Order, OrderStatus, Side, Snapshot
from blotter.core.store import OrderStore
from blotter.core.trust import TrustBoard, TrustReporter

LOGIN = AccountKey("b2trader", "acme")
MAIN = AccountKey("b2trader", "acme/Main")


def order(order_id: str, remaining: str = "1") -> Order:
    return Order("b2trader", MAIN.account, order_id, "BTC/USDT", Side.BUY, "Limit",
                 Decimal(1), Decimal(remaining), OrderStatus.OPEN, "Pending", Decimal(100))


def state(kind: VenueState, ts: int) -> AccountState:
    return AccountState(LOGIN.venue, LOGIN.account, kind, "", ts)


def test_stream_lists_are_news_in_every_state_and_fresh_lists_are_summed_up() -> None:
    now = [1_000_000]
    board = TrustBoard(lambda: now[0])
    notices = NoticeBus()
    said: list[Notice] = []
    notices.subscribe(said.append)
    reporter = TrustReporter(board, notices, lambda: now[0])
    store = OrderStore(clock=lambda: now[0])
    store.add_resync_listener(reporter.on_resync)
    store.add_resync_listener(board.on_resync)

    store.apply(Snapshot(MAIN, (order("A"), order("B"))))  # the first list: nothing known
    board.on_state(state(VenueState.LIVE, now[0]))
    board.on_state(state(VenueState.STALE, now[0]))  # an unreadable list: re-reading
    now[0] += 2000
    store.apply(Snapshot(MAIN, (order("A"), order("C")), stream=True))  # the stream goes on
    assert said == []
    store.apply(Snapshot(MAIN, (order("A", "0.5"), order("C"))))  # the fresh list
    assert [n.text for n in said] == ["While acme/Main was unverified (2 s): 1 changed"]
    board.on_state(state(VenueState.LIVE, now[0]))
    store.apply(Snapshot(MAIN, (order("C"),), stream=True))
    assert len(said) == 1
    store.apply(Snapshot(MAIN, ()))  # a check that finds what the stream missed
    assert said[-1].text.startswith("Audit of acme/Main: order C (")
