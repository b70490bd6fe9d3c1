"""Click → cancel request on the wire, against the loopback Bitfinex simulator.

A row's Cancel button is clicked through Qt (offscreen) in the real window; the time runs until
the simulator's websocket handler has the decoded ``oc`` input. The simulator runs in a second
process, as a venue would on its own machine, and stamps each input with the system's monotonic
clock (the same clock in both processes), so its receipt time waits neither for the window's loop
nor for this process's GIL. The baseline, in the same process, is a bare websocket client on the
window's loop sending the same input to the same simulator: the ratio says what the window, the
engine and the client add on top of the socket itself.

The second section does the same during ``bench_flood``'s load: its simulator process (imported
from bench_flood, with the cancels it receives stamped) holds 10,000 open orders and sends ~5k
order events a second while the window, showing all of them, is clicked. Three kinds of sample
take turns, so the flood weighs on each alike: the bare socket's send; a click sent to the
widget at once (as the quiet section clicks); and a click queued to the window as the window
system delivers one, which waits for whatever the loop is doing first (a paint, a flush of the
store into the table). Before the flood the same three are taken on the quiet 10k table.

    QT_QPA_PLATFORM=offscreen python bench/bench_cancel_latency.py [--clicks 300]
        [--flood-orders 10000] [--rate 5000] [--seconds 10] [--skip-flood]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_flood: the flood's venue


PAUSE = float(os.environ.get("PAUSE", "0.01"))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class BareSocket:
    """An authenticated raw websocket on the window's loop (notices only: no order traffic)
    that sends ``oc`` inputs for unknown ids: the socket's own cost, nothing of the app's."""

    def __init__(self, info: dict) -> None:
        self.info = info
        self.sent = 0

    async def __aenter__(self) -> Self:
        from websockets.asyncio.client import connect

        creds = self.info["credentials"]
        self._connect = connect(self.info["ws_url"])
        self.ws = ws = await self._connect.__aenter__()
        await ws.recv()  # info
        nonce = int(time.time() * 1_000_000) + 10_000_000
        payload = f"AUTH{nonce}"
        sig = hmac.new(creds["api_secret"].encode(), payload.encode(), hashlib.sha384).hexdigest()
        await ws.send(json.dumps({"event": "auth", "apiKey": creds["api_key"], "authSig": sig,
                                  "authPayload": payload, "authNonce": nonce,
                                  "filter": ["notify"]}))
        while True:
            msg = json.loads(await ws.recv())
            if isinstance(msg, dict) and msg.get("event") == "auth":
                return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connect.__aexit__(None, None, None)

    async def send(self) -> float:
        """Send one input; the time just before the send."""
        self.sent += 1
        frame = json.dumps([0, "oc", None, {"id": self.sent}])  # unknown ids: nothing changes
        t0 = time.perf_counter()
        await self.ws.send(frame)
        return t0


async def wait_arrival(arrived: list[float], t0: float, timeout: float = 2.0) -> float | None:
    """Seconds from ``t0`` to the venue's receipt of the input, or None after ``timeout``."""
    deadline = t0 + timeout
    while not arrived and time.perf_counter() < deadline:
        await asyncio.sleep(0)
    return arrived[0] - t0 if arrived else None


async def baseline(sim, samples: int) -> list[float]:
    """Bare socket: send an oc input on an authenticated raw websocket, time to the handler."""
    arrived = sim.arrived
    times = []
    async with BareSocket(sim.info) as bare:
        for _ in range(samples):
            arrived.clear()
            t0 = await bare.send()
            times.append(await wait_arrival(arrived, t0, 10.0))
            await asyncio.sleep(0.002)
    return times


def open_row(window) -> tuple[int, object]:
    """The first row that is still open and not already being cancelled (the view catches up
    with the store at up to 30 Hz, so the top row may be one that just left), and its Cancel
    button's middle in the viewport."""
    from blotter.ui.orders_model import Column

    view, proxy, model, store = window.view, window.proxy, window.model, window.engine.store
    row = next(r for r in range(proxy.rowCount())
               if (key := model.order_at(proxy.mapToSource(proxy.index(r, 0)).row()).key)
               in store and not model.is_pending(key))
    index = proxy.index(row, Column.CANCEL)
    view.scrollTo(index)
    return row, view.cancel_button_rect(index).center()


