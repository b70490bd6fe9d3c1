"""The status bar: the latest notice in the venue's words with where it came from and a colour
for how it went, one line high with all of it in the tooltip; the log it keeps; and one light per
account that says its state in words when it is not live."""

from __future__ import annotations

from datetime import datetime

import pytest
from PySide6.QtCore import Qt

from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, OrderKey
from blotter.ui import theme
from blotter.ui.status_bar import LoggedNotice, StatusBar, notice_time, one_line
from blotter.ui.trust_text import STATE_WORDS

TITLES = {"bybit": "Bybit", "bitfinex": "Bitfinex", "b2trader": "Acme"}
CLICK_HINT = "Click for the notice log (Ctrl+L)"
MENU_HINT = "Click for Reconnect Now and Check Now"


def label(venue: str, account: str) -> str:
    return TITLES.get(venue, venue)


def dead_man_switch(venue: str, account: str) -> str:
    return "dead-man switch on" if venue == "bitfinex" else ""


@pytest.fixture
def buses() -> tuple[NoticeBus, StateBus]:
    return NoticeBus(), StateBus()


@pytest.fixture
def bar(qtbot, buses) -> StatusBar:
    notices, states = buses
    widget = StatusBar(notices, states, venue_label=label, account_note=dead_man_switch,
                       history=3)
    qtbot.addWidget(widget)
    widget.resize(900, 30)
    widget.show()
    return widget


def colour_of(bar: StatusBar) -> str:
    return bar.notice_label.styleSheet()


def test_before_any_notice_it_is_ready(bar):
    assert bar.text == "Ready"
    assert bar.latest is None
    assert bar.notice_label.toolTip() == CLICK_HINT


def test_the_latest_notice_names_venue_and_account_in_its_level_colour(bar, buses):
    notices, _ = buses
    notices.publish(Notice("b2trader", "acme/Main", Level.ERROR, "Order 01K: not found",
                           status="HTTP 404"))
    assert bar.text == "Acme · acme/Main — HTTP 404: Order 01K: not found"
    assert theme.LEVEL_COLOURS[Level.ERROR].name() in colour_of(bar)
    notices.publish(Notice("bitfinex", "bfx", Level.SUCCESS,
                           "Submitted for cancellation; waiting for confirmation (ID: 7).",
                           status="SUCCESS"))
    assert bar.text == ("Bitfinex · bfx — SUCCESS: Submitted for cancellation; waiting for "
                        "confirmation (ID: 7).")
    assert theme.LEVEL_COLOURS[Level.SUCCESS].name() in colour_of(bar)
    assert bar.notice_label.property("level") == "success"
    notices.publish(Notice("blotter", "", Level.WARNING, "Demo: slow replies on."))
    assert bar.text == "blotter — Demo: slow replies on."
    assert theme.LEVEL_COLOURS[Level.WARNING].name() in colour_of(bar)
    notices.publish(Notice("bybit", "", Level.INFO, "maintenance at 02:00"))
    assert bar.text == "Bybit — maintenance at 02:00"  # no account: the venue alone
    assert bar.latest.text == "maintenance at 02:00"


def test_a_long_notice_is_one_line_with_all_of_it_in_the_tooltip(bar, buses):
    notices, _ = buses
    text = "No usable OS keyring: install gnome-keyring\nthen log in again\nor use KWallet"
    notices.publish(Notice("bybit", "by-1", Level.ERROR, text))
    assert bar.text == "Bybit · by-1 — No usable OS keyring: install gnome-keyring …"
    assert bar.notice_label.toolTip() == f"Bybit · by-1 — {text}\n{CLICK_HINT}"
    endless = "x" * 1000
    notices.publish(Notice("bybit", "by-1", Level.ERROR, endless))
    assert "\n" not in bar.text and len(bar.text) == 400 and bar.text.endswith("…")
    assert endless in bar.notice_label.toolTip()


