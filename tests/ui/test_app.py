"""The app end to end: ``python -m blotter --demo`` starts, shows orders, screenshots and quits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], timeout: float = 45) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "blotter", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def test_demo_screenshot_and_quit(tmp_path):
    out = tmp_path / "out.png"
    done = _run(["--demo", "--screenshot", str(out), "--quit-after", "3"])
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in done.stderr, done.stderr


def test_without_accounts_the_window_still_opens(tmp_path):
    out = tmp_path / "empty.png"
    done = _run(["--screenshot", str(out), "--quit-after", "0.5"])
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
    assert "Traceback" not in done.stderr


def test_a_command_without_its_scope_is_a_usage_error():
    done = _run(["cancel", "--account", "nobody"], timeout=20)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def _venue_ids(venue: str, sim: Any) -> set[str]:
    if venue == "bitfinex":
        return {str(o[0]) for o in sim.open_orders()}
    return {str(o["orderId"]) for o in sim.open_orders()}


@pytest.mark.parametrize(
    ("venue", "title"), [("bitfinex", "Bitfinex"), ("bybit", "Bybit"), ("b2trader", "Acme")]
)
async def test_demo_menu_drops_the_connection_and_the_table_recovers(qtbot, tmp_path, venue,
                                                                     title):
    """The Demo menu's faults reach the simulated venue; the window shows the reconnect and
    ends with exactly the venue's open orders (changes made while away included)."""
    from PySide6.QtCore import QSettings

    from blotter.core.notices import NoticeBus, StateBus, VenueState
    from blotter.core.store import OrderStore
    from blotter.demo import Demo
    from blotter.engine import Engine
    from blotter.ui.main_window import MainWindow
    from tests.helpers import until
    from tests.ui.conftest import close_window

    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    seen: list[VenueState] = []
    engine.states.subscribe(lambda s: seen.append(s.state) if s.venue == venue else None)
    window = MainWindow(engine, settings=QSettings(str(tmp_path / "s.ini"),
                                                   QSettings.Format.IniFormat))
    demo = Demo(engine)
    try:
        await demo.start()
        sim = demo.sims[venue]
        for other in demo.sims.values():
            other.stop_flow()
        if venue == "bitfinex":
            sim.rate_limit_connections = False
        menu = window.add_demo_menu(demo.fault_items())
        assert [a.text() for a in menu.actions()] == ["Bitfinex", "Bybit", "Acme"]

        def rows() -> set[str]:
            return {o.order_id for o in window.model.orders() if o.venue == venue}

        await until(lambda: rows() == _venue_ids(venue, sim) != set())
        seen.clear()
        section = next(a.menu() for a in menu.actions() if a.text() == title)
        # a fault that stays until undone is a check mark that follows the venue's state
        silent = next(a for a in section.actions() if a.text().startswith("Silent"))
        assert silent.isCheckable() and not silent.isChecked()
        assert not silent.text().endswith("on/off")
        silent.trigger()
        section.aboutToShow.emit()
        assert silent.isChecked() and sim.silent_socket
        silent.trigger()
        section.aboutToShow.emit()
        assert not silent.isChecked() and not sim.silent_socket
        drop = next(a for a in section.actions() if a.text() == "Drop the connection")
        drop.trigger()
        await until(lambda: VenueState.RECONNECTING in seen)
        gone = min(_venue_ids(venue, sim))
        if venue == "bitfinex":
            sim.cancel_external(int(gone))  # changes while the blotter is away
        else:
            sim.cancel_external(gone)
        await until(lambda: seen and seen[-1] is VenueState.LIVE, timeout=10)
        await until(lambda: rows() == _venue_ids(venue, sim))
        assert gone not in rows()
    finally:
        close_window(window)
        await engine.stop()
        await demo.stop()


def test_the_last_orders_are_kept_across_a_restart_and_a_broken_file_is_not_fatal(tmp_path):
    from blotter.saved_orders import load

    state = tmp_path / "state"
    env_state = {"BLOTTER_STATE_DIR": str(state)}
    first = _run_with(env_state, ["--demo", "--quit-after", "3"])
    assert first.returncode == 0, first.stderr
    saved = load(state / "demo-orders.json")
    assert saved is not None and len(saved.orders) > 10  # the demo venues' open orders
    assert {o.venue for o in saved.orders} == {"bitfinex", "bybit", "b2trader"}
    assert not (state / "orders.json").exists()  # the demo never touches the trader's own

    (state / "demo-orders.json").write_text("{ half a file")
    second = _run_with(env_state, ["--demo", "--quit-after", "2"])
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    assert "the last known orders could not be read" in second.stderr
    assert (state / "demo-orders.json.unreadable").read_text() == "{ half a file"
    assert load(state / "demo-orders.json") is not None  # written afresh at exit