def click_now(window, pos) -> float:
    """A click sent to the viewport at once (handled before this returns); the time before."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    t0 = time.perf_counter()
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    return t0


def click_queued(window, pos) -> float:
    """A press and a release posted to the viewport's event queue, as the window system's
    events arrive: handled when the loop gets to them. The time before posting."""
    from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    viewport = window.view.viewport()
    local, screen = QPointF(pos), QPointF(viewport.mapToGlobal(pos))
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    t0 = time.perf_counter()
    for kind, buttons in ((QEvent.Type.MouseButtonPress, left),
                          (QEvent.Type.MouseButtonRelease, none)):
        QCoreApplication.postEvent(viewport, QMouseEvent(
            kind, local, screen, left, buttons, Qt.KeyboardModifier.NoModifier))
    return t0


async def clicks(window, sim, samples: int) -> list[float]:
    arrived = sim.arrived
    times = []
    for _ in range(samples):
        row, pos = open_row(window)
        arrived.clear()
        t0 = click_now(window, pos)
        took = await wait_arrival(arrived, t0)
        if took is None:
            raise SystemExit(f"click on row {row} at {pos} sent nothing")
        times.append(took)
        await asyncio.sleep(PAUSE)  # let the ack and oc come back, as between a trader's clicks
    return times


KINDS = ("bare websocket send", "click -> wire", "queued click -> wire")


async def mixed(window, venue, bare: BareSocket, samples: dict[str, list[float]],
                missed: dict[str, int], until) -> None:
    """The three kinds of sample in turn until ``until()``: bare send, click, queued click."""
    arrived = venue.arrived
    while not until():
        for kind in KINDS:
            arrived.clear()
            if kind == KINDS[0]:
                t0 = await bare.send()
            else:
                _, pos = open_row(window)
                t0 = (click_now if kind == KINDS[1] else click_queued)(window, pos)
            took = await wait_arrival(arrived, t0)
            if took is None:  # the row under the pointer closed or changed meanwhile
                missed[kind] += 1
            else:
                samples[kind].append(took)
            await asyncio.sleep(PAUSE)


async def flood_section(args) -> tuple[dict[str, list[float]], dict[str, list[float]],
                                       dict[str, int], dict]:
    """Quiet 10k table, then the flood: the three kinds of sample each, taking turns."""
    from bench_flood import VenueProcess

    venue = VenueProcess()
    await venue.start(args.flood_orders, stamp=True)
    window = engine = None
    try:
        window, engine = await open_window(venue.info, args.flood_orders)
        await asyncio.sleep(0.5)  # the first paints pass
        quiet: dict[str, list[float]] = {k: [] for k in KINDS}
        flood: dict[str, list[float]] = {k: [] for k in KINDS}
        missed = dict.fromkeys(KINDS, 0)
        async with BareSocket(venue.info) as bare:
            await mixed(window, venue, bare, quiet, dict(missed),
                        lambda: len(quiet[KINDS[2]]) >= args.clicks // 3)
            reply = asyncio.ensure_future(
                venue.ask(f"flood {args.rate} {args.seconds}", args.seconds + 30))
            await asyncio.sleep(0.5)  # the flood is under way
            await mixed(window, venue, bare, flood, missed, reply.done)
            stats = (await reply)["flood"]
    finally:
        if engine is not None:
            await engine.stop()
        await venue.stop()
        if window is not None:
            window.close()
    return quiet, flood, missed, stats


async def open_window(info: dict, rows: int):
    """The real window and a BitfinexClient on the venue at ``info``, once ``rows`` are shown."""
    from PySide6.QtCore import QSettings

    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.order import AccountKey
    from blotter.core.store import OrderStore
    from blotter.engine import Engine
    from blotter.ui.main_window import MainWindow
    from blotter.venues.bitfinex.client import BitfinexClient

    tmp = tempfile.mkdtemp(prefix="blotter-bench-")
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    engine = Engine(store, notices, states)
    creds = info["credentials"]
    client = BitfinexClient(AccountKey("bitfinex", "bench"), rest_url=info["rest_url"],
                            ws_url=info["ws_url"], api_key=creds["api_key"],
                            api_secret=creds["api_secret"], store=store, notices=notices,
                            states=states, nonce_dir=tmp)
    settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings=settings)
    window.resize(1400, 800)
    window.show()
    engine.add_client(client)
    deadline = time.monotonic() + 60
    while window.proxy.rowCount() < rows:
        if time.monotonic() > deadline:
            raise SystemExit(f"the window did not show {rows} rows within 60 s")
        await asyncio.sleep(0.01)
    return window, engine


class VenueProcess:
    """The simulator in a child process; ``arrived`` collects its receipt stamps of inputs."""

    def __init__(self) -> None:
        self.arrived: list[float] = []
        self.info: dict = {}

    async def start(self, orders: int) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(orders), stdout=asyncio.subprocess.PIPE)
        self.info = json.loads(await self.proc.stdout.readline())
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while line := await self.proc.stdout.readline():
            self.arrived.append(float(line))

    async def stop(self) -> None:
        self.proc.terminate()
        await self.proc.wait()
        self._reader.cancel()


async def serve(orders: int) -> None:
    """Child side: run the simulator, print its URLs, then one monotonic stamp per input."""
    from blotter.sim.bitfinex import BitfinexSimulator

    sim = BitfinexSimulator(initial_orders=orders, seed=5)
    sim.rate_limit_connections = False
    await sim.start()
    sim.input_listeners.append(lambda data: print(time.perf_counter(), flush=True))
    print(json.dumps({"ws_url": sim.ws_url, "rest_url": sim.rest_url,
                      "credentials": sim.credentials}), flush=True)
    await asyncio.Event().wait()


def line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<22} no samples"
    return (f"{name:<22} p50 {pct(values, 50) * 1e3:7.3f} ms   p99 {pct(values, 99) * 1e3:7.3f} ms"
            f"   mean {statistics.fmean(values) * 1e3:7.3f} ms   n {len(values)}")


def ratios(click: list[float], base: list[float]) -> str:
    if not click or not base:
        return "n/a"
    return (f"p50 {pct(click, 50) / pct(base, 50):.2f}x, "
            f"p99 {pct(click, 99) / pct(base, 99):.2f}x")


async def main(args) -> None:
    samples = args.clicks
    sim = VenueProcess()
    await sim.start(samples + 50)
    try:
        window, engine = await open_window(sim.info, samples)
        base = await baseline(sim, samples)
        click = await clicks(window, sim, samples)
        await engine.stop()
        window.close()
    finally:
        await sim.stop()

    print(f"quiet table ({samples + 50} orders), samples: {samples}")
    print(line("bare websocket send", base))
    print(line("click -> wire", click))
    print(f"ratio click/bare: {ratios(click, base)}")
    if args.skip_flood:
        return

    quiet, flood, missed, stats = await flood_section(args)
    print(f"\n{args.flood_orders} open orders; flood: {stats['events']} events in "
          f"{stats['seconds']:.2f} s = {stats['events'] / stats['seconds']:.0f}/s sent "
          f"(asked {args.rate:g}/s); the three kinds of sample take turns")
    for title, figures in ((f"quiet table ({args.flood_orders} orders)", quiet),
                           ("during the flood", flood)):
        print(f"{title}:")
        for kind in KINDS:
            print("  " + line(kind, figures[kind]))
        base = figures[KINDS[0]]
        print(f"  ratio click/bare: {ratios(figures[KINDS[1]], base)}; "
              f"queued click/bare: {ratios(figures[KINDS[2]], base)}")
    print("clicks that sent nothing during the flood (the row closed or moved under the "
          f"pointer): {missed[KINDS[1]]} sent, {missed[KINDS[2]]} queued")
    worst = max(pct(flood[k], 99) for k in KINDS[1:] if flood[k]) if flood[KINDS[2]] else None
    if worst is not None:
        print(f"click -> wire during the flood, p99 of the slower kind {worst * 1e3:.2f} ms; "
              f"budget < 10 ms: {'met' if worst < 0.010 else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--flood-orders", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--skip-flood", action="store_true", help="the quiet table only")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve))
        raise SystemExit(0)

    import qasync
    from PySide6.QtWidgets import QApplication

    from blotter.ui.style import apply_style

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    apply_style(app)  # as the app does
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(main(args))