def test_one_line():
    assert one_line("short") == "short"
    assert one_line("first\n   \n") == "first"  # nothing more to read: no mark
    assert one_line("first\nsecond") == "first …"
    assert one_line("abcdef", limit=4) == "abc…"


def test_the_log_keeps_the_latest_notices_with_their_source(bar, buses):
    notices, _ = buses
    logged: list[LoggedNotice] = []
    bar.notice_logged.connect(logged.append)
    for n in range(5):
        notices.publish(Notice("b2trader", "acme/Main", Level.INFO, f"notice {n}"))
    assert [e.notice.text for e in bar.log] == ["notice 2", "notice 3", "notice 4"]
    assert [e.notice.text for e in logged] == [f"notice {n}" for n in range(5)]
    entry = bar.log[-1]
    assert entry.source == "Acme · acme/Main"
    assert entry.received is not None
    assert entry.time == entry.received.strftime("%H:%M:%S")
    assert bar.time_label.text() == entry.time


def test_progress_is_shown_but_not_logged(bar, buses):
    notices, _ = buses
    notices.publish(Notice("b2trader", "acme/Main", Level.INFO, "Cancelled 3 of 3"))
    logged: list[LoggedNotice] = []
    bar.notice_logged.connect(logged.append)
    notices.publish(Notice("b2trader", "acme/Main", Level.INFO, "Cancelling 37/120 on Acme Main…",
                           transient=True))
    assert bar.text == "Acme · acme/Main — Cancelling 37/120 on Acme Main…"
    assert [e.notice.text for e in bar.log] == ["Cancelled 3 of 3"]
    assert logged == []


def test_a_receipt_that_left_orders_offers_to_cancel_exactly_those(bar, buses, qtbot):
    notices, _ = buses
    left = (OrderKey("bybit", "by-1", "7"), OrderKey("bybit", "by-1", "8"))
    details = ("by-1 · order 5 (BTCUSDT buy 1 @ 100): cancelled",
               "by-1 · order 7 (BTCUSDT buy 1 @ 101): still open at the venue after the cancel",
               ("by-1 · order 8 (BTCUSDT buy 1 @ 102): arrived since, open at the venue after "
               "the cancel"))
    assert not bar.rest_button.isVisible()
    notices.publish(Notice("bybit", "by-1", Level.WARNING,
                           "Cancelled 1 of 1 on by-1; 1 left: …; 1 arrived since: …",
                           details=details, rest=left))
    assert bar.rest_button.isVisible()
    assert bar.rest_button.text() == "Cancel the Rest (2)"
    assert bar.rest_button.toolTip().splitlines() == [
        ("Cancel exactly the 2 orders still open after: Cancelled 1 of 1 on by-1; 1 left: …; "
        "1 arrived since: …"), *details[1:]]
    # a fill arriving meanwhile does not take the offer away
    notices.publish(Notice("bybit", "by-1", Level.INFO, "BTCUSDT buy 1 @ 99 filled"))
    assert bar.rest_button.isVisible()
    asked: list[object] = []
    bar.rest_requested.connect(asked.append)
    qtbot.mouseClick(bar.rest_button, Qt.MouseButton.LeftButton)
    assert asked == [left]
    assert not bar.rest_button.isVisible() and bar.rest == ()


def test_a_later_receipt_with_nothing_left_takes_the_offer_away(bar, buses):
    notices, _ = buses
    left = (OrderKey("bybit", "by-1", "7"),)
    notices.publish(Notice("bybit", "by-1", Level.WARNING, "Cancelled 0 of 0 on by-1; 1 left",
                           details=("…",), rest=left))
    assert bar.rest_button.isVisible()
    notices.publish(Notice("bybit", "by-1", Level.SUCCESS, "Cancelled 1 of 1 on by-1; 0 left",
                           details=("Re-read from the venue: no order of the scope is left open",)))
    assert not bar.rest_button.isVisible() and bar.rest == ()


