"""`python -m blotter.sim`: run the venue simulators on loopback until Ctrl-C or SIGTERM.

Prints one JSON line per venue with its URLs and demo credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import signal
import sys

from . import SIMULATORS, start_all, stop_all


def _loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{host!r} is not a loopback address")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m blotter.sim", description="Run loopback venue simulators."
    )
    parser.add_argument("--venue", action="append", choices=sorted(SIMULATORS),
                        help="venue to simulate (repeatable; default: all)")
    parser.add_argument("--host", type=_loopback, default="127.0.0.1",
                        help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port of the first venue, the next ones follow (default: free ports)")
    parser.add_argument("--orders", type=int, default=40, help="open orders at start (default 40)")
    parser.add_argument("--rate", type=float, default=2.0,
                        help="automatic flow events per second (default 2, 0 = none)")
    parser.add_argument("--seed", type=int, default=None, help="seed for repeatable runs")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    sims = await start_all(
        args.venue, host=args.host, port=args.port,
        initial_orders=args.orders, flow_rate=args.rate, seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    try:
        for sim in sims.values():
            print(json.dumps(sim.describe()), flush=True)
        await stop.wait()
    finally:
        await stop_all(sims)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
