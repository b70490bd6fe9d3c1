"""How an order reads in the table: decimals as the venue wrote them, shares rounded down, local
times, sides and flags, the order kind, the row's tooltip and the words the filter box matches."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest

from blotter.core.order import Flag, Side
from blotter.ui.formatting import (
    MISSING,
    default_venue_label,
    filter_text,
    flag_text,
    format_decimal,
    format_filled,
    format_percent,
    local_time,
    order_tooltip,
    side_text,
    type_text,
)
from tests.ui.book import T0, make_order


@pytest.fixture
def utc(monkeypatch):
    """The local clock reads UTC for the test (restored after)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def acme(venue: str, account: str) -> str:
    return "Acme Markets"


def test_formatting_helpers():
    assert format_decimal(Decimal("0.1") + Decimal("0.2")) == "0.3"
    assert format_decimal(Decimal("-0")) == "0"
    assert format_decimal(Decimal("1E-8")) == "0.00000001"
    assert format_decimal(None) == "—"
    assert format_percent(Decimal("0.999"), Decimal(1)) == "99.9%"
    assert format_percent(Decimal("0.0001"), Decimal(1)) == "<0.1%"
    assert format_percent(Decimal(1), Decimal(3)) == "33%"


@pytest.mark.parametrize(
    ("value", "grouped", "plain"),
    [
        (Decimal("1234567.891"), "1,234,567.891", "1234567.891"),
        (Decimal("16673.0"), "16,673", "16673"),
        (Decimal("12345.67890000"), "12,345.6789", "12345.6789"),
        (Decimal("1E+3"), "1,000", "1000"),
        (Decimal("-12.50"), "-12.5", "-12.5"),
        (Decimal("0.000012345"), "0.000012345", "0.000012345"),
        (Decimal("0E-8"), "0", "0"),
    ],
)
def test_a_decimal_reads_as_the_venue_wrote_it(value: Decimal, grouped: str, plain: str) -> None:
    assert format_decimal(value) == grouped
    assert format_decimal(value, grouping=False) == plain


def test_a_number_that_is_not_finite_is_shown_as_such() -> None:
    assert format_decimal(Decimal("NaN")) == "NaN"
    assert format_decimal(Decimal("-Infinity")) == "-Infinity"
    assert MISSING == "—"


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        ("0", "5", "0%"),
        ("0.5", "1", "50%"),
        ("0.01", "1", "1%"),
        ("0.005", "1", "0.5%"),
        ("0.0005", "1", "<0.1%"),
        ("0.9995", "1", "99.9%"),  # nearly filled never reads as done
        ("1", "1", "100%"),
        ("1", "0", "0%"),  # an order of nothing is not a division by zero
    ],
)
def test_a_share_is_rounded_down(part: str, whole: str, shown: str) -> None:
    assert format_percent(Decimal(part), Decimal(whole)) == shown


def test_filled_reads_amount_and_share() -> None:
    assert format_filled(make_order(1, amount="2", remaining="0.5")) == "1.5 (75%)"
    assert format_filled(make_order(2, amount="0.1", remaining="0.09")) == "0.01 (10%)"
    assert format_filled(make_order(3, amount="2")) == "0"


def test_times_read_on_the_local_clock(utc) -> None:
    assert local_time(T0 + 1234) == "22:13:21"
    assert local_time(T0 + 1234, with_date=True) == "2023-11-14 22:13:21.234 UTC"
    assert local_time(None) == MISSING


def test_sides_and_flags_in_words() -> None:
    assert side_text(Side.BUY) == "Buy" and side_text(Side.SELL) == "Sell"
    flags = frozenset({Flag.OCO, Flag.HIDDEN, Flag.REDUCE_ONLY, Flag.POST_ONLY, Flag.CLOSE})
    # always in the same order, whatever order the venue listed them in
    assert flag_text(make_order(1, flags=flags)) == "hidden, post-only, reduce-only, OCO, close"
    assert flag_text(make_order(2)) == ""


@pytest.mark.parametrize(
    ("category", "shown"),
    [(None, "EXCHANGE LIMIT"), ("spot", "Spot EXCHANGE LIMIT"), ("linear", "Linear EXCHANGE LIMIT"),
     ("cfd", "CFD EXCHANGE LIMIT"), ("perp", "Perp EXCHANGE LIMIT")],
)
def test_the_type_is_led_by_the_market_kind(category: str | None, shown: str) -> None:
    assert type_text(dataclasses.replace(make_order(1), category=category)) == shown


def full_order():
    order = make_order(1, amount="2", remaining="0.5", group="7", side=Side.SELL,
                       flags=frozenset({Flag.OCO, Flag.HIDDEN}))
    return dataclasses.replace(order, avg_price=Decimal("99.5"), client_id="123",
                               client_id_date="2023-11-14", category="linear",
                               updated_ms=order.created_ms + 61_000)


def test_the_tooltip_tells_the_whole_order(utc) -> None:
    assert order_tooltip(full_order(), False, acme).splitlines() == [
        "acct (Acme Markets) · order 1",
        "Sell 2 tBTCUSD @ 100  (EXCHANGE LIMIT)",
        "Filled 1.5 of 2 (75%), remaining 0.5",
        "Average fill price 99.5",
        "Status: Partially filled 75% @ 99.5 (the venue says: ACTIVE)",
        "Flags: hidden, OCO",
        "Group 7",
        "Client ID 123 (2023-11-14)",
        "Market: linear",
        "Created 2023-11-14 22:13:21.000 UTC",
        "Updated 2023-11-14 22:14:22.000 UTC",
    ]


def test_the_tooltip_of_a_plain_order_leaves_out_what_it_does_not_have(utc) -> None:
    order = dataclasses.replace(make_order(2), price=None)
    assert order_tooltip(order, True).splitlines() == [
        "acct (bitfinex) · order 2",  # before the engine names the venues: its own name
        "Buy 1 tBTCUSD @ market  (EXCHANGE LIMIT)",
        "Filled 0 of 1 (0%), remaining 1",
        "Status: Open (the venue says: ACTIVE)  — cancel requested",
        "Flags: none",
        "Created 2023-11-14 22:13:22.000 UTC",
    ]


def test_the_filter_matches_the_rows_words_and_the_venues_label() -> None:
    words = filter_text(full_order(), acme)
    assert words == words.lower()
    for word in ("bitfinex", "acme markets", "acct", "tbtcusd", "sell", "exchange limit",
                 "linear", "active", "1", "7", "123", "hidden", "oco"):
        assert word in words
    assert "acme" not in filter_text(full_order())
    assert default_venue_label("bybit", "by-1") == "bybit"
