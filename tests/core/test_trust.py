"""Trust at a glance: which rows a live stream vouches for, and what the trader is told about
closes they did not ask for and about what a fresh list changed."""

from __future__ import annotations

from decimal import Decimal

from blotter.core.closes import CloseReason, ResyncDiff
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, VenueState
from blotter.core.order import AccountKey, Closed, Order, OrderStatus, Side, Snapshot
from blotter.core.store import OrderStore
from blotter.core.trust import TrustBoard, TrustReporter, client_account, clock_time

A = AccountKey("bybit", "by-main")
LOGIN = AccountKey("b2trader", "acme")
T1 = AccountKey("b2trader", "acme/T1")


class Clock:
    def __init__(self) -> None:
        self.ms = 1_765_000_000_000

    def __call__(self) -> int:
        return self.ms


def order(oid: str, account: AccountKey = A, remaining: str = "1",
          status: OrderStatus = OrderStatus.OPEN, text: str = "New") -> Order:
    return Order(account.venue, account.account, oid, "BTCUSDT", Side.SELL, "Limit",
                 Decimal(1), Decimal(remaining), status, text, price=Decimal(96000))


def state(s: VenueState, account: AccountKey = A, ts: int | None = None, **kw: object) -> AccountState:
    return AccountState(account.venue, account.account, s, ts_ms=ts, **kw)  # type: ignore[arg-type]


def wired() -> tuple[Clock, TrustBoard, OrderStore, list[Notice]]:
    clock = Clock()
    board = TrustBoard(clock)
    notices = NoticeBus()
    said: list[Notice] = []
    notices.subscribe(said.append)
    store = OrderStore(clock=clock)
    reporter = TrustReporter(board, notices, clock)
    store.add_resync_listener(reporter.on_resync)
    store.add_resync_listener(board.on_resync)
    store.add_close_listener(reporter.on_close)
    return clock, board, store, said


def test_rows_are_verified_only_while_their_account_is_live() -> None:
    clock, board, _, _ = wired()
    assert not board.verified(A) and board.unverified_since(A) == clock.ms  # never heard of
    board.on_state(state(VenueState.CONNECTING, ts=clock.ms))
    board.on_state(state(VenueState.LIVE, ts=clock.ms + 1000))
    assert board.verified(A) and board.unverified_since(A) is None
    v = board.version
    board.on_state(state(VenueState.STALE, ts=clock.ms + 9000, reason="silent 10 s"))
    assert not board.verified(A) and board.unverified_since(A) == clock.ms + 9000
    assert board.version > v
    # a later state does not move "unverified since": it is when trust was lost
    board.on_state(state(VenueState.RECONNECTING, ts=clock.ms + 9500, attempt=1, retry_in=0.5))
    assert board.unverified_since(A) == clock.ms + 9000
    assert board.trust(A).state.attempt == 1  # type: ignore[union-attr]


def test_a_trading_account_follows_its_login() -> None:
    _, board, _, _ = wired()
    assert client_account(T1) == LOGIN and client_account(A) == A
    board.on_state(state(VenueState.LIVE, LOGIN))
    assert board.verified(T1)
    board.on_state(state(VenueState.FAILED, LOGIN, reason="401"))
    assert not board.verified(T1) and board.state(T1).reason == "401"  # type: ignore[union-attr]


def test_a_removed_account_is_forgotten() -> None:
    _, board, _, _ = wired()
    board.on_state(state(VenueState.LIVE))
    board.on_state(state(VenueState.REMOVED))
    assert board.state(A) is None and not board.verified(A)


def test_a_fill_and_a_venue_cancel_are_notices_the_traders_own_cancel_is_not() -> None:
    _, _, store, said = wired()
    store.apply(Snapshot(A, (order("1"), order("2"), order("3"))))
    store.apply(Closed(order("1", remaining="0", status=OrderStatus.FILLED, text="Filled")))
    store.apply(Closed(order("2", status=OrderStatus.CANCELLED, text="Cancelled (CancelByAdmin)")))
    store.name_cancel([order("3").key], "order 3")
    store.begin_cancel([order("3")])
    store.apply(Closed(order("3", status=OrderStatus.CANCELLED, text="Cancelled")))
    assert [(n.level, n.text) for n in said] == [
        (Level.INFO, "BTCUSDT sell 1 @ 96,000 filled"),
        (Level.WARNING, "BTCUSDT sell 1 @ 96,000 cancelled at the venue (Cancelled (CancelByAdmin))"),
    ]
    assert said[0].order_ids == ("1",) and said[0].account == "by-main"