def test_notices_from_before_the_bar_are_in_its_log(qtbot, buses):
    notices, states = buses
    notices.publish(Notice("bybit", "by-1", Level.INFO, "earlier", ts_ms=1_700_000_000_000))
    notices.publish(Notice("bybit", "by-1", Level.ERROR, "latest", status="10003"))
    late = StatusBar(notices, states, venue_label=label)
    qtbot.addWidget(late)
    assert [e.notice.text for e in late.log] == ["earlier", "latest"]
    assert all(e.received is None for e in late.log)
    assert late.text == "Bybit · by-1 — 10003: latest"


def test_a_click_on_the_notice_asks_for_the_log(bar, qtbot):
    with qtbot.waitSignal(bar.log_requested, timeout=1000):
        qtbot.mouseClick(bar.notice_label, Qt.MouseButton.LeftButton)


def test_notice_time_prefers_when_we_got_it():
    received = datetime(2024, 5, 1, 9, 30, 15)
    stamped = Notice("bybit", "by-1", Level.INFO, "x", ts_ms=1_700_000_000_000)
    assert notice_time(stamped, received) == "09:30:15"
    assert notice_time(stamped) == datetime.fromtimestamp(1_700_000_000).strftime("%H:%M:%S")
    # a venue time that is not milliseconds is not guessed at
    assert notice_time(Notice("bybit", "by-1", Level.INFO, "x", ts_ms=1_700_000_000)) == "—"
    assert notice_time(Notice("bybit", "by-1", Level.INFO, "x")) == "—"


# -- connection lights ------------------------------------------------------------------------
def publish(states: StateBus, venue: str, account: str, state: VenueState, reason: str = ""):
    states.publish(AccountState(venue, account, state, reason))


@pytest.mark.parametrize(
    ("state", "reason", "shown", "tip"),
    [
        (VenueState.CONNECTING, "", "by-1 connecting", "by-1 (Bybit): connecting"),
        (VenueState.AUTHENTICATING, "", "by-1 authenticating", "by-1 (Bybit): authenticating"),
        (VenueState.LIVE, "", "by-1", "by-1 (Bybit): live"),
        (VenueState.RECONNECTING, "1006", "by-1 reconnecting",
         "by-1 (Bybit): reconnecting — 1006"),
        (VenueState.STALE, "no message for 12 s", "by-1 stale",
         "by-1 (Bybit): stale — no message for 12 s"),
        # the venue's reason is in the label itself, not only on hover
        (VenueState.FAILED, "10003: API key is invalid.; retrying in 30 s",
         "by-1 failed: 10003: API key is invalid.",
         "by-1 (Bybit): failed — 10003: API key is invalid."),
        (VenueState.STOPPED, "closed", "by-1 stopped", "by-1 (Bybit): stopped — closed"),
    ],
)
def test_a_light_per_account_says_its_state(bar, buses, state, reason, shown, tip):
    _, states = buses
    publish(states, "bybit", "by-1", VenueState.CONNECTING)
    indicator = bar.indicator(AccountKey("bybit", "by-1"))
    publish(states, "bybit", "by-1", state, reason)
    assert bar.indicator(AccountKey("bybit", "by-1")) is indicator  # one light, updated
    assert indicator.label.text() == shown
    assert indicator.toolTip() == f"{tip}\n{MENU_HINT}"
    assert indicator.dot.colour == theme.STATE_COLOURS[state]
    assert indicator.label.property("state") == state.value


def test_every_state_but_removed_has_words_and_a_colour() -> None:
    shown = set(VenueState) - {VenueState.REMOVED}
    assert set(STATE_WORDS) == shown == set(theme.STATE_COLOURS)


def test_a_dead_man_switch_is_said_beside_the_account(bar, buses):
    _, states = buses
    publish(states, "bitfinex", "bfx", VenueState.LIVE)
    indicator = bar.indicator(AccountKey("bitfinex", "bfx"))
    assert indicator.label.text() == "bfx · dead-man switch on"
    assert indicator.toolTip() == (
        "bfx (Bitfinex): live\ndead-man switch on: the venue cancels this account's orders if "
        f"the connection drops\n{MENU_HINT}"
    )
    publish(states, "bitfinex", "bfx", VenueState.RECONNECTING, "1006")
    assert indicator.label.text() == "bfx · dead-man switch on reconnecting"


