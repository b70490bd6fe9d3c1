"""The venue's words as the trader reads them in the status bar: ``STATUS: TEXT``, verbatim."""

from __future__ import annotations

import pytest

from blotter.core.notices import Level
from blotter.venues.bitfinex.notices import (
    error_notice,
    info_notice,
    is_not_found,
    notification_notice,
    rest_failure_notice,
)
from blotter.venues.bitfinex.stream import Info
from tests.venues.bitfinex.samples import ACCOUNT, recorded

VENUE = "bitfinex"


def test_a_cancel_acknowledgement_from_the_docs() -> None:
    notice = notification_notice(recorded("n_oc_req_success.json"), ACCOUNT, ts_ms=5)
    assert notice.venue == "bitfinex"
    assert notice.account == "main"
    assert notice.level is Level.SUCCESS
    assert notice.status == "SUCCESS"
    assert notice.text == "Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    assert notice.order_ids == ("1185815100",)
    assert notice.ts_ms == 5
    assert notice.line() == (
        "SUCCESS: Submitted for cancellation; waiting for confirmation (ID: 1185815100)."
    )


def test_a_multi_cancel_acknowledgement() -> None:
    notice = notification_notice(recorded("n_oc_multi_req.json"), ACCOUNT)
    assert notice.line() == "SUCCESS: Submitting 2 order cancellations."
    assert notice.order_ids == ("1187248974", "1187248975")


def test_order_not_found() -> None:
    n = recorded("n_error_not_found.json")
    notice = notification_notice(n, ACCOUNT)
    assert notice.level is Level.ERROR
    assert notice.line() == "ERROR: Order not found."
    assert notice.order_ids == ("1111",)
    assert is_not_found(n.text)


@pytest.mark.parametrize(
    ("text", "gone"),
    [("Order not found.", True), ("order NOT FOUND", True), ("id: invalid", False),
     ("Order could not be cancelled.", False), ("", False)],
)
def test_only_not_found_means_gone(text: str, gone: bool) -> None:
    assert is_not_found(text) is gone


def test_error_event() -> None:
    notice = error_notice(10100, "auth: invalid", ACCOUNT)
    assert notice.level is Level.ERROR
    assert notice.text == "auth: invalid"
    assert notice.line() == "ERROR 10100: auth: invalid"
    assert error_notice(None, "", ACCOUNT).line() == "ERROR: error without a message"


def test_rest_failures_say_what_the_venue_said() -> None:
    def line(status: int, code: int | None) -> str:
        return rest_failure_notice("text", ACCOUNT, status=status, code=code).line()

    assert line(500, 10001) == "ERROR 10001: text"
    assert line(429, None) == "HTTP 429: text"
    assert line(0, None) == "ERROR: text"  # not reached at all
    notice = rest_failure_notice("x", ACCOUNT, status=500, code=1, order_ids=iter(["7"]),
                                 ts_ms=9)
    assert (notice.level, notice.order_ids, notice.ts_ms) == (Level.ERROR, ("7",), 9)


@pytest.mark.parametrize(
    ("code", "msg", "level", "line"),
    [
        (20051, "Stopping. Please try to reconnect", Level.WARNING,
         "INFO 20051: Stopping. Please try to reconnect"),
        (20060, "", Level.WARNING,
         "INFO 20060: maintenance — cancels go over REST until it ends"),
        (20061, "", Level.INFO, "INFO 20061: maintenance ended"),
        (5000, "Info message", Level.INFO, "INFO 5000: Info message"),
    ],
)
def test_info_codes(code: int, msg: str, level: Level, line: str) -> None:
    notice = info_notice(Info(None, code, msg, None), ACCOUNT, 3)
    assert notice is not None
    assert (notice.level, notice.line(), notice.ts_ms) == (level, line, 3)


def test_a_plain_info_says_nothing() -> None:
    assert info_notice(Info(2, None, "", 1), ACCOUNT) is None
    assert info_notice(Info(None, 5000, "", None), ACCOUNT) is None
