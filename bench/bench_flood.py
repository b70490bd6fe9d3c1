"""The orders table under a flood: 10k open orders, ~5k updates/s over loopback for 10 s.

The real window runs offscreen with a real BitfinexClient; the Bitfinex simulator runs in a child
process (as a venue would, on its own machine), holds 10,000 open orders, and once the window
shows them all it sends ``rate`` order events a second for ``seconds`` (mostly partial fills as
`ou`, some new orders `on` and closes `oc`, so the count stays near 10k). In the window's process:

* event-loop lag: a coroutine sleeps 5 ms in a loop and records how late it wakes (p50/p99/max),
  first for 3 s with the window idle (the same-run baseline), then during the flood;
* repaints of the table's viewport (Paint events), as Hz over the flood (budget: ≤ 30 Hz);
* the model's signals per second (modelReset must stay 0);
* what a late wake-up is made of: the time of each viewport paint (and of 20 forced paints of the
  idle table, a same-run measure of how fast this machine paints right now), of each store flush
  into the model, and of garbage collections;
* the final state: once the flood stopped and the stream went quiet, the model's rows (ids,
  remaining amounts, status texts) against the simulator's open orders, and the rows the table
  shows against those matching the filter (``--filter`` types one in first).

The exit status is 1 only for a wrong final state or a model reset; the timings are reported
against their budgets (met / MISSED), not enforced: this machine's speed varies.

    QT_QPA_PLATFORM=offscreen python bench/bench_flood.py [--rate 5000] [--seconds 10] [--filter btc]
        [--journal]   # with the journal written as the app writes it
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LAG_STEP = 0.005
IDLE_SECONDS = 3.0
BUDGET_LAG_P99 = 0.016  # one 60 Hz frame (design.md §8)
BUDGET_REPAINT_HZ = 30.0
BUDGET_PAINT_P99 = 0.008  # one viewport paint during the flood


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the venue's side (child process) ---------------------------------------------------------
async def serve(orders: int, stamp: bool = False) -> None:
    """Run the simulator; answer one JSON line per command read on stdin.

    ``flood <rate> <seconds>`` → {"flood": stats} when done; ``orders`` → {"orders": [[id,
    amount, status], …]}; ``quit`` (or end of stdin) stops. With ``stamp``, each cancel input
    (``oc``) the simulator decodes is also one line, {"input": <monotonic time of receipt>}
    (the cancel-latency bench clicks during the flood).
    """
    from blotter.sim.bitfinex import BitfinexSimulator

    sim = BitfinexSimulator(initial_orders=orders, seed=11)
    sim.rate_limit_connections = False
    await sim.start()
    if stamp:
        clock = time.perf_counter

        def stamp_input(data: Any) -> None:
            if data[1] == "oc":
                print(f'{{"input": {clock()!r}}}', flush=True)

        sim.input_listeners.append(stamp_input)
    print(json.dumps({"ws_url": sim.ws_url, "rest_url": sim.rest_url,
                      "credentials": sim.credentials}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = line.decode().split()
            if not command:
                continue
            if command[0] == "flood":
                stats = await sim.flood(float(command[1]), float(command[2]))
                print(json.dumps({"flood": stats}), flush=True)
            elif command[0] == "orders":
                rows = [[o[0], o[6], o[13]] for o in sim.open_orders()]
                print(json.dumps({"orders": rows}), flush=True)
            elif command[0] == "quit":
                break
    finally:
        await sim.stop()


class VenueProcess:
    """The flooding simulator in a child process (``serve``); ``ask`` sends it a command and
    returns its answer; with ``stamp``, ``arrived`` collects its receipt times of cancels."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.arrived: list[float] = []

    async def start(self, orders: int, stamp: bool = False) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(orders), *(["--stamp"] if stamp else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if not line:
            raise SystemExit("the simulator process did not start")
        self.info = json.loads(line)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while line := await self.proc.stdout.readline():
            reply = json.loads(line)
            if "input" in reply:
                self.arrived.append(reply["input"])
            else:
                self.replies.put_nowait(reply)

    async def ask(self, command: str, timeout: float) -> dict[str, Any]:
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
                await asyncio.wait_for(self.proc.wait(), 5)
            except (TimeoutError, OSError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()


# -- the window's side --------------------------------------------------------------------------
class LagMonitor:
    """Sleeps LAG_STEP in a loop; each wake-up's lateness is one sample."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.samples = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        clock, samples = time.perf_counter, self.samples
        while True:
            t0 = clock()
            await asyncio.sleep(LAG_STEP)
            samples.append(clock() - t0 - LAG_STEP)

    async def stop(self) -> list[float]:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        return self.samples


SIGNALS = ("rowsInserted", "rowsRemoved", "dataChanged", "layoutChanged", "modelReset")


class Counters:
    """The model's signals (counted in C++ by QSignalSpy: a Python slot per signal would add its
    own cost to the loop being measured) and the paints of the table's viewport."""

    def __init__(self, window: Any) -> None:
        from PySide6.QtCore import QEvent, QObject
        from PySide6.QtTest import QSignalSpy

        self.spies = {name: QSignalSpy(getattr(window.model, name)) for name in SIGNALS}
        self.spies["proxy modelReset"] = QSignalSpy(window.proxy.modelReset)
        self.paints = 0
        counters = self

        class PaintCounter(QObject):
            def eventFilter(self, watched: QObject, event: QEvent) -> bool:
                if event.type() == QEvent.Type.Paint:
                    counters.paints += 1
                return False

        self._filter = PaintCounter(window)
        window.view.viewport().installEventFilter(self._filter)

    def snapshot(self) -> dict[str, int]:
        counts = {name: spy.count() for name, spy in self.spies.items()}
        counts["paint"] = self.paints
        return counts


class Timings:
    """How long each viewport paint, each store flush into the model and each garbage
    collection takes: the pieces a late wake-up is made of. The view's and the model's methods
    are wrapped before the window is built (Qt binds them when the objects are made)."""

    def __init__(self) -> None:
        import gc

        from PySide6.QtCore import QEvent

        from blotter.ui.orders_model import OrdersModel
        from blotter.ui.orders_view import OrdersView

        self.paint: list[float] = []
        self.flush: list[float] = []
        self.gc: list[tuple[int, float]] = []
        clock = time.perf_counter
        paint_type = QEvent.Type.Paint
        view_event = OrdersView.viewportEvent
        model_flush = OrdersModel._flush

        def viewport_event(view: Any, event: Any) -> bool:
            if event.type() != paint_type:
                return view_event(view, event)
            t0 = clock()
            try:
                return view_event(view, event)
            finally:
                self.paint.append(clock() - t0)

        def flush(model: Any) -> None:
            t0 = clock()
            try:
                model_flush(model)
            finally:
                self.flush.append(clock() - t0)

        started = [0.0]

        def collected(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = clock()
            else:
                self.gc.append((info["generation"], clock() - started[0]))

        OrdersView.viewportEvent = viewport_event  # type: ignore[method-assign]
        OrdersModel._flush = flush  # type: ignore[method-assign]
        gc.callbacks.append(collected)

    def mark(self) -> tuple[int, int, int]:
        return len(self.paint), len(self.flush), len(self.gc)


def to_decimal(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def compare(model_orders: list[Any], venue_rows: list[list[Any]]) -> tuple[int, list[str]]:
    """Mismatches between the table and the venue: missing, extra, amount or status differs."""
    venue = {str(oid): (abs(to_decimal(amount)), status) for oid, amount, status in venue_rows}
    shown = {o.order_id: (o.remaining, o.status_text) for o in model_orders}
    problems = []
    for oid in venue.keys() - shown.keys():
        problems.append(f"missing in the table: {oid} {venue[oid]}")
    for oid in shown.keys() - venue.keys():
        problems.append(f"in the table but closed on the venue: {oid} {shown[oid]}")
    for oid in venue.keys() & shown.keys():
        if venue[oid][0] != shown[oid][0] or venue[oid][1] != shown[oid][1]:
            problems.append(f"differs: {oid} venue {venue[oid]} table {shown[oid]}")
    if len(model_orders) != len(shown):
        problems.append(f"the table holds {len(model_orders) - len(shown)} duplicate rows")
    return len(problems), problems


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


async def main(orders: int, rate: float, seconds: float, filter_text: str,
               journal_on: bool = False) -> int:
    from PySide6.QtCore import QSettings

    from blotter.collector import freeze_after_big_lists
    from blotter.core.notices import NoticeBus, StateBus, VenueState
    from blotter.core.order import AccountKey
    from blotter.core.store import OrderStore
    from blotter.engine import Engine
    from blotter.ui.formatting import filter_text as row_filter_text
    from blotter.ui.main_window import MainWindow
    from blotter.ui.orders_model import ORDER_ROLE
    from blotter.venues.bitfinex.client import BitfinexClient

    timings = Timings()
    venue = VenueProcess()
    await venue.start(orders)
    window = None
    engine = None
    try:
        tmp = tempfile.mkdtemp(prefix="blotter-bench-")
        store, notices, states = OrderStore(), NoticeBus(), StateBus()
        engine = Engine(store, notices, states)
        freeze_after_big_lists(store)  # as the app does (blotter/collector.py)
        if journal_on:  # as the app does: everything the engine sees goes to the journal
            from blotter.journal import Journal, attach

            journal = Journal(Path(tmp) / "journal")
            attach(journal, engine)
        creds = venue.info["credentials"]
        account = AccountKey("bitfinex", "bench")
        client = BitfinexClient(account, rest_url=venue.info["rest_url"],
                                ws_url=venue.info["ws_url"], api_key=creds["api_key"],
                                api_secret=creds["api_secret"], store=store, notices=notices,
                                states=states, nonce_dir=tmp)
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(engine, settings=settings)
        window.resize(1440, 760)  # the default size, where the paint budget is set
        window.show()
        t0 = time.perf_counter()
        engine.add_client(client)

        def live() -> bool:
            state = states.current.get(account)
            return state is not None and state.state is VenueState.LIVE

        await until(lambda: live() and window.proxy.rowCount() >= orders, 60,
                    f"the client to be live with {orders} rows")
        print(f"live with {window.proxy.rowCount()} rows in {time.perf_counter() - t0:.2f} s")
        if filter_text:
            window.filter_edit.setText(filter_text)
            print(f"filter {filter_text!r}: {window.proxy.rowCount()} rows shown")
        await asyncio.sleep(0.5)  # let the first paints and the title refresh pass

        monitor = LagMonitor()
        counters = Counters(window)

        # the cost of one paint of this table, idle (forced, synchronous repaints)
        viewport = window.view.viewport()
        for _ in range(20):
            viewport.repaint()
        idle_paint = list(timings.paint[-20:])

        # baseline: the same window, idle
        before = counters.snapshot()
        monitor.start()
        await asyncio.sleep(IDLE_SECONDS)
        idle = list(await monitor.stop())
        idle_paints = counters.snapshot()["paint"] - before["paint"]

        # the flood
        before = counters.snapshot()
        marks = timings.mark()
        flushes0, rx0 = window.model.flushes, client._rx
        monitor.start()
        f0 = time.perf_counter()
        reply = await venue.ask(f"flood {rate} {seconds}", seconds + 30)
        flood_wall = time.perf_counter() - f0
        flood = list(await monitor.stop())
        during = {k: v - before[k] for k, v in counters.snapshot().items()}
        paints = timings.paint[marks[0]:timings.mark()[0]]
        flush_times = timings.flush[marks[1]:timings.mark()[1]]
        collections = timings.gc[marks[2]:timings.mark()[2]]
        flushes = window.model.flushes - flushes0
        received_in_flood = client._rx - rx0
        stats = reply["flood"]

        # wait until quiet: no frame and no flush for 0.5 s
        q0 = time.perf_counter()
        last = (client._rx, window.model.flushes)
        quiet_since = time.perf_counter()
        while time.perf_counter() - quiet_since < 0.5:
            await asyncio.sleep(0.05)
            now = (client._rx, window.model.flushes)
            if now != last:
                last, quiet_since = now, time.perf_counter()
            if time.perf_counter() - q0 > 20:
                break
        drain = quiet_since - q0
        received = client._rx - rx0

        venue_rows = (await venue.ask("orders", 30))["orders"]
        model_orders = window.model.orders()
        mismatches, problems = compare(model_orders, venue_rows)
        # the table shows exactly the model's orders that match the filter
        words = filter_text.lower().split()
        expected = {o.order_id for o in model_orders
                    if all(w in row_filter_text(o) for w in words)}
        proxy = window.proxy
        shown = [proxy.index(r, 0).data(ORDER_ROLE).order_id for r in range(proxy.rowCount())]
        if len(shown) != len(expected) or set(shown) != expected:
            problems.append(f"the table shows {len(shown)} rows, {len(expected)} match the "
                            f"filter; {len(set(shown) ^ expected)} differ")
            mismatches += 1
        rows_shown = len(shown)
    finally:
        if engine is not None:
            await engine.stop()
        await venue.stop()
        if window is not None:
            window.close()

    ms = 1e3

    def lag_line(name: str, values: list[float]) -> str:
        return (f"{name:<20} n {len(values):5d}   p50 {pct(values, 50) * ms:7.2f} ms   "
                f"p99 {pct(values, 99) * ms:7.2f} ms   max {max(values) * ms:7.2f} ms   "
                f"mean {statistics.fmean(values) * ms:6.2f} ms")

    def ratio(p: float) -> str:
        base = pct(idle, p)
        return f"{pct(flood, p) / base:.1f}x" if base > 0 else "n/a"

    secs = flood_wall
    print(f"open orders: {orders} at the start, {len(venue_rows)} on the venue at the end, "
          f"{len(model_orders)} in the model, {rows_shown} rows shown")
    print(f"flood: {stats['events']} events in {stats['seconds']:.2f} s sent = "
          f"{stats['events'] / stats['seconds']:.0f}/s (asked {rate:g}/s; "
          f"ou {stats['ou']}, on {stats['on']}, oc {stats['oc']}); the client received "
          f"{received_in_flood} frames during it ({received_in_flood / secs:.0f}/s), "
          f"{received} in all, quiet {drain * ms:.0f} ms after the last was sent")
    print(f"event-loop lag (sleep {LAG_STEP * ms:g} ms, lateness of each wake-up):")
    print(lag_line(f"idle {IDLE_SECONDS:g} s", idle))
    print(lag_line(f"flood {secs:.1f} s", flood))
    print(f"ratio flood/idle: p50 {ratio(50)}, p99 {ratio(99)}; "
          f"p99 budget {BUDGET_LAG_P99 * ms:g} ms: "
          f"{'met' if pct(flood, 99) < BUDGET_LAG_P99 else 'MISSED'}")
    paint_hz = during["paint"] / secs
    print(f"viewport repaints: {paint_hz:.1f} Hz during the flood ({during['paint']} in {secs:.1f} s;"
          f" idle {idle_paints / IDLE_SECONDS:.1f} Hz); budget ≤ {BUDGET_REPAINT_HZ:g} Hz: "
          f"{'met' if paint_hz <= BUDGET_REPAINT_HZ else 'MISSED'}")
    print(f"store flushes: {flushes / secs:.1f} Hz")

    def ms_line(values: list[float]) -> str:
        if not values:
            return "none"
        return (f"p50 {pct(values, 50) * ms:.1f} ms, p99 {pct(values, 99) * ms:.1f} ms, "
                f"max {max(values) * ms:.1f} ms")

    print(f"one viewport paint: idle (forced) {ms_line(idle_paint)}; "
          f"during the flood {ms_line(paints)}; p99 budget {BUDGET_PAINT_P99 * ms:g} ms: "
          f"{'met' if paints and pct(paints, 99) <= BUDGET_PAINT_P99 else 'MISSED'}")
    print(f"one flush into the model during the flood: {ms_line(flush_times)}")
    full = [d for g, d in collections if g == 2]
    print(f"garbage collections during the flood: {len(collections)}, of which {len(full)} full"
          + (f" (longest {max(full) * ms:.0f} ms)" if full else ""))
    print("model signals/s: " + ", ".join(
        f"{name} {during[name] / secs:.1f}" for name in (*SIGNALS, "proxy modelReset")))
    exact = mismatches == 0
    print(f"final state exact: {'yes' if exact else 'no'} ({mismatches} mismatches)")
    for line in problems[:10]:
        print("  " + line)
    resets = during["modelReset"] + during["proxy modelReset"]
    return 0 if exact and resets == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--filter", default="", help="type this in the filter box first")
    parser.add_argument("--journal", action="store_true",
                        help="write the journal as the app does (compare a run without)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stamp", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.stamp))
        raise SystemExit(0)

    import qasync
    from PySide6.QtWidgets import QApplication

    from blotter.ui.style import apply_style

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    apply_style(app)  # as the app does: the style sheet is part of what a repaint costs
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        code = loop.run_until_complete(
            asyncio.wait_for(main(args.orders, args.rate, args.seconds, args.filter,
                                  args.journal), 150))
    raise SystemExit(code)