def test_a_reconnect_sums_up_what_changed_while_disconnected() -> None:
    clock, board, store, said = wired()
    board.on_state(state(VenueState.CONNECTING))
    store.apply(Snapshot(A, (order("1"), order("2"), order("3"))))
    assert said == []  # the first list of a new account tells nothing the trader knew
    board.on_state(state(VenueState.LIVE, ts=clock.ms))
    board.on_state(state(VenueState.RECONNECTING, ts=clock.ms + 1000, reason="1006"))
    clock.ms += 42_000
    board.on_state(state(VenueState.AUTHENTICATING, ts=clock.ms))
    store.apply(Snapshot(A, (order("2", remaining="0.5"), order("4"), order("5"))))
    assert [n.text for n in said] == [
        "While by-main was disconnected (41 s): 2 closed while unseen, 2 new, 1 changed"]
    assert set(said[0].order_ids) == {"1", "3", "4", "5", "2"}
    board.on_state(state(VenueState.LIVE, ts=clock.ms))
    assert board.trust(A).last_check == clock.ms


def test_the_blind_time_of_a_silence_counts_from_the_last_message() -> None:
    clock, board, store, said = wired()
    board.on_state(state(VenueState.CONNECTING))
    store.apply(Snapshot(A, (order("1"), order("2"))))
    board.on_state(state(VenueState.LIVE, ts=clock.ms))
    heard = clock.ms + 1_000
    clock.ms += 10_000  # the bound ran out 9 s after the last message
    board.on_state(state(VenueState.STALE, ts=clock.ms, reason="silent 9 s", heard_ms=heard))
    assert board.unverified_since(A) == heard  # the rows were unverified since then
    clock.ms += 3_000
    store.apply(Snapshot(A, (order("1"),)))
    assert [n.text for n in said] == [
        "While by-main was unverified (12 s): 1 closed while unseen"]


def test_a_blind_moment_is_never_zero_seconds() -> None:
    clock, board, store, said = wired()
    board.on_state(state(VenueState.CONNECTING))
    store.apply(Snapshot(A, (order("1"),)))
    board.on_state(state(VenueState.LIVE, ts=clock.ms))
    board.on_state(state(VenueState.RECONNECTING, ts=clock.ms, reason="1006"))
    clock.ms += 300
    store.apply(Snapshot(A, ()))
    assert [n.text for n in said] == [
        "While by-main was disconnected (1 s): 1 closed while unseen"]


def test_nothing_changed_while_away_says_nothing() -> None:
    clock, board, store, said = wired()
    store.apply(Snapshot(A, (order("1"),)))
    board.on_state(state(VenueState.LIVE, ts=clock.ms))
    board.on_state(state(VenueState.RECONNECTING, ts=clock.ms))
    store.apply(Snapshot(A, (order("1"),)))
    assert said == []


def test_an_audit_names_exactly_what_the_stream_missed() -> None:
    clock, board, store, said = wired()
    store.apply(Snapshot(A, (order("1234"), order("2"))))
    board.on_state(state(VenueState.LIVE, ts=clock.ms))
    store.apply(Snapshot(A, (order("2", remaining="0.25"), order("7"))))
    (notice,) = said
    assert notice.level is Level.WARNING
    assert notice.text == (
        "Audit of by-main: order 1234 (BTCUSDT sell 1 @ 96,000) was closed at the venue but no "
        "close arrived on the stream; order 7 (BTCUSDT sell 1 @ 96,000) is open at the venue "
        "but the stream never showed it; order 2: remaining 0.25 at the venue, 1 in the table")


def test_a_stream_that_speaks_in_full_lists_is_not_an_audit() -> None:
    clock, board, store, said = wired()
    store.apply(Snapshot(T1, (order("1", T1),)))
    board.on_state(state(VenueState.LIVE, LOGIN, ts=clock.ms))
    store.apply(Snapshot(T1, (order("1", T1), order("2", T1)), stream=True))
    assert said == [] and len(store) == 2
    # an order that leaves such a list closed at the venue just now; the list cannot say how
    store.apply(Snapshot(T1, (order("2", T1),), stream=True))
    assert [(n.level, n.text) for n in said] == [(
        Level.WARNING, "BTCUSDT sell 1 @ 96,000 closed at the venue, how unknown")]
    assert store.closed[-1].reason is CloseReason.LEFT_LIST


def test_rows_from_the_last_run_are_unverified_as_of_then() -> None:
    clock, board, store, said = wired()
    saved_at = clock.ms - 3_600_000
    store.apply_restored(A, [order("1"), order("2")])
    board.restore({A}, saved_at)
    assert said == [] and not board.verified(A) and board.unverified_since(A) == saved_at
    assert board.trust(A).restored_as_of == saved_at and board.trust(A).last_check == saved_at
    store.apply(Snapshot(A, (order("2"),)))
    assert [n.text for n in said] == [
        (f"Since blotter last ran (orders as of {clock_time(saved_at)}), by-main: "
        "1 closed while unseen")]
    board.on_state(state(VenueState.LIVE, ts=clock.ms))
    assert board.verified(A) and board.trust(A).restored_as_of is None


def test_an_empty_diff_is_false_and_reports_nothing() -> None:
    _, _, _, said = wired()
    assert not ResyncDiff(A, (), (), ())
    assert said == []