def _run_with(extra_env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO), **extra_env)
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "blotter", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=45, check=False,
    )


async def test_relaunched_the_last_orders_show_unverified_until_the_venues_answer(
    qtbot, tmp_path
):
    """As at a restart: the saved orders are rows at once, unverified as of the save; each
    demo venue's first list replaces them and says what changed since."""
    from decimal import Decimal

    from PySide6.QtCore import QSettings

    from blotter.app import _restore
    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.order import AccountKey, Order, OrderStatus, Side
    from blotter.core.store import OrderStore
    from blotter.demo import Demo
    from blotter.engine import Engine
    from blotter.saved_orders import dumps, loads
    from blotter.ui.main_window import MainWindow
    from tests.helpers import until
    from tests.ui.conftest import close_window

    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    said: list[str] = []
    engine.notices.subscribe(lambda n: said.append(n.text))
    window = MainWindow(engine, settings=QSettings(str(tmp_path / "s.ini"),
                                                   QSettings.Format.IniFormat))
    demo = Demo(engine)
    # what the last run saw: an order per demo account that the venues no longer have
    ghosts = [
        Order(a.venue, a.account, "999999", "X", Side.BUY, "LIMIT", Decimal(1), Decimal(1),
              OrderStatus.OPEN, "ACTIVE", price=Decimal(1))
        for a in sorted(demo.account_keys()) if a.venue != "b2trader"
    ]
    saved_at = engine.clock() - 86_400_000
    _restore(engine, loads(dumps(saved_at, ghosts, [])), demo.account_keys())
    try:
        assert len(engine.store) == 2
        assert not any(engine.trust.verified(o.account_key) for o in engine.store)
        assert engine.trust.unverified_since(AccountKey("bybit", "bybit-demo")) == saved_at
        await demo.start()
        await until(lambda: all(engine.trust.verified(a) for a in demo.account_keys()),
                    timeout=15)
        assert not any(o.order_id == "999999" for o in engine.store)
        since = [t for t in said if t.startswith("Since blotter last ran")]
        assert len(since) == 2 and all("1 closed while unseen" in t for t in since), since
    finally:
        close_window(window)
        await demo.stop()
        await engine.stop()


