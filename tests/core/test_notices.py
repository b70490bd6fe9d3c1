"""Notices and connection states: how a notice reads, and the buses that carry them to the
status bar and the log (a broken subscriber never silences the others)."""

from __future__ import annotations

from blotter.core.notices import (
    AccountState,
    Bus,
    Level,
    Notice,
    NoticeBus,
    StateBus,
    VenueState,
)
from blotter.core.order import AccountKey


def test_a_notice_line_is_the_venues_status_then_its_words() -> None:
    refused = Notice("bitfinex", "bfx-main", Level.ERROR, "Order not found.", status="ERROR")
    assert refused.line() == "ERROR: Order not found."
    bybit = Notice("bybit", "by-1", Level.ERROR, "order not exists or too late to cancel",
                   status="110001")
    assert bybit.line() == "110001: order not exists or too late to cancel"
    ours = Notice("blotter", "", Level.INFO, "Demo mode: nothing here is real money.")
    assert ours.line() == "Demo mode: nothing here is real money."
    assert Notice("bybit", "by-1", Level.INFO, "text", status="").line() == "text"


def test_notices_and_states_name_their_account() -> None:
    assert Notice("bybit", "by-1", Level.INFO, "x").account_key == AccountKey("bybit", "by-1")
    state = AccountState("b2trader", "acme/Main", VenueState.LIVE)
    assert state.account_key == AccountKey("b2trader", "acme/Main")
    assert state.reason == ""


def test_every_subscriber_hears_every_notice_in_order() -> None:
    bus = NoticeBus()
    first: list[str] = []
    second: list[str] = []
    bus.subscribe(lambda n: first.append(n.text))
    bus.subscribe(lambda n: second.append(n.text))
    for text in ("a", "b", "c"):
        bus.publish(Notice("blotter", "", Level.INFO, text))
    assert first == second == ["a", "b", "c"]


def test_a_subscriber_that_raises_is_reported_and_does_not_stop_the_others() -> None:
    bus = NoticeBus()
    errors: list[BaseException] = []
    bus.on_error = errors.append
    heard: list[str] = []

    def broken(notice: Notice) -> None:
        raise ValueError(f"cannot show {notice.text}")

    bus.subscribe(lambda n: heard.append("before " + n.text))
    bus.subscribe(broken)
    bus.subscribe(lambda n: heard.append("after " + n.text))
    bus.publish(Notice("bybit", "by-1", Level.ERROR, "x"))
    bus.publish(Notice("bybit", "by-1", Level.ERROR, "y"))
    assert heard == ["before x", "after x", "before y", "after y"]
    assert [str(e) for e in errors] == ["cannot show x", "cannot show y"]
    assert all(isinstance(e, ValueError) for e in errors)


def test_without_an_error_handler_a_broken_subscriber_is_still_contained() -> None:
    bus: Bus[int] = Bus()
    heard: list[int] = []
    bus.subscribe(lambda item: 1 // 0)
    bus.subscribe(heard.append)
    bus.publish(7)
    assert heard == [7]
    assert list(bus.history) == [7]


def test_history_keeps_only_the_latest() -> None:
    bus: Bus[int] = Bus(history=3)
    for item in range(10):
        bus.publish(item)
    assert list(bus.history) == [7, 8, 9]
    assert list(NoticeBus(history=2).history) == []


def test_a_late_subscriber_can_read_the_history() -> None:
    bus = NoticeBus()
    bus.publish(Notice("blotter", "", Level.INFO, "earlier"))
    heard: list[str] = []
    bus.subscribe(lambda n: heard.append(n.text))
    assert [n.text for n in bus.history] == ["earlier"]
    assert heard == []  # history is read, not replayed


def test_unsubscribe_stops_delivery_and_is_harmless_twice() -> None:
    bus: Bus[str] = Bus()
    heard: list[str] = []
    unsubscribe = bus.subscribe(heard.append)
    bus.publish("one")
    unsubscribe()
    bus.publish("two")
    unsubscribe()
    bus.publish("three")
    assert heard == ["one"]


def test_a_subscriber_leaving_during_a_publish_does_not_make_another_miss_it() -> None:
    bus: Bus[str] = Bus()
    heard: list[str] = []
    unsubscribers = []

    def once(item: str) -> None:
        heard.append("once " + item)
        unsubscribers[0]()

    unsubscribers.append(bus.subscribe(once))
    bus.subscribe(lambda item: heard.append("always " + item))
    bus.publish("a")
    bus.publish("b")
    assert heard == ["once a", "always a", "always b"]


def test_the_state_bus_knows_each_accounts_current_state() -> None:
    states = StateBus()
    seen: list[VenueState] = []
    states.subscribe(lambda s: seen.append(s.state))
    bfx, by = AccountKey("bitfinex", "bfx-main"), AccountKey("bybit", "by-1")
    states.publish(AccountState("bitfinex", "bfx-main", VenueState.CONNECTING))
    states.publish(AccountState("bybit", "by-1", VenueState.LIVE))
    states.publish(AccountState("bitfinex", "bfx-main", VenueState.FAILED, "10100: auth failed"))
    assert states.current[bfx] == AccountState(
        "bitfinex", "bfx-main", VenueState.FAILED, "10100: auth failed"
    )
    assert states.current[by].state is VenueState.LIVE
    assert seen == [VenueState.CONNECTING, VenueState.LIVE, VenueState.FAILED]


def test_removed_forgets_the_account_but_is_still_told() -> None:
    states = StateBus()
    seen: list[VenueState] = []
    states.subscribe(lambda s: seen.append(s.state))
    states.publish(AccountState("bybit", "by-1", VenueState.LIVE))
    states.publish(AccountState("bybit", "by-2", VenueState.LIVE))
    states.publish(AccountState("bybit", "by-1", VenueState.REMOVED))
    assert list(states.current) == [AccountKey("bybit", "by-2")]
    assert seen[-1] is VenueState.REMOVED  # the status bar drops its light on it
    assert states.history[-1].state is VenueState.REMOVED
    states.publish(AccountState("bybit", "by-9", VenueState.REMOVED))  # unknown: no error
    assert list(states.current) == [AccountKey("bybit", "by-2")]


def test_a_stopped_account_is_still_known() -> None:
    states = StateBus()
    states.publish(AccountState("bybit", "by-1", VenueState.STOPPED, "closed"))
    assert states.current[AccountKey("bybit", "by-1")].reason == "closed"