def test_removed_drops_the_light(bar, buses):
    _, states = buses
    publish(states, "bybit", "by-1", VenueState.LIVE)
    publish(states, "b2trader", "acme/Main", VenueState.LIVE)
    gone = bar.indicator(AccountKey("bybit", "by-1"))
    publish(states, "bybit", "by-1", VenueState.REMOVED)
    assert bar.indicator(AccountKey("bybit", "by-1")) is None
    assert not gone.isVisible()
    assert bar.indicator(AccountKey("b2trader", "acme/Main")).isVisible()
    publish(states, "bybit", "by-9", VenueState.REMOVED)  # never shown: nothing to drop
    publish(states, "bybit", "by-1", VenueState.CONNECTING)  # added again: a new light
    again = bar.indicator(AccountKey("bybit", "by-1"))
    assert again is not None and again is not gone and again.label.text() == "by-1 connecting"


def test_accounts_known_before_the_bar_get_their_lights(qtbot, buses):
    notices, states = buses
    publish(states, "bybit", "by-1", VenueState.FAILED, "10003: API key is invalid.")
    publish(states, "bybit", "by-2", VenueState.LIVE)
    publish(states, "bybit", "by-2", VenueState.REMOVED)
    late = StatusBar(notices, states, venue_label=label)
    qtbot.addWidget(late)
    assert late.indicator(AccountKey("bybit", "by-1")).label.text() == (
        "by-1 failed: 10003: API key is invalid.")
    assert late.indicator(AccountKey("bybit", "by-2")) is None


def test_a_detached_bar_no_longer_follows(bar, buses):
    notices, states = buses
    bar.detach()
    notices.publish(Notice("bybit", "by-1", Level.ERROR, "after"))
    publish(states, "bybit", "by-1", VenueState.LIVE)
    assert bar.text == "Ready"
    assert bar.indicator(AccountKey("bybit", "by-1")) is None


# -- the lights as of now: ages, waits counting down, and their menu -------------------------
T = 1_700_000_000_000
BY1 = AccountKey("bybit", "by-1")


class Clock:
    """The window's idea of now, moved by the test."""

    def __init__(self) -> None:
        self.ms = T

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def watched(qtbot):
    """A bar that reads a trust board (fed by the states, as the engine does) and when each
    account last heard from its venue, at a clock the test moves."""
    from blotter.core.trust import TrustBoard
    from blotter.ui.status_bar import ConnectionFacts

    clock = Clock()
    notices, states = NoticeBus(), StateBus()
    board = TrustBoard(clock)
    states.subscribe(board.on_state)
    heard: dict[AccountKey, int] = {}
    facts = ConnectionFacts(clock, board.trust, heard.get)
    widget = StatusBar(notices, states, venue_label=label, facts=facts)
    qtbot.addWidget(widget)
    widget.resize(1200, 30)
    widget.show()
    return widget, states, board, clock, heard


def at(state: VenueState, reason: str = "", **kw) -> AccountState:
    return AccountState("bybit", "by-1", state, reason, **kw)


def hover(indicator) -> str:
    """What the light's tooltip says when the pointer rests on it now."""
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    event = QHelpEvent(QEvent.Type.ToolTip, QPoint(2, 2), indicator.mapToGlobal(QPoint(2, 2)))
    QApplication.sendEvent(indicator, event)
    QToolTip.hideText()
    return indicator.toolTip()


