"""Command line: the window by default; headless commands are reserved (design.md §6)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

RESERVED_COMMANDS = ("accounts", "orders", "cancel")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blotter",
        description="Every open order across your crypto venues in one live table, "
        "with fast, confirmed cancels.",
    )
    parser.add_argument(
        "--config", type=Path, metavar="PATH",
        help="accounts file (default: the platform's config dir; env BLOTTER_CONFIG)",
    )
    parser.add_argument(
        "--demo", action="store_true",
        help="run against simulated venues on 127.0.0.1 (no real accounts, no real money)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log debug detail to stderr")
    # For README screenshots under Xvfb: save a PNG of the window after N seconds, then quit.
    parser.add_argument("--screenshot", type=Path, metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--quit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument("--size", metavar="WxH", help=argparse.SUPPRESS)
    parser.add_argument(
        "command", nargs="?", choices=RESERVED_COMMANDS, metavar="command",
        help="accounts | orders | cancel (coming later)",
    )
    return parser


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(list(argv) if argv is not None else None)
        if args.command is not None:
            print(f"blotter: the '{args.command}' command is not available yet", file=sys.stderr)
            return 2
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.screenshot is not None and args.quit_after is None:
            parser.error("--screenshot needs --quit-after SECONDS")
        try:
            size = _size(args.size)
        except ValueError:
            parser.error("--size takes WIDTHxHEIGHT, e.g. 1400x760")
    except SystemExit as exc:  # argparse exits on errors and --help; main returns instead
        return int(exc.code) if isinstance(exc.code, int) else 2

    from blotter.app import Options, run

    return run(
        Options(
            demo=args.demo,
            config=args.config,
            verbose=args.verbose,
            screenshot=args.screenshot,
            quit_after=args.quit_after,
            size=size,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
