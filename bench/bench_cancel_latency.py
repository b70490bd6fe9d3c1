"""Click → cancel request on the wire, against the loopback Bitfinex simulator.

A row's Cancel button is clicked through Qt (offscreen) in the real window; the time runs until
the simulator's websocket handler has the decoded ``oc`` input. The simulator runs in a second
process, as a venue would on its own machine, and stamps each input with the system's monotonic
clock (the same clock in both processes), so its receipt time waits neither for the window's loop
nor for this process's GIL. The baseline, in the same process, is a bare websocket client on the
window's loop sending the same input to the same simulator: the ratio says what the window, the
engine and the client add on top of the socket itself.

    QT_QPA_PLATFORM=offscreen python bench/bench_cancel_latency.py [--clicks 300]
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


PAUSE = float(os.environ.get("PAUSE", "0.01"))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def baseline(sim, samples: int) -> list[float]:
    """Bare socket: send an oc input on an authenticated raw websocket, time to the handler."""
    from websockets.asyncio.client import connect

    arrived = sim.arrived
    creds = sim.info["credentials"]
    async with connect(sim.info["ws_url"]) as ws:
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
                break
        times = []
        for i in range(samples):
            arrived.clear()
            frame = json.dumps([0, "oc", None, {"id": 1 + i}])  # unknown ids: nothing changes
            t0 = time.perf_counter()
            await ws.send(frame)
            while not arrived:
                await asyncio.sleep(0)
            times.append(arrived[0] - t0)
            await asyncio.sleep(0.002)
    return times


async def clicks(window, sim, samples: int) -> list[float]:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from blotter.ui.orders_model import Column

    arrived = sim.arrived
    view, proxy = window.view, window.proxy
    times = []
    for _ in range(samples):
        # the first row that is still open and not already being cancelled (the view catches up
        # with the store at up to 30 Hz, so the top row may be one that just left)
        model, store = window.model, window.engine.store
        row = next(r for r in range(proxy.rowCount())
                   if (key := model.order_at(proxy.mapToSource(proxy.index(r, 0)).row()).key)
                   in store and not model.is_pending(key))
        index = proxy.index(row, Column.CANCEL)
        view.scrollTo(index)
        rect = view.cancel_button_rect(index)
        arrived.clear()
        t0 = time.perf_counter()
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        deadline = t0 + 2.0
        while not arrived and time.perf_counter() < deadline:
            await asyncio.sleep(0)
        if not arrived:
            order = model.order_at(proxy.mapToSource(index).row())
            raise SystemExit(f"click on row {row} ({order}) sent nothing; "
                             f"pending={model.is_pending(order.key)} rect={rect}")
        times.append(arrived[0] - t0)
        await asyncio.sleep(PAUSE)  # let the ack and oc come back, as between a trader's clicks
    return times


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


async def main(samples: int) -> None:
    from PySide6.QtCore import QSettings

    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.order import AccountKey
    from blotter.core.store import OrderStore
    from blotter.engine import Engine
    from blotter.ui.main_window import MainWindow
    from blotter.venues.bitfinex.client import BitfinexClient

    sim = VenueProcess()
    await sim.start(samples + 50)
    tmp = tempfile.mkdtemp(prefix="blotter-bench-")
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    engine = Engine(store, notices, states)
    creds = sim.info["credentials"]
    client = BitfinexClient(AccountKey("bitfinex", "bench"), rest_url=sim.info["rest_url"],
                            ws_url=sim.info["ws_url"], api_key=creds["api_key"],
                            api_secret=creds["api_secret"], store=store, notices=notices,
                            states=states, nonce_dir=tmp)
    settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings=settings)
    window.resize(1400, 800)
    window.show()
    engine.add_client(client)
    while window.proxy.rowCount() < samples:
        await asyncio.sleep(0.01)

    base = await baseline(sim, samples)
    click = await clicks(window, sim, samples)
    await engine.stop()
    await sim.stop()
    window.close()

    def line(name: str, values: list[float]) -> str:
        return (f"{name:<22} p50 {pct(values, 50) * 1e3:7.3f} ms   p99 {pct(values, 99) * 1e3:7.3f} ms"
                f"   mean {statistics.fmean(values) * 1e3:7.3f} ms")

    print(f"samples: {samples}")
    print(line("bare websocket send", base))
    print(line("click -> wire", click))
    print(f"ratio click/bare: p50 {pct(click, 50) / pct(base, 50):.2f}x, "
          f"p99 {pct(click, 99) / pct(base, 99):.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve))
        raise SystemExit(0)

    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(main(args.clicks))
