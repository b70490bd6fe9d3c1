"""Resident memory with 10k and 100k open orders, through the real parse path.

Each size runs in a fresh process (so nothing of another run stays resident), offscreen, and
reads its resident set (``VmRSS``, Linux) at three points:

* **imports** (the same-run baseline): the interpreter, PySide6 with a ``QApplication``, the
  window's and the Bitfinex client's modules imported, nothing built;
* **orders in the store**: ``n`` Bitfinex ``on`` frames (realistic 32-field orders, each a
  distinct order) fed as bytes to ``BitfinexClient.handle_frame``, as the socket loop does, and
  flushed; the frames themselves are made one at a time and dropped;
* **orders shown**: the main window built over that store, shown at 1440×760, until the table
  holds all ``n`` rows and has painted them.

The budget (design.md §8) is the last figure: < 120 MB with 10k, < 200 MB with 100k. Reported,
with the ratio to the imports baseline and the bytes each order adds, never enforced.

    python bench/bench_memory.py [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGETS_MB = {10_000: 120.0, 100_000: 200.0}
SYMBOLS = [("tBTCUSD", 97_000.0), ("tETHUSD", 3_400.0), ("tSOLUSD", 180.0), ("tXRPUSD", 2.1),
           ("tDOGE:UST", 0.32), ("tLTCUSD", 95.0), ("tADAUSD", 0.9)]
TYPES = ["EXCHANGE LIMIT", "LIMIT", "EXCHANGE STOP", "EXCHANGE LIMIT"]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS in /proc/self/status (this bench reads Linux's figures)")


def new_order_frame(rng: random.Random, i: int) -> bytes:
    """One ``on`` frame of a distinct order, with the numbers a venue prints."""
    symbol, mid = rng.choice(SYMBOLS)
    amount = round(rng.uniform(0.001, 5.0), 8) * (-1 if rng.random() < 0.5 else 1)
    price = float(f"{mid * rng.uniform(0.9, 1.1):.5g}")
    created = 1_731_900_000_000 + i * 37
    arr = [
        190_000_000_000 + i * 7, rng.choice([None, None, rng.randint(1, 50)]),
        rng.randint(1, 2**40), symbol, created, created, amount, amount, rng.choice(TYPES),
        None, None, None, rng.choice([0, 0, 0, 4096, 64]), "ACTIVE", None, None, price, 0, 0,
        0, None, None, None, 0, 0, None, None, None, "API>BFX", None, None, None,
    ]
    return json.dumps([0, "on", arr], separators=(",", ":")).encode()


def child(n: int) -> int:
    """Measure one size; print the figures as one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
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
    apply_style(app)
    gc.collect()
    figures = {"imports": rss_mb()}

    tmp = tempfile.mkdtemp(prefix="blotter-bench-")
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    client = BitfinexClient(
        AccountKey("bitfinex", "bench"), rest_url="http://127.0.0.1:9",
        ws_url="ws://127.0.0.1:9/ws/2", api_key="bench-key", api_secret="bench-secret",
        store=store, notices=notices, states=states, nonce_dir=tmp,
    )
    rng = random.Random(7)
    handle = client.handle_frame
    for i in range(n):
        handle(new_order_frame(rng, i))
    store.flush()
    assert len(store) == n, (len(store), n)
    gc.collect()
    figures["orders in the store"] = rss_mb()

    engine = Engine(store, notices, states)
    settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, settings=settings)
    window.resize(1440, 760)
    window.show()
    deadline = time.monotonic() + 120
    while window.proxy.rowCount() < n:
        app.processEvents()
        if time.monotonic() > deadline:
            raise SystemExit(f"the table shows {window.proxy.rowCount()} of {n} rows")
    window.view.viewport().repaint()
    app.processEvents()
    gc.collect()
    figures["orders shown"] = rss_mb()
    print(json.dumps(figures), flush=True)
    return 0


def measure(n: int) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, __file__, "--child", str(n)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"the {n:,}-order run failed (exit {proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(lines[-1])
    return figures


def report(n: int, figures: dict[str, float]) -> None:
    base = figures["imports"]
    print(f"{n:,} open orders (resident MB; ratio to the imports baseline):")
    for name, mb in figures.items():
        print(f"  {name:<20} {mb:7.1f} MB  {mb / base:5.2f}x")
    per_order = (figures["orders in the store"] - base) * 1024 * 1024 / n
    window = figures["orders shown"] - figures["orders in the store"]
    print(f"  the store: {per_order:,.0f} bytes per order; the window over it: {window:+.1f} MB")
    budget = BUDGETS_MB.get(n)
    if budget is not None:
        shown = figures["orders shown"]
        print(f"  budget < {budget:.0f} MB: {'met' if shown < budget else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(int(argv[1]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000",
                    help="comma-separated numbers of open orders, one fresh process each")
    args = ap.parse_args(argv)
    for n in (int(s) for s in args.sizes.split(",")):
        report(n, measure(n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