def test_the_notice_log_shows_earlier_runs_notices_from_the_journal(tmp_path, monkeypatch):
    import json

    from blotter.app import _earlier_notices
    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.store import OrderStore
    from blotter.engine import Engine
    from blotter.journal import journal_dir

    monkeypatch.setenv("BLOTTER_STATE_DIR", str(tmp_path))
    started = 1_765_000_000_000
    day = journal_dir()
    day.mkdir(parents=True)
    records = [
        {"ts": started - 60_000, "kind": "notice", "venue": "bitfinex", "account": "bfx-main",
         "level": "error", "text": "Cancelled 0 of 1 on bfx-main: Order not found"},
        {"ts": started - 50_000, "kind": "order", "order": "7", "account": "bfx-main"},
        {"ts": started + 1_000, "kind": "notice", "venue": "bitfinex", "account": "bfx-main",
         "level": "info", "text": "this run's: already in the log"},
    ]
    (day / "2025-12-06.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    shown = _earlier_notices(engine, started)()
    assert [(e.notice.text, e.source) for e in shown] == [
        ("Cancelled 0 of 1 on bfx-main: Order not found", "Bitfinex · bfx-main")]


def test_without_a_display_it_says_so_in_one_line_and_exits_2(tmp_path):
    import os
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(BLOTTER_STATE_DIR=str(tmp_path), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "blotter", "--demo"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "blotter needs a desktop session: no display found (set DISPLAY or run under Xvfb); "
        "the command line works without one: blotter orders / cancel")


def test_which_environments_have_no_display_to_open_a_window_on():
    from blotter.app import display_missing

    assert display_missing({}, "linux")
    assert display_missing({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not display_missing({"DISPLAY": ":0"}, "linux")
    assert not display_missing({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not display_missing({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not display_missing({}, "darwin") and not display_missing({}, "win32")


def test_the_first_frame_holds_the_last_known_orders_or_says_the_demo_is_starting(
    qtbot, tmp_path
):
    """Before the loop runs once (so before the first paint), the table already holds the
    saved orders, unverified and counted; with none saved, the demo says it is starting."""
    from decimal import Decimal

    from PySide6.QtCore import QSettings

    from blotter.app import _restore
    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.order import AccountKey, Order, OrderStatus, Side
    from blotter.core.store import OrderStore
    from blotter.engine import Engine
    from blotter.saved_orders import dumps, loads
    from blotter.ui.main_window import MainWindow
    from blotter.ui.orders_model import Column
    from tests.ui.conftest import close_window

    account = AccountKey("bybit", "bybit-demo")
    for saved_orders in (2, 0):
        engine = Engine(OrderStore(), NoticeBus(), StateBus())
        window = MainWindow(engine, settings=QSettings(str(tmp_path / f"{saved_orders}.ini"),
                                                       QSettings.Format.IniFormat))
        try:
            window.show()
            saved = [
                Order(account.venue, account.account, str(n), "BTCUSDT", Side.BUY, "Limit",
                      Decimal(1), Decimal(1), OrderStatus.OPEN, "New", price=Decimal(90000))
                for n in range(saved_orders)
            ]
            _restore(engine, loads(dumps(engine.clock() - 60_000, saved, [])), {account})
            window.demo_starting = True
            window.show_now()  # what app.py does before it yields to the loop
            if saved_orders:
                assert window.model.rowCount() == 2
                assert window.stack.currentWidget() is window.view
                assert window.tabs.tabText(0) == "Open Orders (2)"
                status = window.proxy.index(0, Column.STATUS).data()
                assert status.startswith("as of ") and status.endswith(" · Open"), status
            else:
                assert window.stack.currentWidget() is window.empty
                assert window.empty.title.text() == "Starting the demo venues…"
                assert not window.empty.first_run.isVisible()  # no "Try the demo" meanwhile
        finally:
            close_window(window)


def test_missing_x11_libraries_are_named_in_one_line_before_qt_would_abort():
    from blotter.app import XCB_LIBRARIES, xcb_missing, xcb_missing_text

    tried: list[str] = []

    def load(soname: str) -> object:  # the dynamic loader of a machine without libxcb-cursor0
        tried.append(soname)
        if soname == "libxcb-cursor.so.0":
            raise OSError(f"{soname}: cannot open shared object file: No such file or directory")
        return object()

    x11 = {"DISPLAY": ":0"}
    assert xcb_missing(x11, "linux", load) == ["libxcb-cursor.so.0"]
    assert set(tried) == set(XCB_LIBRARIES)
    assert xcb_missing({**x11, "QT_QPA_PLATFORM": "xcb"}, "linux", load) == ["libxcb-cursor.so.0"]
    line = xcb_missing_text(["libxcb-cursor.so.0"])
    assert "\n" not in line and "libxcb-cursor.so.0" in line
    assert "which is not installed (Debian/Ubuntu: apt-get install libxcb-cursor0)" in line and "blotter orders / cancel" in line
    # no X11 window to open: nothing to probe
    tried.clear()
    for environ, platform in (({}, "linux"), ({**x11, "QT_QPA_PLATFORM": "offscreen"}, "linux"),
                              ({**x11, "WAYLAND_DISPLAY": "wayland-0"}, "linux"),
                              (x11, "darwin"), (x11, "win32")):
        assert xcb_missing(environ, platform, load) == []
    assert tried == []


def test_a_display_no_x_server_answers_on_is_said_in_one_line():
    import ctypes

    from blotter.app import _xcb_answers, unreachable_text, x_display_unreachable

    asked: list[bytes] = []

    def nobody(display: bytes) -> bool:
        asked.append(display)
        return False

    assert x_display_unreachable({"DISPLAY": ":55"}, nobody) == ":55"
    assert asked == [b":55"]
    assert x_display_unreachable({"DISPLAY": ":0"}, lambda display: True) is None
    for environ in ({}, {"DISPLAY": ":55", "QT_QPA_PLATFORM": "offscreen"},
                    {"DISPLAY": ":55", "WAYLAND_DISPLAY": "wayland-0"}):
        assert x_display_unreachable(environ, nobody) is None  # no X11 window to open
    line = unreachable_text(":55")
    assert "\n" not in line and "DISPLAY=:55" in line and "blotter orders / cancel" in line
    try:
        ctypes.CDLL("libxcb.so.1")
    except OSError:
        pytest.skip("libxcb is not installed here: the real connection cannot be tried")
    assert not _xcb_answers(b":219")  # a real libxcb connection to a display nobody serves


def test_readme_lists_a_package_for_every_x11_library_the_window_needs():
    from blotter.app import XCB_LIBRARIES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    line = next(li for li in readme.splitlines() if "libxcb-cursor0" in li)
    assert set(XCB_LIBRARIES.values()) <= set(line.strip("`").split()), (
        set(XCB_LIBRARIES.values()) - set(line.strip("`").split()))
