"""Composition root: QApplication + qasync loop, then store, buses, engine, clients and the window.

``--demo`` starts the venue simulators inside the same loop on 127.0.0.1 (free ports) and runs the
real clients against them. Closing the window stops the clients and the simulators before the
loop ends, so nothing is left half-open and nothing prints a traceback on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blotter.collector import freeze_after_big_lists
from blotter.core.notices import Level, Notice, NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.core.trust import client_account
from blotter.engine import Engine
from blotter.journal import Journal, journal_dir
from blotter.journal import attach as attach_journal
from blotter.logs import setup_logging
from blotter.saved_orders import OrderSaver, SavedOrders, UnreadableState, default_path, load
from blotter.saved_orders import restore as restore_orders

if TYPE_CHECKING:  # the demo's venues load after the window's first paint
    from blotter.demo import Demo

log = logging.getLogger("blotter")

SHUTDOWN_TIMEOUT = 5.0


@dataclass
class Options:
    demo: bool = False
    config: Path | None = None
    verbose: bool = False
    screenshot: Path | None = None
    quit_after: float | None = None
    size: tuple[int, int] | None = None  # window size for screenshots


NO_DISPLAY = (
    "blotter needs a desktop session: no display found (set DISPLAY or run under Xvfb); "
    "the command line works without one: blotter orders / cancel"
)


def display_missing(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether the window cannot open for want of a display: on Linux and the BSDs, no
    ``DISPLAY`` and no ``WAYLAND_DISPLAY``, and no ``QT_QPA_PLATFORM`` that needs none
    ("offscreen", "minimal", "vnc"...). Qt itself would abort the process there."""
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen and chosen not in ("xcb", "wayland", "wayland-egl"):
        return False
    return not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


# the libraries Qt's X11 platform plugin (libqxcb.so) loads, and the Debian/Ubuntu package of each
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1", "libX11.so.6": "libx11-6", "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}


def xcb_missing(
    environ: Mapping[str, str],
    platform: str = sys.platform,
    load: Callable[[str], object] | None = None,
) -> list[str]:
    """The libraries of ``XCB_LIBRARIES`` that cannot be loaded when the window would open
    on X11 (Linux, ``DISPLAY`` set, no other Qt platform chosen, no Wayland session Qt would
    prefer); empty otherwise. Without them Qt aborts the process with its own message."""
    if not platform.startswith("linux") or not environ.get("DISPLAY"):
        return []
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen != "xcb" and (chosen or environ.get("WAYLAND_DISPLAY")):
        return []
    if load is None:
        import ctypes

        load = ctypes.CDLL
    missing = []
    for soname in XCB_LIBRARIES:
        try:
            load(soname)
        except OSError:
            missing.append(soname)
    return missing


def xcb_missing_text(missing: list[str]) -> str:
    """The one line said when the X11 libraries the window needs are missing."""
    packages = " ".join(XCB_LIBRARIES[soname] for soname in missing)
    verb = "is" if len(missing) == 1 else "are"
    return (f"blotter cannot open its window: Qt's X11 platform plugin needs {', '.join(missing)}, "
            f"which {verb} not installed (Debian/Ubuntu: apt-get install {packages}); "
            "the command line works without one: blotter orders / cancel")


def x_display_unreachable(
    environ: Mapping[str, str], connect: Callable[[bytes], bool] | None = None
) -> str | None:
    """The X display the window would open on (``DISPLAY``, when ``xcb_missing`` would look at
    all) if no X server answers there (a stale ``DISPLAY``, a stopped Xvfb); None otherwise.
    ``connect`` says whether a display answers (default: one libxcb connection, ~1 ms)."""
    display = environ.get("DISPLAY", "")
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if (not sys.platform.startswith("linux") or not display
            or (chosen != "xcb" and (chosen or environ.get("WAYLAND_DISPLAY")))):
        return None
    answers = (connect or _xcb_answers)(display.encode())
    return None if answers else display


def _xcb_answers(display: bytes) -> bool:
    import ctypes

    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # xcb_missing says what is missing
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display, None)
    try:
        return bool(connection) and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)


def unreachable_text(display: str) -> str:
    """The one line said when no X server answers on ``display``."""
    return (f"blotter needs a desktop session: no display answers at DISPLAY={display} (is the "
            "X server or Xvfb running?); the command line works without one: "
            "blotter orders / cancel")


