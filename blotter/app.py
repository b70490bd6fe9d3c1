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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blotter.core.notices import Level, Notice, NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.logs import setup_logging

log = logging.getLogger("blotter")

DEMO_VENUES = ("bitfinex", "bybit", "b2trader")
DEMO_ACCOUNTS = {
    "bitfinex": AccountKey("bitfinex", "bfx-demo"),
    "bybit": AccountKey("bybit", "bybit-demo"),
    "b2trader": AccountKey("b2trader", "acme"),
}
DEMO_BROKER = "Acme"  # the simulated B2TRADER broker's name
DEMO_SEED = 20240501
SHUTDOWN_TIMEOUT = 5.0


@dataclass
class Options:
    demo: bool = False
    config: Path | None = None
    verbose: bool = False
    screenshot: Path | None = None
    quit_after: float | None = None
    size: tuple[int, int] | None = None  # window size for screenshots


def run(options: Options) -> int:
    """Show the window and run until it is closed; returns the process exit code."""
    setup_logging(options.verbose)
    import qasync
    from PySide6.QtWidgets import QApplication

    from blotter.ui.style import apply_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("blotter")
    app.setApplicationName("blotter")
    app.setApplicationDisplayName("blotter")
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
    demo: Demo | None = None
    exit_code = 0
    settings_dir: str | None = None

    settings: QSettings | None = None
    if options.screenshot is not None or options.size is not None:
        # reproducible pictures: a fresh window, not the trader's saved layout
        settings_dir = tempfile.mkdtemp(prefix="blotter-shot-")
        settings = QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat)

    window = MainWindow(engine, settings=settings)
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
    try:
        if options.demo:
            await start_demo()
        else:
            _open_accounts(engine, window, options)

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
        if settings_dir is not None:
            shutil.rmtree(settings_dir, ignore_errors=True)
        window.deleteLater()
    return exit_code


def _open_accounts(engine: Engine, window: Any, options: Options) -> None:
    """The trader's own accounts: read the file, connect each, hand the manager to the window.
    A broken file is shown (file, line, field), not raised."""
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
        manager.connect_all()
        if not manager.config.accounts:
            log.info("no accounts in %s", display_path(path))
    window.set_account_manager(manager, error)


async def _shutdown(engine: Engine, demo: Demo | None) -> None:
    try:
        await asyncio.wait_for(engine.stop(), SHUTDOWN_TIMEOUT)
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


FaultItem = tuple[str, str, Callable[[], object]]


