"""Parse benchmark: venue frames → parsed orders, against bare json.loads on the same frames.

Bitfinex: ``ou`` frames → parsed events → ``OrderStore`` (``parse_bitfinex.py``). B2TRADER:
``OpenOrders`` StreamItem frames (each one the complete open set of a trading account) →
``StreamParser`` (the SignalR ``Decoder``, then the account's ``OpenOrdersParser``) → a
``Snapshot`` of the list in ``OrderStore`` (``parse_b2trader.py``). Bybit: private-stream
``order`` pushes (1–3 full order states each) → ``BybitClient.handle_frame`` → ``OrderStore``
(``parse_bybit.py``).

The budget (design.md §8): our frame → event → store path runs at least at the rate of stdlib
``json.loads`` on the same frames. Reported as ratios (ours / json.loads), never as a timed test.

    python bench/bench_parse.py [--venue all|bitfinex|b2trader|bybit] [--frames 50000]
        [--orders 2000] [--b2-frames 300] [--b2-orders 500] [--bybit-frames 20000]
        [--bybit-orders 500] [--repeats 7]
"""


import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parse_b2trader import bench_b2trader
from parse_bitfinex import bench_bitfinex
from parse_bybit import bench_bybit


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venue", choices=["all", "bitfinex", "b2trader", "bybit"], default="all")
    ap.add_argument("--frames", type=int, default=50_000, help="Bitfinex ou frames")
    ap.add_argument("--orders", type=int, default=2_000, help="Bitfinex orders")
    ap.add_argument("--b2-frames", type=int, default=300, help="B2TRADER OpenOrders frames")
    ap.add_argument("--b2-orders", type=int, default=500, help="B2TRADER open orders per frame")
    ap.add_argument("--bybit-frames", type=int, default=20_000, help="Bybit order pushes")
    ap.add_argument("--bybit-orders", type=int, default=500, help="Bybit open orders (about)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    if args.venue in ("all", "bitfinex"):
        bench_bitfinex(args)
    if args.venue in ("all", "b2trader"):
        bench_b2trader(args)
    if args.venue in ("all", "bybit"):
        bench_bybit(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
