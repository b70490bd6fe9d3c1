"""Startup: launch a fresh process → first paint; → the demo's orders shown; → 10k orders shown.

Each figure is one fresh ``python`` process, timed from just before the parent starts it (the
interpreter's own start-up and every import count) to the moment named, read in the child on
the system's monotonic clock, which parent and child share:

* **bare Qt app, first paint** (the same-run baseline): a process that imports PySide6, shows
  an empty ``QWidget`` and notes its first Paint event; what no Qt program on this machine
  can beat;
* **first paint**: ``blotter`` itself (``app.run``, no accounts, a fresh config and state
  directory): the main window's first Paint event;
* **demo orders shown**: ``blotter --demo``: the first paint of the orders table that shows
  rows of every demo venue, all the store holds (the simulators run inside the app, as the
  demo does);
* **10k orders shown**: a Bitfinex account whose venue (the simulator, in a process of its own
  started beforehand, as a real venue would be) holds 10,000 open orders: the window and the
  client are built as ``app.run`` builds them; the first table paint with all 10,000 rows.

Every launch runs from compiled bytecode, as an installed blotter does (pip compiles it): the
checkout is compiled once into a cache of the bench's own (``PYTHONPYCACHEPREFIX``), even where
the environment says ``PYTHONDONTWRITEBYTECODE`` (then a checkout compiles every module of the
app again at each launch; ``--source`` measures that instead).

A Python event filter on the application notes the paints; it costs the child a few
microseconds per event until the figure is taken. Figures are medians over ``--runs`` launches,
reported against the budget (design.md §8) and as ratios to the bare Qt app; not enforced.

    python bench/bench_startup.py [--runs 3] [--orders 10000] [--skip-10k] [--source]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGETS = {"first paint": 0.6, "demo orders shown": 1.0, "10k orders shown": 1.5}
CHILD_TIMEOUT = 60.0
SIZE = (1440, 760)


def say(what: str, **extra: Any) -> None:
    """The child's report: one JSON line on stdout, with the monotonic time now."""
    print(json.dumps({"what": what, "t": time.monotonic(), **extra}), flush=True)


# -- the children ------------------------------------------------------------------------------
def child_bare() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication(sys.argv[:1])

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                say("first paint")
                QTimer.singleShot(0, app.quit)
                app.removeEventFilter(self)
            return False

    spy = FirstPaint()
    app.installEventFilter(spy)
    widget = QWidget()
    widget.resize(*SIZE)
    widget.show()
    return app.exec()


class _Watch:
    """An application event filter: the first paint of any window, and the first paint of the
    orders table's viewport for which ``shown(window)`` holds; then the window closes."""

    def __init__(self, shown: Any) -> None:
        from PySide6.QtCore import QEvent, QObject, QTimer
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(sys.argv[:1])
        paint = QEvent.Type.Paint
        state = {"first": False}

        class Filter(QObject):
            def eventFilter(self, watched: QObject, event: QEvent) -> bool:
                if event.type() != paint:
                    return False
                if not state["first"]:
                    state["first"] = True
                    say("first paint")
                    if shown is None:
                        QTimer.singleShot(0, lambda: watched.window().close())  # type: ignore[attr-defined]
                        app.removeEventFilter(self)
                    return False
                window = watched.window()  # type: ignore[attr-defined]
                view = getattr(window, "view", None)
                if view is not None and watched is view.viewport() and shown(window):
                    say("orders shown", rows=window.proxy.rowCount())
                    app.removeEventFilter(self)
                    QTimer.singleShot(0, window.close)
                return False

        self.filter = Filter()
        app.installEventFilter(self.filter)


def child_app(demo: bool) -> int:
    from blotter.app import Options, run

    if demo:  # not for the plain launch: the app itself loads the demo only with --demo
        from blotter.demo import DemoVenues

        demo_venues = {a.venue for a in DemoVenues().account_keys()}

    def demo_shown(window: Any) -> bool:
        store = window.engine.store
        return (
            {a.venue for a in store.accounts()} >= demo_venues
            and window.model.rowCount() == len(store) == window.proxy.rowCount()
        )

    watch = _Watch(demo_shown if demo else None)
    code = run(Options(demo=demo, size=SIZE))
    del watch
    return code