class Demo:
    """Simulated venues on loopback, and a real client per demo account pointed at them."""

    def __init__(self, engine: Engine, venues: tuple[str, ...] = DEMO_VENUES) -> None:
        self.engine = engine
        self.venues = venues
        self.sims: dict[str, Any] = {}
        self.nonce_dir: str | None = None

    async def start(self) -> None:
        from blotter.sim import start_all

        self.sims = await start_all(
            list(self.venues), host="127.0.0.1", port=0,
            initial_orders=40, flow_rate=1.5, seed=DEMO_SEED,
        )
        for venue in self.venues:
            self.engine.add_client(self._client(venue, self.sims[venue]))
        where = ", ".join(
            f"{self.engine.venue_label(v, DEMO_ACCOUNTS[v].account)} at {self.sims[v].rest_url}"
            for v in self.venues
        )
        self.engine.notices.publish(
            Notice("blotter", "", Level.INFO,
                   f"Demo mode: simulated {where}. Nothing here is real money.")
        )

    def _client(self, venue: str, sim: Any) -> Any:
        credentials = sim.credentials
        common: dict[str, Any] = {
            "rest_url": sim.rest_url, "ws_url": sim.ws_url, "store": self.engine.store,
            "notices": self.engine.notices, "states": self.engine.states,
        }
        if venue == "bitfinex":
            from blotter.venues.bitfinex.client import BitfinexClient

            self.nonce_dir = tempfile.mkdtemp(prefix="blotter-demo-nonce-")
            return BitfinexClient(
                DEMO_ACCOUNTS[venue], api_key=credentials["api_key"],
                api_secret=credentials["api_secret"], nonce_dir=self.nonce_dir, **common,
            )
        if venue == "bybit":
            from blotter.venues.bybit.client import BybitClient

            return BybitClient(
                DEMO_ACCOUNTS[venue], api_key=credentials["api_key"],
                api_secret=credentials["api_secret"], **common,
            )
        if venue == "b2trader":
            from blotter.venues.b2trader.client import B2traderClient

            return B2traderClient(
                DEMO_ACCOUNTS[venue], api_token=credentials["api_token"], broker=DEMO_BROKER,
                **common,
            )
        raise ValueError(f"no demo client for {venue!r}")

    def _say(self, text: str) -> None:
        self.engine.notices.publish(Notice("blotter", "", Level.INFO, f"Demo: {text}"))

    def fault_items(self) -> list[tuple[str, list[FaultItem]]]:
        """What each simulated venue can be made to do, for the window's Demo menu: one
        section per venue."""
        makers = {
            "bitfinex": self._bitfinex_faults,
            "bybit": self._bybit_faults,
            "b2trader": self._b2trader_faults,
        }
        return [
            (self.engine.venue_label(v, DEMO_ACCOUNTS[v].account), makers[v](self.sims[v]))
            for v in self.venues if v in makers
        ]

    def _common_faults(self, name: str, sim: Any) -> tuple[FaultItem, FaultItem, FaultItem]:
        def slow_replies() -> None:
            sim.reply_delay = 0.0 if sim.reply_delay else 1.5
            self._say(f"slow {name} replies {'on (1.5 s)' if sim.reply_delay else 'off'}.")

        def flow() -> None:
            if sim.flow_running:
                sim.stop_flow()
            else:
                sim.start_flow()
            self._say(f"{name} order flow {'running' if sim.flow_running else 'paused'}.")

        def fill_race() -> None:
            sim.fill_on_cancel = True
            self._say(f"the next {name} order you cancel will be filled first.")

        return (
            ("Next cancel loses to a fill",
             "The next cancelled order is filled before the cancel lands", fill_race),
            ("Slow replies on/off", "The venue waits 1.5 s before answering", slow_replies),
            ("Pause/resume order flow", "Stop or restart the simulated trading activity", flow),
        )

    def _bitfinex_faults(self, sim: Any) -> list[FaultItem]:
        return [
            ("Drop the connection", "The venue cuts the websocket (close 1006)",
             sim.drop_connections),
            ("Venue restart (info 20051)", "The venue says it is restarting, then closes",
             lambda: sim.send_info(20051, close=True)),
            ("Send a malformed frame", "The venue sends a frame that is not valid JSON",
             lambda: sim.send_raw('[0,"ou",[1,')),
            *self._common_faults("Bitfinex", sim),
        ]

    def _bybit_faults(self, sim: Any) -> list[FaultItem]:
        def skew() -> None:
            sim.clock_skew = 0.0 if sim.clock_skew else -3.0
            self._say("Bybit's clock " + ("3 s behind ours." if sim.clock_skew else "on time."))

        def silent() -> None:
            sim.silent_socket = not sim.silent_socket
            self._say("Bybit's websocket " + ("silent." if sim.silent_socket else "talking."))

        def rate_limit() -> None:
            sim.force_rate_limit = 3
            self._say("Bybit answers the next 3 calls with 10006 (rate limit).")

        def refuse_key() -> None:
            sim.refuse_key = not sim.refuse_key
            self._say("Bybit " + ("refuses" if sim.refuse_key else "accepts") + " the API key.")
            return sim.drop_connections() if sim.refuse_key else None

        def server_error() -> None:
            sim.force_server_error = 1
            self._say("Bybit answers the next call with 10016 (server error).")

        return [
            ("Drop the connection", "The venue cuts the websocket (close 1006)",
             sim.drop_connections),
            ("Silent socket on/off", "The websocket stays open but sends nothing", silent),
            ("Clock 3 s behind on/off", "The venue's clock runs 3 s behind (10002)", skew),
            ("Rate limit (10006)", "The next 3 calls are refused for the rate limit",
             rate_limit),
            ("Server error (10016)", "The next call fails with 10016", server_error),
            ("Refuse the API key on/off", "Every call and login answers 10003", refuse_key),
            *self._common_faults("Bybit", sim),
        ]

    def _b2trader_faults(self, sim: Any) -> list[FaultItem]:
        def expire() -> None:
            sim.expire_tokens()
            self._say(f"{DEMO_BROKER} expired every access token: the hub closes, the blotter "
                      "gets a new token and reconnects.")

        def split() -> None:
            sim.split_records = not sim.split_records
            self._say(f"{DEMO_BROKER} splits every record over two frames: "
                      f"{'on' if sim.split_records else 'off'}.")

        def rate_limit() -> None:
            sim.force_status(429, "problem", count=3)
            self._say(f"{DEMO_BROKER} answers the next 3 cancels with 429 (Retry-After "
                      f"{sim.retry_after} s).")

        def server_error() -> None:
            sim.force_status(500, "problem", count=3)
            self._say(f"{DEMO_BROKER} answers the next 3 cancels with 500.")

        return [
            ("Drop the connection", "The hub's websocket is cut (close 1006)",
             sim.drop_connections),
            ("Expire the access token", "Every JWT expires now; the hub closes the stream",
             expire),
            ("Split records on/off", "Each SignalR record arrives in two frames", split),
            ("Rate limit (429)", "The next 3 cancels get 429 with Retry-After", rate_limit),
            ("Server error (500)", "The next 3 cancels get 500", server_error),
            *self._common_faults(DEMO_BROKER, sim),
        ]

    async def stop(self) -> None:
        for name, sim in self.sims.items():
            try:
                await asyncio.wait_for(sim.stop(), SHUTDOWN_TIMEOUT)
            except Exception:
                log.warning("the %s simulator did not stop cleanly", name, exc_info=True)
        self.sims.clear()
        if self.nonce_dir is not None:
            shutil.rmtree(self.nonce_dir, ignore_errors=True)
            self.nonce_dir = None
