"""The command line's grammar: every command and option of design.md §6, with its help.

Parsing only; ``cli.py`` runs what was asked for.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from blotter.core.journal_records import KINDS
from blotter.venues.registry import VENUES

EXIT_CODES_HELP = """\
exit codes:
  0    everything asked for is confirmed by the venue
  1    some orders were not cancelled (each one is reported), or nothing matched
  2    usage or configuration error
  3    authentication or connection failure
  130  interrupted (Ctrl+C)
"""


CANCEL_EXAMPLES = """\
examples:
  blotter cancel --account bybit-main --symbol BTCUSDT --category linear --side buy
  blotter cancel --account "acme/Acme Main" --symbol cfd.eur_chf --yes
  blotter cancel --account bfx-main --all --side sell --yes
  blotter cancel --all-accounts --side buy --yes

"""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds from 0 to 3600")
    return value


def _iso_date(text: str) -> str:
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def _common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command accepts, before or after its name. Below the top level they
    default to SUPPRESS, so an option given before the command is not reset by the subparser."""
    default: Any = None if top else argparse.SUPPRESS
    flag: Any = False if top else argparse.SUPPRESS
    parser.add_argument(
        "--config", type=Path, metavar="PATH", default=default,
        help="accounts file (default: the platform's config dir; env BLOTTER_CONFIG)",
    )
    parser.add_argument(
        "--demo", action="store_true", default=flag,
        help="use simulated venues on 127.0.0.1 and their demo accounts (no real money)",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", default=flag, help="log debug detail to stderr"
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, top=False)
    parser = argparse.ArgumentParser(
        prog="blotter",
        description="Every open order across your crypto venues in one live table, "
        "with fast, confirmed cancels. Without a command: the window.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, top=True)
    # For README screenshots under Xvfb: save a PNG of the window after N seconds, then quit.
    parser.add_argument("--screenshot", type=Path, metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--quit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument("--size", metavar="WxH", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="command", title="commands")

    accounts = commands.add_parser(
        "accounts", parents=[common], help="list, add or remove accounts",
        description="The accounts file and the secrets in the OS keyring.",
    )
    actions = accounts.add_subparsers(dest="action", metavar="action", title="actions")
    actions.required = True
    listing = actions.add_parser("list", parents=[common], help="the configured accounts")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    add = actions.add_parser(
        "add", parents=[common], help="add an account; asks for its secrets",
        description="Add an account. Its secrets are asked for without echo (bitfinex, bybit: "
        "api_key, api_secret; b2trader: api_token), or read one per line from standard input "
        "when it is not a terminal. They go to the OS keyring, never to the accounts file.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--venue", required=True, choices=VENUES)
    add.add_argument("--env", help="live (default) | paper (bitfinex) | testnet, demo (bybit) | "
                     "demo (b2trader); picks the default URLs")
    add.add_argument("--rest-url", metavar="URL", help="REST origin, e.g. https://api.bybit.com "
                     "(required for b2trader)")
    add.add_argument("--ws-url", metavar="URL", help="websocket endpoint (required for b2trader)")
    add.add_argument("--dead-man-switch", action="store_true", default=None,
                     help="bitfinex: the venue cancels every order when the socket drops")
    add.add_argument("--categories", type=_words, metavar="LIST",
                     help="bybit: categories to show, comma-separated (default: all)")
    add.add_argument("--settle-coins", type=_words, metavar="LIST",
                     help="bybit: linear settle coins, comma-separated (default: USDT,USDC)")
    add.add_argument("--trading-account", action="append", dest="trading_accounts",
                     metavar="NAME", help="b2trader: show only this trading account (repeatable)")
    add.add_argument("--display-name", metavar="TEXT",
                     help="b2trader: the broker's name in the table")
    remove = actions.add_parser("remove", parents=[common],
                                help="remove an account and its secrets")
    remove.add_argument("name", metavar="NAME")

    orders = commands.add_parser(
        "orders", parents=[common], help="print the open orders, then exit",
        description="Connect, load the open orders, print them and exit.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    orders.add_argument("--account", action="append", default=[], metavar="NAME",
                        help="only this account (repeatable); a B2TRADER login covers all its "
                        "trading accounts, \"login/trading account\" names one")
    shape = orders.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON object per order and line")
    shape.add_argument("--csv", action="store_true",
                       help="CSV with a header line: plain numbers at full precision (no "
                       "thousands separators), times in ISO 8601 UTC with milliseconds")
    orders.add_argument("--timeout", type=_positive_seconds, default=20.0, metavar="SECONDS",
                        help="give up connecting after this long (default 20)")

    cancel = commands.add_parser(
        "cancel", parents=[common], help="cancel orders and wait for the venue's confirmation",
        description="Cancel orders on one account (or everything, everywhere) and wait until\n"
        "the venue confirms each one. Say what with one of --id, --cid, --group,\n"
        "--symbol, --all or --all-accounts; --side narrows --symbol, --all and\n"
        "--all-accounts to the buys or the sells. A scope that matches no open order\n"
        "cancels nothing, lists the account's open instruments and exits 1.",
        epilog=CANCEL_EXAMPLES + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cancel.add_argument("--account", metavar="NAME",
                        help="the account (a B2TRADER login, or \"login/trading account\")")
    what = cancel.add_mutually_exclusive_group()
    what.add_argument("--id", action="extend", nargs="+", dest="ids", metavar="ID",
                      help="these orders (repeatable)")
    what.add_argument("--cid", metavar="CID", help="the order with this client id")
    what.add_argument("--group", metavar="GID", help="every order of this group")
    what.add_argument("--symbol", metavar="SYMBOL",
                      help="every order on this instrument: the symbol as shown (EUR/CHF) or the "
                      "venue's own id (a B2TRADER market id such as cfd.eur_chf), any case")
    what.add_argument("--all", action="store_true", dest="whole_account",
                      help="every order of the account at the venue, shown or not")
    what.add_argument("--all-accounts", action="store_true",
                      help="every order on every account (needs --yes)")
    cancel.add_argument("--category", metavar="C", type=str.lower,
                        help="with --symbol: the market where a symbol spans several (Bybit "
                        "linear, inverse, spot, option; B2TRADER spot, cfd, perp)")
    cancel.add_argument("--side", type=str.lower, choices=("buy", "sell"),
                        help="only the buys or only the sells (with --symbol, --all or "
                        "--all-accounts)")
    cancel.add_argument("--cid-date", type=_iso_date, metavar="YYYY-MM-DD",
                        help="the day of --cid (Bitfinex client ids repeat daily; required there)")
    cancel.add_argument("--yes", "-y", action="store_true",
                        help="do not ask before cancelling more than one order")
    cancel.add_argument("--timeout", type=_positive_seconds, default=30.0, metavar="SECONDS",
                        help="bound on connecting, cancelling and confirming (default 30)")
    cancel.add_argument("--json", action="store_true",
                        help="one JSON object per order and line (the summary goes to stderr)")
    journal = commands.add_parser(
        "journal", parents=[common], help="print the journal of what happened",
        description="Print the journal: every cancel action, request, the venues' replies,\n"
        "outcomes, closes, connection states, checks, notices and order changes, oldest\n"
        "first, one per line. --order tells one order's story.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    journal.add_argument("--since", metavar="AGE|TIME",
                         help="only from then on: an age (10m, 2h, 3d) or a UTC time "
                         "(2026-12-05T13:00)")
    journal.add_argument("--account", metavar="NAME", help="only this account's records")
    journal.add_argument("--order", metavar="ID",
                         help="one order's story: first seen, changes, cancels, answers, end")
    journal.add_argument("--kind", action="extend", nargs="+", dest="kinds", default=[],
                         choices=KINDS, metavar="K",
                         help="only these kinds: " + ", ".join(KINDS))
    journal.add_argument("--json", action="store_true", help="one JSON object per record and line")
    return parser


def window_size(text: str | None) -> tuple[int, int] | None:
    """``--size WxH`` as (width, height); ``ValueError`` for anything else."""
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    return int(width), int(height)