def child_orders(info: dict[str, Any], orders: int) -> int:
    """The window and one Bitfinex client, as ``app.run`` builds them, against the venue in
    ``info``; closes once a paint of the table shows all ``orders`` rows."""
    import qasync  # type: ignore[import-untyped]
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.order import AccountKey
    from blotter.core.store import OrderStore
    from blotter.engine import Engine
    from blotter.ui.main_window import MainWindow
    from blotter.ui.style import apply_style
    from blotter.venues.bitfinex.client import BitfinexClient

    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    apply_style(app)

    def all_shown(window: Any) -> bool:
        return window.proxy.rowCount() >= orders

    watch = _Watch(all_shown)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        tmp = tempfile.mkdtemp(prefix="blotter-bench-")
        store, notices, states = OrderStore(), NoticeBus(), StateBus()
        engine = Engine(store, notices, states)
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(engine, settings=settings)
        closed: asyncio.Future[None] = loop.create_future()
        window.closed.connect(lambda: closed.done() or closed.set_result(None))
        window.resize(*SIZE)
        window.show()
        creds = info["credentials"]
        engine.add_client(BitfinexClient(
            AccountKey("bitfinex", "bench"), rest_url=info["rest_url"], ws_url=info["ws_url"],
            api_key=creds["api_key"], api_secret=creds["api_secret"], store=store,
            notices=notices, states=states, nonce_dir=tmp,
        ))
        await asyncio.wait_for(closed, CHILD_TIMEOUT)
        await asyncio.wait_for(engine.stop(), 10)
        window.deleteLater()

    with loop:
        loop.run_until_complete(main())
    del watch
    return 0


# -- the parent --------------------------------------------------------------------------------
BYTECODE: dict[str, str] = {}  # the children's environment for compiled bytecode, once made


def compile_checkout() -> None:
    """Compile the checkout into a bytecode cache of the bench's own, which every launch uses."""
    cache = tempfile.mkdtemp(prefix="blotter-bench-pycache-")
    env = dict(os.environ, PYTHONPYCACHEPREFIX=cache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "blotter"),
                    str(ROOT / "bench")], env=env, check=True, capture_output=True)
    BYTECODE.update(PYTHONPYCACHEPREFIX=cache)


def launch(args: list[str], want: str) -> float:
    """Start ``python bench_startup.py --child ...`` in a fresh environment; seconds from just
    before the start to the child's ``want`` report."""
    home = tempfile.mkdtemp(prefix="blotter-bench-home-")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               BLOTTER_STATE_DIR=str(Path(home) / "state"), XDG_CONFIG_HOME=str(Path(home) / "cfg"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **BYTECODE)
    if BYTECODE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--child", *args], env=env,
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False)
    reports = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
            reports[report["what"]] = report
    if want not in reports:
        raise SystemExit(f"child {args} did not report {want!r} (exit {proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return float(reports[want]["t"]) - t0


async def start_venue(orders: int) -> Any:
    from bench_flood import VenueProcess  # type: ignore[import-not-found]

    venue = VenueProcess()
    await venue.start(orders)
    return venue


def measure(runs: int, orders: int, skip_10k: bool) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {
        "bare Qt app, first paint": [], "first paint": [], "demo orders shown": [],
    }
    for _ in range(runs):  # interleaved, so a busy moment of the machine touches all alike
        figures["bare Qt app, first paint"].append(launch(["bare"], "first paint"))
        figures["first paint"].append(launch(["app"], "first paint"))
        figures["demo orders shown"].append(launch(["demo"], "orders shown"))
    if not skip_10k:
        loop = asyncio.new_event_loop()
        venue = loop.run_until_complete(start_venue(orders))
        try:
            info = json.dumps(venue.info)
            key = f"{orders // 1000}k orders shown"
            figures[key] = [launch(["orders", info, str(orders)], "orders shown")
                            for _ in range(runs)]
        finally:
            loop.run_until_complete(venue.stop())
            loop.close()
    return figures


def report(figures: dict[str, list[float]]) -> None:
    base = statistics.median(figures["bare Qt app, first paint"])
    print(f"launch → … (median of {len(next(iter(figures.values())))} fresh processes; "
          f"ratio to the bare Qt app's first paint):")
    for name, values in figures.items():
        med = statistics.median(values)
        budget = BUDGETS.get(name)
        verdict = "" if budget is None else (
            f"  budget < {budget:.1f} s: {'met' if med < budget else 'MISSED'}")
        print(f"  {name:<26} {med:6.3f} s  (min {min(values):.3f}, max {max(values):.3f})"
              f"  {med / base:5.2f}x{verdict}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        kind = argv[1]
        if kind == "bare":
            return child_bare()
        if kind in ("app", "demo"):
            return child_app(kind == "demo")
        return child_orders(json.loads(argv[2]), int(argv[3]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--skip-10k", action="store_true", help="leave out the 10k-order launch")
    ap.add_argument("--source", action="store_true",
                    help="no bytecode cache of the bench's own: the environment decides")
    args = ap.parse_args(argv)
    if not args.source:
        compile_checkout()
    print("bytecode: " + ("compiled once, cached for every launch" if BYTECODE else
                          "as the environment has it (PYTHONDONTWRITEBYTECODE="
                          f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"))
    report(measure(args.runs, args.orders, args.skip_10k))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