def run(options: Options) -> int:
    """Show the window and run until it is closed; returns the process exit code (2, with
    one line on stderr, when there is no display to show it on, or the X11 libraries Qt needs
    to show it are missing)."""
    if display_missing(os.environ):
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    missing = xcb_missing(os.environ)
    if missing:
        print(xcb_missing_text(missing), file=sys.stderr)
        return 2
    unreachable = x_display_unreachable(os.environ)
    if unreachable is not None:
        print(unreachable_text(unreachable), file=sys.stderr)
        return 2
    setup_logging(options.verbose)
    import qasync  # type: ignore[import-untyped]  # qasync ships no type information
    from PySide6.QtWidgets import QApplication

    from blotter.ui.style import apply_style

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setOrganizationName("blotter")
    app.setApplicationName("blotter")
    # no application display name: Qt would add " — blotter" to a title that starts with it
    app.setQuitOnLastWindowClosed(False)  # we end the loop ourselves, after the clean-up
    apply_style(app)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return int(loop.run_until_complete(_main(options)))
    except KeyboardInterrupt:
        return 130
    finally:
        asyncio.set_event_loop(None)


async def _main(options: Options) -> int:
    from PySide6.QtCore import QSettings, QTimer

    from blotter.ui.main_window import MainWindow

    loop = asyncio.get_running_loop()
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    notices.on_error = lambda exc: log.error("a notice subscriber failed: %s", exc, exc_info=exc)
    states.on_error = lambda exc: log.error("a state subscriber failed: %s", exc, exc_info=exc)
    engine = Engine(store, notices, states)
    freeze_after_big_lists(store)  # full collections of a big book stall the window (collector.py)
    journal = Journal()
    attach_journal(journal, engine)
    demo: Demo | None = None
    exit_code = 0
    settings_dir: str | None = None

    settings: QSettings | None = None
    if options.screenshot is not None or options.size is not None:
        # reproducible pictures: a fresh window, not the trader's saved layout
        settings_dir = tempfile.mkdtemp(prefix="blotter-shot-")
        settings = QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat)

    # the closes of the last run go to Recently Closed before the window reads them
    path = default_path(demo=options.demo)
    saved = _read_saved(path, notices)
    if saved is not None:
        store.restore_closed(saved.closed)
    window = MainWindow(engine, settings=settings)
    window.notice_history = _earlier_notices(engine, engine.clock())
    closed: asyncio.Future[None] = loop.create_future()

    def on_closed() -> None:
        if not closed.done():
            closed.set_result(None)

    window.closed.connect(on_closed)
    if options.size is not None:
        window.resize(*options.size)
    window.show()
    restore_signals = _close_on_signals(window.close)

    demo_start: asyncio.Task[None] | None = None

    async def start_demo() -> None:
        nonlocal demo
        if demo is not None:
            return
        from blotter.demo import Demo

        demo = Demo(engine)
        try:
            await demo.start()
            window.add_demo_menu(demo.fault_items())
        except Exception as exc:
            log.exception("demo mode could not start")
            notices.publish(
                Notice("blotter", "", Level.ERROR, f"Demo mode could not start: {exc}")
            )
        window.refresh()

    def on_demo_requested() -> None:
        nonlocal demo_start
        if demo_start is None:
            demo_start = loop.create_task(start_demo())

    window.demo_requested.connect(on_demo_requested)
    saver: OrderSaver | None = None
    try:
        # the last known orders are shown (unverified, "as of" when they were saved) before any
        # client connects, so each account's first list reports what changed meanwhile
        # the venues (their clients, the demo's simulators) start once the window has painted:
        # the trader sees the window, and the last known orders, first
        if options.demo:
            from blotter.demo import DemoVenues

            _restore(engine, saved, DemoVenues().account_keys())
            window.demo_starting = True
            window.show_now()  # the first frame shows them, or that the demo is starting
            saver = OrderSaver(store, path, engine.clock)
            await _painted(window)
            await start_demo()
        else:
            manager = _open_accounts(engine, window, options, saved)
            window.show_now()  # the first frame shows the last known orders
            saver = OrderSaver(store, path, engine.clock)
            await _painted(window)
            if manager is not None:
                manager.connect_all()

        if options.quit_after is not None:
            def finish() -> None:
                nonlocal exit_code
                if options.screenshot is not None and not _save_screenshot(window, options.screenshot):
                    exit_code = 1
                window.close()

            QTimer.singleShot(int(options.quit_after * 1000), finish)

        await closed
    finally:
        restore_signals()
        if not await window.wait_for_cancels(SHUTDOWN_TIMEOUT):
            log.warning("closing with cancels still unconfirmed; check the venue")
        await _shutdown(engine, demo)
        if saver is not None:
            await saver.close()
            if saver.error is not None:
                log.warning("the last known orders were not saved: %s", saver.error)
        journal.close()  # written and fsynced: the run's last notices are in it
        if settings_dir is not None:
            shutil.rmtree(settings_dir, ignore_errors=True)
        window.deleteLater()
    return exit_code


