"""CPU use of an idle window: 10k orders from a quiet venue, beside an empty window.

The real window runs offscreen in this process; the Bitfinex simulator runs in a child process
(``bench_flood``'s venue: it holds the orders and sends nothing unless asked, but answers the
client's keep-alive pings). First the same-run baseline: the window with no account, idle for
``--seconds``. Then a Bitfinex client connects, the table fills with all ``--orders`` rows, two
seconds pass for the first paints to settle, and the window idles for ``--seconds`` again. The
figure is this process's CPU time (user + system, ``time.process_time``) over the idle
stretch, as a share of one core; the venue's process is not counted (a venue is elsewhere).

The budget (design.md §8): < 1% of one core with 10k orders. Reported, never enforced.

    QT_QPA_PLATFORM=offscreen python bench/bench_idle.py [--orders 10000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_flood import VenueProcess, until  # type: ignore[import-not-found]

BUDGET_SHARE = 0.01
SETTLE = 2.0


async def idle_share(seconds: float) -> float:
    """This process's CPU time over ``seconds`` of doing nothing, per wall second."""
    wall0, cpu0 = time.monotonic(), time.process_time()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


async def main(orders: int, seconds: float) -> int:
    from PySide6.QtCore import QSettings

    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.order import AccountKey
    from blotter.core.store import OrderStore
    from blotter.engine import Engine
    from blotter.ui.main_window import MainWindow
    from blotter.venues.bitfinex.client import BitfinexClient

    venue = VenueProcess()
    await venue.start(orders)
    engine = None
    try:
        tmp = tempfile.mkdtemp(prefix="blotter-bench-")
        store, notices, states = OrderStore(), NoticeBus(), StateBus()
        engine = Engine(store, notices, states)
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(engine, settings=settings)
        window.resize(1440, 760)
        window.show()
        await asyncio.sleep(SETTLE)
        empty = await idle_share(seconds)

        creds = venue.info["credentials"]
        engine.add_client(BitfinexClient(
            AccountKey("bitfinex", "bench"), rest_url=venue.info["rest_url"],
            ws_url=venue.info["ws_url"], api_key=creds["api_key"],
            api_secret=creds["api_secret"], store=store, notices=notices, states=states,
            nonce_dir=tmp,
        ))
        await until(lambda: window.proxy.rowCount() >= orders, 60, f"{orders} rows shown")
        await asyncio.sleep(SETTLE)
        full = await idle_share(seconds)
    finally:
        if engine is not None:
            await asyncio.wait_for(engine.stop(), 10)
        await venue.stop()

    print(f"idle window, CPU over {seconds:g} s (share of one core):")
    print(f"  empty window (baseline)   {empty * 100:7.3f}%")
    ratio = f"{full / empty:.2f}x" if empty > 0 else "n/a (the baseline used no CPU)"
    print(f"  {orders:,} orders, quiet venue {full * 100:7.3f}%  {ratio}")
    verdict = "met" if full < BUDGET_SHARE else "MISSED"
    print(f"  budget < {BUDGET_SHARE * 100:.0f}% of one core: {verdict}")
    return 0


def run(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args(argv)

    import qasync  # type: ignore[import-untyped]
    from PySide6.QtWidgets import QApplication

    from blotter.ui.style import apply_style

    app = QApplication(sys.argv[:1])
    apply_style(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return int(loop.run_until_complete(main(args.orders, args.seconds)))


if __name__ == "__main__":
    raise SystemExit(run())