def test_a_live_light_says_how_old_its_news_is_when_hovered(watched):
    from blotter.core.closes import ResyncDiff
    from blotter.core.trust import clock_time

    bar, states, board, clock, heard = watched
    states.publish(at(VenueState.LIVE, ts_ms=T))
    board.on_resync(ResyncDiff(BY1, (), (), ()))  # a full list: the rows were checked now
    heard[BY1] = T - 2000
    indicator = bar.indicator(BY1)
    assert indicator.label.text() == "by-1"
    assert hover(indicator) == (f"by-1 (Bybit): live · last message 2 s ago · last full check "
                                f"{clock_time(T)}\n{MENU_HINT}")
    clock.ms += 7000  # nothing arrived since: the hover ages without any new state
    assert hover(indicator).startswith("by-1 (Bybit): live · last message 9 s ago · ")


def test_a_reconnecting_light_counts_its_wait_down(watched):
    bar, states, _board, clock, _heard = watched
    states.publish(at(VenueState.LIVE, ts_ms=T - 60_000))
    states.publish(at(VenueState.RECONNECTING, "connection closed (1006)", ts_ms=T, attempt=2,
                      retry_in=5.0))
    indicator = bar.indicator(BY1)
    assert indicator.label.text() == "by-1 reconnecting in 5 s"
    lines = hover(indicator).splitlines()
    assert lines[0] == ("by-1 (Bybit): reconnecting (attempt 2, next try in 5 s) — "
                        "connection closed (1006)")
    assert lines[1].startswith("Its rows are unverified since ")
    clock.ms += 3200
    bar.tick_lights()  # what the bar's one-second timer does while an account is not live
    assert indicator.label.text() == "by-1 reconnecting in 2 s"
    assert bar._tick.isActive()
    states.publish(at(VenueState.LIVE, ts_ms=clock.ms))
    assert indicator.label.text() == "by-1"
    assert not bar._tick.isActive()  # every light is live: nothing to count


def test_a_stale_light_says_how_long_the_stream_is_silent(watched):
    bar, states, _board, clock, heard = watched
    states.publish(at(VenueState.LIVE, ts_ms=T))
    heard[BY1] = T
    clock.ms += 10_000
    states.publish(at(VenueState.STALE, "silent 10 s; reconnecting", ts_ms=clock.ms))
    indicator = bar.indicator(BY1)
    assert indicator.label.text() == "by-1 stale (silent 10 s)"
    assert hover(indicator).splitlines()[0] == "by-1 (Bybit): stale (silent 10 s)"
    clock.ms += 2000
    bar.tick_lights()
    assert indicator.label.text() == "by-1 stale (silent 12 s)"
    states.publish(at(VenueState.STALE, "could not read an order; re-reading the open orders",
                      ts_ms=clock.ms))
    assert hover(indicator).splitlines()[0] == (
        "by-1 (Bybit): stale (silent 12 s) — could not read an order; re-reading the open orders")


def test_a_failed_light_says_the_venues_reason_and_when_it_tries_again(watched):
    bar, states, _board, clock, _heard = watched
    reason = "Bybit refused the API key: 10003: API key is invalid."
    states.publish(at(VenueState.FAILED, f"{reason}; retrying in 15 s", ts_ms=T, attempt=3,
                      retry_in=15.0))
    indicator = bar.indicator(BY1)
    assert indicator.label.text() == f"by-1 failed: {reason} · retry in 15 s"
    assert indicator.label.isVisible()
    lines = hover(indicator).splitlines()
    assert lines[0] == f"by-1 (Bybit): failed — {reason}"
    assert lines[1] == "Refused 3 times in a row; next try in 15 s"
    clock.ms += 14_500
    bar.tick_lights()
    assert indicator.label.text() == f"by-1 failed: {reason} · retry in 1 s"