HISTORY_DAYS = 7  # how far back the notice log shows earlier runs' notices


def _earlier_notices(engine: Engine, started_ms: int) -> Callable[[], list[Any]]:
    """What the notice log shows of earlier runs, read from the journal when the log opens:
    the notices written before this run started (this run's are in the log already)."""

    def read() -> list[Any]:
        from datetime import datetime

        from blotter.journal_read import past_notices
        from blotter.ui.status_bar import LoggedNotice, notice_source

        since = started_ms - HISTORY_DAYS * 86_400_000
        notices = [n for n in past_notices(journal_dir(), 1000, since=since)
                   if n.ts_ms is not None and n.ts_ms < started_ms]
        return [
            LoggedNotice(datetime.fromtimestamp(n.ts_ms / 1000), n,
                         notice_source(n, engine.venue_label))
            for n in notices if n.ts_ms is not None
        ]

    return read


def _read_saved(path: Path, notices: NoticeBus) -> SavedOrders | None:
    """The orders of the last run; an unreadable file is said in a notice and ignored."""
    try:
        return load(path)
    except UnreadableState as exc:
        log.warning("the last known orders could not be read: %s", exc)
        notices.publish(Notice(
            "blotter", "", Level.WARNING,
            f"The last known orders could not be read ({exc}); starting without them.",
        ))
        return None


def _restore(engine: Engine, saved: SavedOrders | None, accounts: set[AccountKey]) -> None:
    """Show the saved orders of ``accounts`` (their logins' trading accounts too) as
    unverified, as of when they were saved."""
    if saved is None:
        return
    restored = restore_orders(engine.store, saved, lambda a: client_account(a) in accounts)
    if restored:
        engine.trust.restore(restored, saved.saved_ms)


FIRST_PAINT_WAIT = 0.5  # s: the venues start then at the latest, painted or not (a hidden window)


async def _painted(window: Any, timeout: float = FIRST_PAINT_WAIT) -> None:
    """Until a widget of ``window`` has painted (or ``timeout`` has passed)."""
    from PySide6.QtCore import QCoreApplication, QEvent, QObject

    painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    paint = QEvent.Type.Paint

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if (event.type() == paint and not painted.done()
                    and getattr(watched, "window", lambda: None)() is window):
                painted.set_result(None)
            return False

    app, watch = QCoreApplication.instance(), FirstPaint()
    if app is None or not window.isVisible():
        return
    app.installEventFilter(watch)  # the paints of every widget of the window
    try:
        await asyncio.wait_for(painted, timeout)
    except TimeoutError:
        pass
    finally:
        app.removeEventFilter(watch)


def _open_accounts(
    engine: Engine, window: Any, options: Options, saved: SavedOrders | None = None
) -> Any:
    """The trader's own accounts: read the file, show their last known orders, hand the
    manager to the window; returns the manager to connect each account (None when the file
    is broken: that is shown, file, line and field, not raised)."""
    from blotter.account_manager import AccountManager
    from blotter.config import ConfigError, display_path, resolve_config_path

    path = resolve_config_path(
        str(options.config) if options.config is not None else None, os.environ
    )
    manager = AccountManager(engine, path)
    error = None
    try:
        manager.load()
    except ConfigError as exc:
        error = str(exc)
        engine.notices.publish(Notice("blotter", "", Level.ERROR, error))
    else:
        _restore(engine, saved, {AccountKey(a.venue, a.name) for a in manager.config.accounts})
        if not manager.config.accounts:
            log.info("no accounts in %s", display_path(path))
    window.set_account_manager(manager, error)
    return manager if error is None else None


async def _shutdown(engine: Engine, demo: Demo | None) -> None:
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            await engine.stop()
    except Exception:
        log.warning("clients did not stop cleanly", exc_info=True)
    if demo is not None:
        await demo.stop()


def _save_screenshot(window: Any, path: Path) -> bool:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = bool(window.grab().save(str(path), "PNG"))
    if not ok:
        log.error("could not write the screenshot to %s", path)
    return ok


def _close_on_signals(close: Callable[[], object]) -> Callable[[], None]:
    """Ctrl+C / SIGTERM close the window (and so run the clean-up) instead of killing us."""
    from PySide6.QtCore import QTimer

    previous: dict[int, Any] = {}

    def handler(signum: int, frame: object) -> None:
        QTimer.singleShot(0, close)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            previous[signum] = signal.signal(signum, handler)
    # Python runs signal handlers only when it gets control; Qt's loop is C++, so tick.
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(250)

    def restore() -> None:
        ticker.stop()
        for signum, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, old)

    return restore
