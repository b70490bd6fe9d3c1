"""The journal's files: one JSON object per line, one file per UTC day, written by its own
thread within a second, capped with the oldest days dropped, and read back with torn lines
skipped; the reading API other parts of the blotter call."""

from __future__ import annotations

import json
import logging
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from blotter.core.closes import ClosedOrder, CloseReason
from blotter.core.notices import AccountState, Level, Notice, VenueState
from blotter.core.order import Order, OrderStatus, Side
from blotter.core.store import StoreDiff
from blotter.journal import Journal, day_name, journal_dir
from blotter.journal_read import (
    parse_since,
    past_notices,
    read_journal,
    record_line,
    when_text,
)

DAY = 86_400_000
T0 = 1_796_475_600_000  # 2026-12-05T13:00:00Z


def order(oid: str = "11", remaining: str = "0.5", status: OrderStatus = OrderStatus.OPEN,
          price: str = "95130") -> Order:
    return Order("bitfinex", "bfx-main", oid, "tBTCUSD", Side.BUY, "EXCHANGE LIMIT",
                 Decimal("0.5"), Decimal(remaining), status, "ACTIVE", price=Decimal(price))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def wait_for(predicate, timeout: float = 10.0) -> None:
    """Poll ``predicate`` from this (non-loop) thread; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the journal thread never wrote"
        time.sleep(0.01)


def test_the_thread_writes_without_being_asked_and_close_writes_the_rest(tmp_path):
    journal = Journal(tmp_path, clock=lambda: T0)
    try:
        journal.on_notice(Notice("bybit", "bb", Level.ERROR, "Order does not exist.",
                                 status="110001", order_ids=("abc",), ts_ms=T0))
        path = tmp_path / "2026-12-05.jsonl"
        wait_for(lambda: path.exists() and path.read_text("utf-8").endswith("\n"))
        assert lines(path) == [{
            "ts": T0, "kind": "notice", "venue": "bybit", "account": "bb", "level": "error",
            "status": "110001", "text": "Order does not exist.", "orders": ["abc"],
        }]
        journal.on_state(AccountState("bybit", "bb", VenueState.STALE, "no pong in 20 s",
                                      ts_ms=T0 + 1))
    finally:
        journal.close()
    assert [r["kind"] for r in lines(path)] == ["notice", "state"]
    journal.on_state(AccountState("bybit", "bb", VenueState.LIVE))  # after close: dropped
    journal.flush()
    assert len(lines(path)) == 2


def test_a_record_goes_to_the_file_of_its_utc_day(tmp_path):
    journal = Journal(tmp_path)
    journal.record({"ts": T0 - 13 * 3_600_000 - 1, "kind": "state", "account": "a"})
    journal.record({"ts": T0, "kind": "state", "account": "b"})
    journal.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-12-04.jsonl", "2026-12-05.jsonl"]
    assert [r["account"] for r in read_journal(tmp_path)] == ["a", "b"]
    assert day_name(T0) == "2026-12-05.jsonl"


def test_over_the_cap_the_oldest_days_go_and_today_stays(tmp_path):
    for day in ("2026-12-01", "2026-12-02", "2026-12-03"):
        (tmp_path / f"{day}.jsonl").write_text("x" * 4000 + "\n")
    journal = Journal(tmp_path, cap=9000)
    journal.record({"ts": T0, "kind": "state", "text": "y" * 3000})
    journal.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-12-03.jsonl", "2026-12-05.jsonl"
    ]


def test_an_order_is_recorded_when_first_seen_and_then_only_what_changed(tmp_path):
    journal = Journal(tmp_path, clock=lambda: T0)
    first = order()
    journal.on_diff(StoreDiff((first,), (), ()))
    journal.on_diff(StoreDiff((), (order(remaining="0.2"),), ()))
    journal.on_diff(StoreDiff((), (order(remaining="0.2"),), ()))  # a repeat: nothing new
    journal.on_close(ClosedOrder(order(remaining="0", status=OrderStatus.FILLED),
                                 CloseReason.FILLED, "EXECUTED @ 95130", T0))
    journal.close()
    got = list(read_journal(tmp_path, order="11"))
    assert [r["kind"] for r in got] == ["order", "order", "close"]
    assert got[0]["first"] is True
    assert (got[0]["symbol"], got[0]["side"], got[0]["remaining"], got[0]["price"]) == (
        "tBTCUSD", "buy", "0.5", "95130")
    assert {k: v for k, v in got[1].items() if k not in ("ts", "kind")} == {
        "venue": "bitfinex", "account": "bfx-main", "order": "11", "remaining": "0.2"}
    assert (got[2]["reason"], got[2]["how"]) == ("filled", "filled")


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "2026-12-05.jsonl"
    whole = {"ts": T0, "kind": "notice", "level": "info", "text": "whole"}
    path.write_text(json.dumps(whole) + "\n" + '{"ts": 1796475600001, "kind": "no', "utf-8")
    with caplog.at_level(logging.WARNING, logger="blotter.journal_read"):
        assert list(read_journal(tmp_path)) == [whole]
    assert "line 2 is not whole" in caplog.text


def test_the_filters_narrow_by_time_account_kind_and_order(tmp_path):
    journal = Journal(tmp_path)
    journal.record({"ts": T0, "kind": "action", "action": "a1", "what": "Cancel All",
                    "accounts": ["bfx-main", "bb"], "count": 2, "from": "window"})
    journal.record({"ts": T0 + 1, "kind": "request", "action": "a1", "venue": "bybit",
                    "account": "bb", "operation": "cancel-all", "orders": ["x1"]})
    journal.record({"ts": T0 + 2, "kind": "request", "action": "a1", "venue": "bitfinex",
                    "account": "bfx-main", "operation": "oc_multi", "orders": ["11", "12"]})
    journal.record({"ts": T0 + 3, "kind": "reply", "action": "a1", "venue": "bitfinex",
                    "account": "bfx-main", "status": "answered", "code": None, "text": "ok"})
    journal.record({"ts": T0 + 3, "kind": "reply", "action": "a1", "venue": "bybit",
                    "account": "bb", "status": "answered", "code": None, "text": "ok"})
    journal.record({"ts": T0 + 3, "kind": "outcome", "action": "a1", "venue": "bitfinex",
                    "account": "bfx-main", "order": "12", "outcome": "cancelled", "text": ""})
    journal.record({"ts": T0 + 4, "kind": "state", "venue": "b2trader",
                    "account": "acme/Acme Main", "state": "live", "reason": ""})
    journal.close()
    assert [r["ts"] - T0 for r in read_journal(tmp_path, since=T0 + 2)] == [2, 3, 3, 3, 4]
    assert [r["ts"] - T0 for r in read_journal(tmp_path, account="bb")] == [0, 1, 3]
    assert [r["ts"] - T0 for r in read_journal(tmp_path, account="acme")] == [4]
    assert [r["kind"] for r in read_journal(tmp_path, kinds=("outcome", "state"))] == [
        "outcome", "state"]
    # an order's story starts with the action that aimed at it, with its account's reply
    assert [(r["kind"], r.get("account")) for r in read_journal(tmp_path, order="12")] == [
        ("action", None), ("request", "bfx-main"), ("reply", "bfx-main"),
        ("outcome", "bfx-main")]
    assert list(read_journal(tmp_path / "missing")) == []


def test_past_notices_are_the_last_ones_of_every_run_as_notices(tmp_path):
    for run in range(2):
        journal = Journal(tmp_path)
        for n in range(3):
            journal.on_notice(Notice("bybit", "bb", Level.WARNING, f"run {run} notice {n}",
                                     ts_ms=T0 + run * DAY + n, details=("a", "b")))
        journal.on_notice(Notice("bybit", "bb", Level.INFO, "Cancelling 3/9…",
                                 transient=True))  # progress: not kept
        journal.on_state(AccountState("bybit", "bb", VenueState.LIVE, ts_ms=T0 + run * DAY))
        journal.close()
    notices = past_notices(tmp_path, limit=4)
    assert [n.text for n in notices] == [
        "run 0 notice 2", "run 1 notice 0", "run 1 notice 1", "run 1 notice 2"]
    assert notices[-1] == Notice("bybit", "bb", Level.WARNING, "run 1 notice 2",
                                 ts_ms=T0 + DAY + 2, details=("a", "b"))


def test_since_takes_an_age_or_a_utc_time():
    assert parse_since("10m", T0) == T0 - 600_000
    assert parse_since("2h", T0) == T0 - 7_200_000
    assert parse_since("2026-12-05T13:00", 0) == T0
    assert parse_since("2026-12-05T14:00+01:00", 0) == T0
    assert parse_since("2026-12-05", 0) == T0 - 13 * 3_600_000
    with pytest.raises(ValueError, match="10m"):
        parse_since("yesterday", T0)


def test_a_record_reads_as_one_line_with_its_time_kind_account_and_action():
    line = record_line({"ts": T0 + 250, "kind": "outcome", "action": "a1",
                        "venue": "bybit", "account": "bb", "order": "x1",
                        "outcome": "rejected", "text": "Order does not exist."})
    assert line == ("2026-12-05T13:00:00.250Z outcome bybit:bb [a1] order x1 rejected "
                    "(Order does not exist.)")
    assert when_text(T0) == "2026-12-05T13:00:00.000Z"


def test_the_journal_lives_in_the_state_directory():
    assert journal_dir({"BLOTTER_STATE_DIR": "/tmp/st"}) == Path("/tmp/st/journal")


def test_queueing_from_another_thread_while_it_writes_loses_nothing(tmp_path):
    journal = Journal(tmp_path, clock=lambda: T0, interval=0.001)

    def flood() -> None:
        for n in range(5000):
            journal.on_diff(StoreDiff((order(str(n)),), (), ()))

    threads = [threading.Thread(target=flood) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    assert len(list(read_journal(tmp_path))) == 5000  # the second thread's are repeats


def test_a_process_killed_mid_flood_leaves_whole_lines_but_at_most_a_torn_last_one(tmp_path):
    # SIGKILL while the writer thread writes a flood of order changes: every line but at most
    # the last parses, and reading skips that one
    import signal
    import subprocess
    import sys
    import time as clock

    from blotter.journal_read import read_journal

    script = f"""
import sys, time
from pathlib import Path
from blotter.core.order import Order, OrderStatus, Side
from blotter.core.store import StoreDiff
from blotter.journal import Journal
journal = Journal(Path({str(tmp_path)!r}), interval=0.02)
n = 0
while True:
    batch = tuple(Order("bitfinex", "a", str(i), "tBTCUSD", Side.BUY, "LIMIT", 2.0,
                        2.0 - (n % 19) / 10, OrderStatus.OPEN, "ACTIVE", price=30000.5 + i)
                  for i in range(500))
    journal.on_diff(StoreDiff((), batch, ()) if n else StoreDiff(batch, (), ()))
    n += 1
    if n == 3:
        print("flooding", flush=True)
    time.sleep(0.005)
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "flooding"
        clock.sleep(0.5)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    (day,) = list(tmp_path.glob("*.jsonl"))
    lines = day.read_text(encoding="utf-8").split("\n")
    last = lines.pop()  # after the final newline: "" unless the kill tore a line
    assert len(lines) > 500
    for line in lines:
        json.loads(line)
    if last:
        with pytest.raises(ValueError):
            json.loads(last)
    assert sum(1 for _ in read_journal(tmp_path)) == len(lines)
