"""What the window says when the table is empty or filtered to nothing, and its title: "no
orders" and "not known yet" must not look the same, and unverified rows are counted."""

from __future__ import annotations

from blotter.core.order import AccountKey
from blotter.ui.empty_state import NO_ORDERS, no_match_text, no_orders_text, window_title

BY = AccountKey("bybit", "bybit-demo")
BFX = AccountKey("bitfinex", "bfx-demo")


def test_the_title_counts_what_is_shown_unverified_and_cancelling():
    assert window_title(1, 1, 1, 0, 0) == "blotter — 1 open order"
    assert window_title(120, 120, 3, 42, 0) == (
        "blotter — 120 open orders on 3 accounts · 42 unverified")
    assert window_title(120, 30, 3, 42, 2) == (
        "blotter — 120 open orders (30 shown) on 3 accounts · 42 unverified · 2 cancelling")


def test_an_empty_table_tells_none_from_not_known_yet():
    assert no_orders_text(2, []) == (NO_ORDERS, "")
    assert no_orders_text(1, [BY]) == (
        "No open orders known yet",
        "bybit-demo is not live: its open orders show once the venue answers.")
    assert no_orders_text(3, [BY, BFX]) == (
        "No open orders on the live accounts",
        "2 of 3 accounts are not live: their open orders show once their venues answer.")


def test_a_filter_that_hides_everything_says_what_it_hides():
    assert no_match_text("zzz", 120, 42) == (
        "“zzz” — 120 open orders hidden, 42 of them unverified. Esc in the filter clears it.")
    assert no_match_text("zzz", 1, 0) == "“zzz” — 1 open order hidden. Esc in the filter clears it."
