"""The words of trust: what the connection light, an unverified row, its Cancel button and a
Cancel All confirmation say, from the trust board's entry of an account at a given time."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from blotter.core.cancel import CancelPlan, ScopeKind
from blotter.core.closes import ResyncDiff
from blotter.core.notices import AccountState, VenueState
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.core.trust import AccountTrust, TrustBoard
from blotter.ui.trust_text import (
    cancel_tip,
    clock_text,
    confirmation_warning,
    hover_text,
    label_text,
    row_state_line,
    unverified_marker,
    worth_highlighting,
)

NOW = int(datetime(2025, 3, 14, 13, 7, 19).timestamp() * 1000)
BY = AccountKey("bybit", "bybit-demo")


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def order(n: int) -> Order:
    return Order(venue="bybit", account="bybit-demo", order_id=str(n), symbol="BTCUSDT",
                 side=Side.BUY, order_type="Limit", amount=Decimal(1), remaining=Decimal(1),
                 status=OrderStatus.OPEN, status_text="New", price=Decimal(100))


def board_at(*states: AccountState) -> TrustBoard:
    board = TrustBoard(lambda: NOW)
    for state in states:
        board.on_state(state)
    return board


def state(kind: VenueState, reason: str = "", **kw) -> AccountState:
    return AccountState("bybit", "bybit-demo", kind, reason, **kw)


def test_times_read_as_a_trader_says_them():
    today = datetime.fromtimestamp(NOW / 1000)
    assert clock_text(NOW, NOW) == "13:07:19"
    yesterday = today - timedelta(days=1, hours=-5)  # yesterday 18:02:11
    assert clock_text(ms(yesterday.replace(hour=18, minute=2, second=11)), NOW) == (
        "yesterday 18:02:11")
    assert clock_text(ms(datetime(2025, 3, 1, 9, 0, 5)), NOW) == "2025-03-01 09:00:05"


def test_an_unverified_row_says_since_when_or_as_of_the_last_run():
    left = NOW - 41_000
    board = board_at(state(VenueState.LIVE, ts_ms=left - 60_000),
                     state(VenueState.RECONNECTING, "connection closed", ts_ms=left, attempt=2,
                           retry_in=4.0))
    entry = board.trust(BY)
    assert unverified_marker(entry, NOW) == f"unverified since {clock_text(left, NOW)}"
    assert row_state_line("bybit-demo", entry, left) == (
        f"Unverified since {clock_text(left, NOW)}: bybit-demo is reconnecting (attempt 2, "
        "next try in 4 s) — connection closed")
    restored = AccountTrust(unverified_since=NOW - 86_400_000, restored_as_of=NOW - 86_400_000)
    assert unverified_marker(restored, NOW) == "as of yesterday 13:07:19"
    assert row_state_line("bybit-demo", restored, NOW) == (
        "As of yesterday 13:07:19: bybit-demo has not answered yet since blotter started")


def test_the_light_says_the_state_in_words():
    waiting = state(VenueState.RECONNECTING, "1006", ts_ms=NOW, attempt=3, retry_in=2.5)
    assert label_text(waiting, NOW) == "bybit-demo reconnecting in 3 s"
    assert label_text(waiting, NOW + 2600) == "bybit-demo reconnecting"  # the try is due
    refused = state(VenueState.FAILED, "10003: API key is invalid.; retrying in 30 s",
                    ts_ms=NOW, attempt=4, retry_in=30.0)
    assert label_text(refused, NOW + 12_000) == (
        "bybit-demo failed: 10003: API key is invalid. · retry in 18 s")
    long = state(VenueState.FAILED, "x" * 200)
    assert len(label_text(long, NOW)) < 100 and label_text(long, NOW).endswith("…")
    assert label_text(state(VenueState.STALE, "silent 10 s"), NOW, NOW - 12_500) == (
        "bybit-demo stale (silent 12 s)")
    assert label_text(state(VenueState.LIVE), NOW, note="dead-man switch on") == (
        "bybit-demo · dead-man switch on")


def test_the_lights_hover_for_each_state():
    board = board_at(state(VenueState.LIVE, ts_ms=NOW - 5000))
    board.on_resync(ResyncDiff(BY, (), (), ()))
    live = hover_text(state(VenueState.LIVE), "Bybit", NOW, board.trust(BY), NOW - 2000)
    assert live == "bybit-demo (Bybit): live · last message 2 s ago · last full check 13:07:19"
    refused = state(VenueState.FAILED, "Bybit refused the API key: 10003; retrying in 5 s",
                    ts_ms=NOW, attempt=2, retry_in=5.0)
    board.on_state(refused)
    lines = hover_text(refused, "Bybit", NOW + 1000, board.trust(BY)).splitlines()
    assert lines == [
        "bybit-demo (Bybit): failed — Bybit refused the API key: 10003",
        "Refused 2 times in a row; next try in 4 s",
        "Its rows are unverified since 13:07:19",
        "Last full check 13:07:19",
    ]


def plan(n: int) -> CancelPlan:
    return CancelPlan(BY, ScopeKind.ALL, tuple(order(i) for i in range(n)))


def test_a_confirmation_names_what_a_cancel_of_an_account_that_is_not_live_will_do():
    live = board_at(state(VenueState.LIVE))
    assert confirmation_warning(plan(3), live.trust(BY), NOW) is None
    down = board_at(state(VenueState.LIVE), state(VenueState.RECONNECTING, "1006"))
    assert confirmation_warning(plan(42), down.trust(BY), NOW) == (
        "bybit-demo is not connected: its 42 orders will be cancelled by REST and confirmed "
        "when it is back")
    assert confirmation_warning(plan(0), down.trust(BY), NOW) == (
        "bybit-demo is not connected: any orders it has will be cancelled by REST and "
        "confirmed when it is back")
    stale = board_at(state(VenueState.LIVE), state(VenueState.STALE, "silent 10 s"))
    assert confirmation_warning(plan(1), stale.trust(BY), NOW) == (
        "bybit-demo is stale: its 1 order will be cancelled by REST and confirmed when it is "
        "back")
    refused = board_at(state(VenueState.FAILED, "10003: API key is invalid.; retrying in 2 s"))
    assert confirmation_warning(plan(42), refused.trust(BY), NOW) == (
        "bybit-demo: cannot be cancelled now: 10003: API key is invalid.")


def test_the_cancel_button_of_an_unverified_row_says_what_happens():
    assert cancel_tip("7", "bybit-demo", None) == "Click to cancel order 7"
    down = board_at(state(VenueState.RECONNECTING, "1006"))
    assert cancel_tip("7", "bybit-demo", down.trust(BY)) == (
        "Click to cancel order 7\nbybit-demo is not live: the cancel is sent now and confirmed "
        "when the account is back")
    refused = board_at(state(VenueState.FAILED, "10003; retrying in 2 s"))
    assert cancel_tip("7", "bybit-demo", refused.trust(BY)).endswith(
        "bybit-demo failed: 10003: the venue may refuse the cancel; it is confirmed when the "
        "account is back")


def test_only_news_is_highlighted():
    changed = ResyncDiff(BY, (), (order(1),), ())
    first = board_at(state(VenueState.CONNECTING))
    assert not worth_highlighting(changed, first.trust(BY))  # a new account's first list
    back = board_at(state(VenueState.LIVE), state(VenueState.RECONNECTING, "1006"))
    assert worth_highlighting(changed, back.trust(BY))  # news from a time unseen
    assert not worth_highlighting(ResyncDiff(BY, (), (), ()), back.trust(BY))
    live = board_at(state(VenueState.LIVE))
    assert worth_highlighting(changed, live.trust(BY))  # an audit caught a miss
    streamed = ResyncDiff(BY, (), (order(1),), (), stream=True)
    assert not worth_highlighting(streamed, live.trust(BY))  # a stream that speaks in lists
    restored = AccountTrust(unverified_since=NOW, restored_as_of=NOW)
    assert worth_highlighting(changed, restored)