def test_the_lights_menu_offers_reconnect_while_waiting_and_check_always(watched, qtbot):
    bar, states, _board, _clock, _heard = watched
    states.publish(at(VenueState.LIVE, ts_ms=T))
    indicator = bar.indicator(BY1)
    menu = indicator.build_menu()
    entries = {a.text(): a for a in menu.actions()}
    assert not entries["Reconnect Now"].isEnabled()
    assert entries["Check Now"].isEnabled()
    with qtbot.waitSignal(bar.check_requested, timeout=1000) as asked:
        entries["Check Now"].trigger()
    assert asked.args == [BY1]

    states.publish(at(VenueState.FAILED, "10003; retrying in 2 s", ts_ms=T, attempt=1,
                      retry_in=2.0))
    qtbot.mouseClick(indicator, Qt.MouseButton.LeftButton)  # a click shows the menu too
    assert indicator.menu is not None and indicator.menu.isVisible()
    entries = {a.text(): a for a in indicator.menu.actions()}
    assert entries["Reconnect Now"].isEnabled()
    with qtbot.waitSignal(bar.reconnect_requested, timeout=1000) as asked:
        entries["Reconnect Now"].trigger()
    assert asked.args == [BY1]
    indicator.menu.close()


async def test_a_flood_of_notices_repaints_the_line_a_few_times_and_logs_every_one(qtbot) -> None:
    from blotter.core.notices import Level, Notice, NoticeBus, StateBus
    from blotter.ui.status_bar import StatusBar
    from tests.helpers import until

    notices = NoticeBus()
    bar = StatusBar(notices, StateBus())
    qtbot.addWidget(bar)
    shown: list[str] = []
    bar.notice_label.setText = lambda text, _set=bar.notice_label.setText: (  # type: ignore[method-assign]
        shown.append(text), _set(text))[1]
    for n in range(200):  # fills pouring in
        notices.publish(Notice("bitfinex", "bfx", Level.INFO, f"fill {n}"))
    assert len(bar.log) == 200  # every one is in the notice log at once
    assert bar.latest is not None and bar.latest.text == "fill 199"
    assert shown == ["bitfinex · bfx — fill 0"]  # the first at once; the rest wait
    await until(lambda: bar.notice_label.text() == "bitfinex · bfx — fill 199")
    assert len(shown) == 2  # one repaint for the 199 that came within the throttle


def test_a_receipt_stays_in_view_while_routine_news_waits_behind_it(bar, buses, qtbot):
    notices, _ = buses
    bar.RECEIPT_HOLD_MS = 300  # the hold is the bar's own setting; a short one for the test
    bar._receipt_hold.setInterval(bar.RECEIPT_HOLD_MS)
    notices.publish(Notice("bitfinex", "bfx", Level.SUCCESS, "Cancelled 2 of 2 on bfx",
                           receipt=True))
    notices.publish(Notice("bybit", "by", Level.WARNING, "SOLUSDT buy 1 @ 150 filled at 150"))
    notices.publish(Notice("bybit", "by", Level.INFO, "ETHUSDT sell 2 @ 3,500 new"))
    assert bar.text == "Bitfinex · bfx — Cancelled 2 of 2 on bfx"
    assert [e.notice.text for e in bar.log][-2:] == [  # the log has them at once
        "SOLUSDT buy 1 @ 150 filled at 150", "ETHUSDT sell 2 @ 3,500 new"]
    # the receipt's moment over, the latest news comes into view
    qtbot.waitUntil(lambda: bar.text == "Bybit · by — ETHUSDT sell 2 @ 3,500 new", timeout=3000)


def test_an_error_or_the_next_receipt_is_not_held_behind_a_receipt(bar, buses):
    notices, _ = buses
    notices.publish(Notice("bitfinex", "bfx", Level.SUCCESS, "Cancelled 1 of 1 on bfx",
                           receipt=True))
    notices.publish(Notice("bybit", "by", Level.ERROR, "Bybit refused the API key"))
    assert bar.text == "Bybit · by — Bybit refused the API key"
    notices.publish(Notice("bitfinex", "bfx", Level.WARNING, "Cancelled 0 of 1 on bfx: gone",
                           receipt=True))
    assert bar.text == "Bitfinex · bfx — Cancelled 0 of 1 on bfx: gone"
