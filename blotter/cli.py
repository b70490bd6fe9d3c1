"""Command line: the window by default, and the headless commands of design.md §6.

```
blotter [--config PATH] [--demo]                       # the window
blotter accounts list [--json]
blotter accounts add NAME --venue V [--env E] [--rest-url URL] [--ws-url URL]
blotter accounts remove NAME
blotter orders [--account NAME ...] [--json | --csv]
blotter cancel --account NAME (--id ID ... | --cid CID --cid-date YYYY-MM-DD | --group GID
        | --symbol SYMBOL [--category C] | --all) [--side buy|sell] [--yes]
        [--timeout SECONDS] [--json]
blotter cancel --all-accounts [--side buy|sell] --yes
blotter journal [--since 10m|ISO] [--account NAME] [--order ID] [--kind K ...] [--json]
```

``--config``, ``--verbose`` and ``--demo`` go before or after the command. Exit codes: 0 everything
asked for is confirmed by the venue, 1 some orders not cancelled (each reported) or nothing matched
the scope (like ``pkill``), 2 usage or configuration error, 3 authentication or connection
failure, 130 interrupted (Ctrl+C).
Secrets are read from the terminal without echo (or from standard input, one per line, when it is
not a terminal), go straight to the OS keyring and are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import importlib
import json
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from blotter.config import AccountConfig, Config
    from blotter.core.cancel import CancelResult
    from blotter.core.order import AccountKey, Order
    from blotter.headless import Missing, Pick, Selection, Session

    Connected = tuple[Session, list[Pick], dict[AccountKey, str]]

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left
log = logging.getLogger("blotter.cli")

# ---------------------------------------------------------------------------------------------
# entry point


def main(argv: Sequence[str] | None = None) -> int:
    from blotter.cli_args import build_parser, window_size

    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        if args.command is None:
            if args.screenshot is not None and args.quit_after is None:
                parser.error("--screenshot needs --quit-after SECONDS")
            try:
                size = window_size(args.size)
            except ValueError:
                parser.error("--size takes WIDTHxHEIGHT, e.g. 1400x760")
        elif args.screenshot is not None or args.quit_after is not None or args.size:
            parser.error("--screenshot, --quit-after and --size are for the window only")
    except SystemExit as exc:  # argparse exits on errors and --help; main returns instead
        return int(exc.code) if isinstance(exc.code, int) else 2

    if args.command is not None:
        return run_command(args)

    # imported by name: the window (and Qt) is no part of the headless commands, nor of their
    # type check
    app = importlib.import_module("blotter.app")
    return int(app.run(
        app.Options(
            demo=args.demo,
            config=args.config,
            verbose=args.verbose,
            screenshot=args.screenshot,
            quit_after=args.quit_after,
            size=size,
        )
    ))


def run_command(args: argparse.Namespace) -> int:
    """Run a headless command; every expected failure becomes a message and an exit code."""
    from blotter import secrets
    from blotter.config import ConfigError
    from blotter.headless import EXIT_INTERRUPTED, EXIT_USAGE, CommandError
    from blotter.logs import setup_logging

    log_file = setup_logging(args.verbose)
    what = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    log.info("blotter %s%s (pid %d)", what, " --demo" if args.demo else "", os.getpid())
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "accounts": _accounts,
        "orders": lambda a: asyncio.run(_orders(a)),
        "cancel": lambda a: asyncio.run(_cancel(a)),
        "journal": _journal,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `blotter orders | head`: the reader has gone, say nothing more
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CommandError as exc:
        _error(str(exc))
        return exc.code
    except (ConfigError, secrets.SecretsError) as exc:  # KeyringUnavailable, MissingSecret
        _error(str(exc))
        return EXIT_USAGE
    except Exception as exc:  # a bug: the trader gets one line, the log gets the traceback
        log.exception("blotter %s failed", args.command)
        where = f" (details in {log_file})" if log_file is not None else ""
        _error(f"internal error: {type(exc).__name__}: {exc}{where}")
        return 1


def _error(text: str) -> None:
    from blotter.secrets import REDACTOR

    print(f"blotter: {REDACTOR.redact(text)}", file=sys.stderr, flush=True)


def _say(text: str, stream: TextIO | None = None) -> None:
    print(text, file=stream if stream is not None else sys.stdout, flush=True)


def _config_path(args: argparse.Namespace) -> Path:
    from blotter.config import resolve_config_path

    return resolve_config_path(args.config, os.environ)


# ---------------------------------------------------------------------------------------------
# accounts


def _accounts(args: argparse.Namespace) -> int:
    from blotter.headless import EXIT_USAGE, CommandError

    if args.action == "list":
        return _accounts_list(args)
    if args.demo:
        raise CommandError(
            f"accounts {args.action}: the --demo accounts are built in and cannot be changed; "
            "run without --demo to change your accounts file", EXIT_USAGE,
        )
    if args.action == "add":
        return _accounts_add(args)
    return _accounts_remove(args)


def _accounts_list(args: argparse.Namespace) -> int:
    from blotter.config import load_config

    rows: list[tuple[AccountConfig, str, tuple[str, ...]]]
    if args.demo:
        accounts = asyncio.run(_demo_accounts())
        rows = [(a, "demo", ()) for a in accounts]
        where = "the --demo accounts (simulators stopped again)"
    else:
        path = _config_path(args)
        accounts = list(load_config(path))
        rows = [(a, *_secrets_state(a)) for a in accounts]
        where = str(path)
    if args.json:
        for account, present, missing in rows:
            _say(json.dumps({
                "name": account.name, "venue": account.venue, "env": account.env,
                "rest_url": account.rest_url, "ws_url": account.ws_url,
                "secrets": present, "missing_secrets": list(missing),
                "options": _options(account),
            }, ensure_ascii=False))
        return 0
    if not rows:
        _say(f"No accounts in {where}. Add one with: blotter accounts add NAME --venue VENUE")
        return 0
    table = [("NAME", "VENUE", "ENV", "SECRETS", "REST URL", "WS URL")]
    for account, present, missing in rows:
        secrets_text = {"stored": "stored", "demo": "demo", "unknown": "?"}.get(
            present, "missing " + ", ".join(missing)
        )
        table.append((account.name, account.venue, account.env, secrets_text,
                      account.rest_url, account.ws_url))
    _print_table(table)
    return 0


def _options(account: AccountConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(account.options).items()}


_keyring_warned = False


def _secrets_state(account: AccountConfig) -> tuple[str, tuple[str, ...]]:
    """("stored" | "missing" | "unknown", the missing fields): never the values themselves."""
    global _keyring_warned
    from blotter.secrets import KeyringUnavailable, load_secret

    try:
        missing = tuple(f for f in account.secret_fields if load_secret(account.name, f) is None)
    except KeyringUnavailable as exc:
        if not _keyring_warned:
            _keyring_warned = True
            _error(f"cannot tell which secrets are stored: {exc}")
        return "unknown", ()
    return ("missing" if missing else "stored"), missing


def _accounts_add(args: argparse.Namespace) -> int:
    from blotter import secrets
    from blotter.config import add_account, display_path, load_config, make_account, save_config
    from blotter.headless import EXIT_USAGE, CommandError

    path = _config_path(args)
    config = load_config(path)
    account = make_account(
        args.name, args.venue, env=args.env, rest_url=args.rest_url, ws_url=args.ws_url,
        dead_man_switch=args.dead_man_switch, categories=args.categories,
        settle_coins=args.settle_coins, trading_accounts=args.trading_accounts,
        display_name=args.display_name,
    )
    updated = add_account(config, account)  # a duplicate fails before asking for secrets
    values = _read_secrets(account.secret_fields)
    stored: list[str] = []
    try:
        for field, value in values.items():
            secrets.store_secret(account.name, field, value)
            stored.append(field)
        save_config(path, updated)
    except BaseException as exc:
        if stored:  # no half account: the secrets go again when the config is not saved
            try:
                secrets.delete_secrets(account.name, account.venue)
            except secrets.SecretsError:
                log.warning("could not remove the secrets of %s again", account.name)
        if isinstance(exc, ValueError):  # store_secret's checks (empty, whitespace, ...)
            raise CommandError(f"not added: {exc}", EXIT_USAGE) from None
        raise
    _say(f"Added {account.name} ({account.venue}, {account.env}: {account.rest_url}, "
         f"{account.ws_url}) to {display_path(path)}; its {', '.join(stored)} "
         f"{'is' if len(stored) == 1 else 'are'} in the OS keyring.")
    return 0


def _read_secrets(fields: Sequence[str]) -> dict[str, str]:
    """Each field from the terminal without echo, or one line each from standard input."""
    from blotter.headless import EXIT_USAGE, CommandError

    values: dict[str, str] = {}
    if sys.stdin is not None and sys.stdin.isatty():
        for field in fields:
            try:
                values[field] = getpass.getpass(f"{field}: ")
            except EOFError:
                raise CommandError(f"no {field} given; nothing was added", EXIT_USAGE) from None
        return values
    stdin = sys.stdin
    for n, field in enumerate(fields):
        line = stdin.readline() if stdin is not None else ""
        if not line:
            raise CommandError(
                f"standard input ended after {n} of {len(fields)} lines: give "
                f"{', '.join(fields)}, one per line; nothing was added", EXIT_USAGE,
            )
        values[field] = line.removesuffix("\n").removesuffix("\r")
    return values


def _accounts_remove(args: argparse.Namespace) -> int:
    from blotter import secrets
    from blotter.config import display_path, load_config, remove_account, save_config
    from blotter.headless import EXIT_USAGE, CommandError

    path = _config_path(args)
    config = load_config(path)
    account = config.get(args.name)
    save_config(path, remove_account(config, args.name))
    try:
        secrets.delete_secrets(account.name, account.venue)
    except secrets.SecretsError as exc:
        users = ", ".join(secrets.keyring_username(account.name, f) for f in account.secret_fields)
        raise CommandError(
            f"removed {account.name} from {display_path(path)}, but its secrets are still in the "
            f"OS keyring (service {secrets.SERVICE!r}, users {users}): {exc}", EXIT_USAGE,
        ) from None
    _say(f"Removed {account.name} from {display_path(path)}, and its secrets from the OS keyring.")
    return 0


# ---------------------------------------------------------------------------------------------
# journal


def _journal(args: argparse.Namespace) -> int:
    """Print the journal's records (``journal_read.read_journal``), one per line: readable,
    or as JSON with ``--json``. Nothing found is not an error (exit 0)."""
    import time

    from blotter.headless import EXIT_USAGE, CommandError
    from blotter.journal import journal_dir
    from blotter.journal_read import parse_since, read_journal, record_line

    since = None
    if args.since:
        try:
            since = parse_since(args.since, time.time_ns() // 1_000_000)
        except ValueError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
    found = read_journal(journal_dir(), since=since, account=args.account, order=args.order,
                         kinds=tuple(args.kinds))
    for record in found:
        _say(json.dumps(record, ensure_ascii=False) if args.json else record_line(record))
    return 0


# ---------------------------------------------------------------------------------------------
# connecting


async def _demo_accounts() -> list[AccountConfig]:
    from blotter.demo import DemoVenues

    demo = DemoVenues()
    try:
        return [account for account, _ in await demo.start()]
    finally:
        await demo.stop()


@asynccontextmanager
async def _connected(
    args: argparse.Namespace, names: Sequence[str], timeout: float, *, fail_fast: bool = True
) -> AsyncIterator[Connected]:
    """The session for the accounts ``names`` select (all when empty), started and waited on
    until live; yields (session, picks, problems). Stops everything on the way out."""
    from blotter.config import Config, load_config
    from blotter.demo import DemoVenues
    from blotter.headless import (
        EXIT_USAGE,
        CommandError,
        Session,
        Target,
        logins,
        pick_accounts,
    )
    from blotter.journal import Journal, attach
    from blotter.secrets import load_credentials

    loop = asyncio.get_running_loop()
    started = loop.time()
    demo: DemoVenues | None = None
    session: Session | None = None
    journal: Journal | None = None
    try:
        nonce_dir = None
        if args.demo:
            demo = DemoVenues()
            demo_targets = [Target(a, c) for a, c in await demo.start()]
            nonce_dir = demo.state_dir
            config: Config = Config(tuple(t.account for t in demo_targets))
            by_name = {t.account.name: t for t in demo_targets}
            picks = pick_accounts(names, config)
            targets = [by_name[a.name] for a in logins(picks)]
        else:
            path = _config_path(args)
            config = load_config(path)
            if not config.accounts:
                raise CommandError(
                    f"no accounts in {path}; add one with: blotter accounts add NAME --venue "
                    "VENUE (or try --demo)", EXIT_USAGE,
                )
            picks = pick_accounts(names, config)
            targets = [Target(a, load_credentials(a)) for a in logins(picks)]
        session = Session(targets, nonce_dir=nonce_dir)
        journal = Journal()
        attach(journal, session.engine)
        session.start()
        problems = await session.connect(max(0.0, timeout - (loop.time() - started)),
                                         fail_fast=fail_fast)
        yield session, picks, problems
    finally:
        if session is not None:
            await session.stop()
        if demo is not None:
            await demo.stop()
        if journal is not None:
            journal.close()


def _connection_error(problems: dict[Any, str]) -> Exception:
    from blotter.headless import EXIT_CONNECTION, CommandError

    lines = [f"{key.account}: {reason}" for key, reason in problems.items()]
    return CommandError("cannot connect: " + "; ".join(lines), EXIT_CONNECTION)


# ---------------------------------------------------------------------------------------------
# orders


async def _orders(args: argparse.Namespace) -> int:
    async with _connected(args, args.account, args.timeout) as (session, picks, problems):
        if problems:
            raise _connection_error(problems)
        orders = session.orders(picks)
    if args.csv:
        _write_csv(orders)
    else:
        _print_orders(orders, args.json)
    return 0


def _write_csv(orders: Sequence[Order]) -> None:
    """The open orders as CSV on stdout: the fields of ``--json``, one order per line."""
    import csv

    from blotter.headless import order_record

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for order in orders:
        record = order_record(order)
        writer.writerow(["" if record[f] is None else record[f] for f in CSV_FIELDS])


CSV_FIELDS = (  # order_record's fields, in its order
    "venue", "account", "order_id", "symbol", "category", "instrument_id", "side", "type",
    "price", "amount", "remaining", "filled", "status", "status_text", "group_id", "client_id",
    "created", "updated",
)


def _print_orders(orders: Sequence[Order], as_json: bool) -> None:
    from blotter.headless import decimal_text, market_text, order_record

    if as_json:
        for order in orders:
            _say(json.dumps(order_record(order), ensure_ascii=False))
        return
    if not orders:
        _say("No open orders.")
        return
    table = [("ACCOUNT", "ORDER ID", "SYMBOL", "MARKET", "SIDE", "TYPE", "PRICE", "AMOUNT",
              "REMAINING", "STATUS", "GROUP", "CREATED (UTC)")]
    for o in orders:
        created = order_record(o)["created"]
        table.append((
            o.account, o.order_id, o.symbol, market_text(o), o.side.value, o.order_type,
            decimal_text(o.price) or "market", decimal_text(o.amount) or "",
            decimal_text(o.remaining) or "", o.status_text or o.status.value,
            o.group_id or "", (created or "")[:19].replace("T", " "),
        ))
    _print_table(table, right=(6, 7, 8))
    accounts = len({o.account for o in orders})
    _say(f"{len(orders)} open order{'s' if len(orders) != 1 else ''} on {accounts} "
         f"account{'s' if accounts != 1 else ''}.")


def _print_table(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        _say("  ".join(cells).rstrip())


# ---------------------------------------------------------------------------------------------
# cancel


async def _cancel(args: argparse.Namespace) -> int:
    from blotter.core.order import Side
    from blotter.headless import (
        EXIT_CONNECTION,
        EXIT_NOT_CANCELLED,
        EXIT_OK,
        CancelRequest,
        CommandError,
    )

    _check_cancel_args(args)
    everything = bool(args.all_accounts)
    side = Side(args.side) if args.side else None
    request = CancelRequest(
        ids=tuple(args.ids or ()), client_id=args.cid, client_id_date=args.cid_date,
        group=args.group, symbol=args.symbol, whole_account=bool(args.whole_account),
        category=args.category, side=side,
    )

    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    names: list[str] = [] if everything else [str(args.account)]
    async with _connected(args, names, args.timeout, fail_fast=not everything) as (
        session, picks, problems
    ):
        if problems and not everything:
            raise _connection_error(problems)
        if everything:
            for key, reason in problems.items():
                _error(f"{key.account}: not connected, nothing cancelled there: {reason}")
                await session.engine.remove_client(key)
            selection = session.select_everything(side)
        else:
            (pick,) = picks
            if (request.client_id is not None and request.client_id_date is None
                    and pick.account.venue == "bitfinex"):
                raise CommandError("Bitfinex client ids repeat every day: add --cid-date "
                                   "YYYY-MM-DD (the day the order was placed, UTC)")
            selection = session.select(pick, request)
            if selection.matched_nothing:  # like pkill: nothing was cancelled
                _nothing_matched(selection, args.json)
                return EXIT_NOT_CANCELLED
            if selection.count > 1 and not args.yes:
                await _confirm(selection.count, pick, session.routes(selection))
        results = await session.cancel(selection, max(0.0, deadline - loop.time()))
    code = _report(selection, results, selection.missing, args.json)
    if everything and problems:
        return EXIT_CONNECTION
    return EXIT_OK if code == 0 else EXIT_NOT_CANCELLED


def _check_cancel_args(args: argparse.Namespace) -> None:
    """The combinations ``blotter cancel`` takes, each refusal saying what to give instead."""
    from blotter.headless import EXIT_USAGE, CommandError

    named = [flag for flag, given in (
        ("--id", args.ids), ("--cid", args.cid is not None), ("--group", args.group is not None),
        ("--symbol", args.symbol is not None), ("--all", args.whole_account),
        ("--all-accounts", args.all_accounts),
    ) if given]
    if not named:
        if args.side is not None:
            raise CommandError(f"--side {args.side} narrows a scope to one side: add --symbol "
                               "SYMBOL or --all (or --all-accounts --yes)")
        raise CommandError("say what to cancel: one of the arguments --id --cid --group "
                           "--symbol --all --all-accounts is required")
    if args.side is not None and named[0] in ("--id", "--cid", "--group"):
        raise CommandError(f"--side goes with --symbol, --all or --all-accounts, not {named[0]} "
                           "(those name the orders already)")
    if args.category is not None and args.symbol is None:
        raise CommandError("--category goes with --symbol (the market of that symbol)")
    if args.all_accounts:
        if args.account is not None:
            raise CommandError("--all-accounts cancels on every account: drop --account")
        if not args.yes:
            what = f"every {args.side} order" if args.side else "every order"
            raise CommandError(f"--all-accounts cancels {what} on every account: "
                               "add --yes to confirm", EXIT_USAGE)
    elif args.account is None:
        raise CommandError("say which account: --account NAME (or --all-accounts --yes)")
    if args.cid_date is not None and args.cid is None:
        raise CommandError("--cid-date goes with --cid")


def _nothing_matched(selection: Selection, as_json: bool) -> None:
    """No open order matches the scope: say so, with what is open (on stderr with --json, so
    stdout stays one object per cancelled order: none)."""
    where = selection.what.rpartition(" on ")[2]
    listing = (f"open there: {selection.open_here}." if selection.open_here
               else f"{where} has no open orders.")
    _say(f"Nothing cancelled: no open order matches {selection.what}; {listing}",
         sys.stderr if as_json else sys.stdout)


async def _confirm(count: int, pick: Pick, routes: Sequence[tuple[str, str]] = ()) -> None:
    from blotter.headless import EXIT_USAGE, CommandError

    question = f"Cancel {count} orders on {pick.label}? [y/N] "
    if sys.stdin is None or not sys.stdin.isatty():
        raise CommandError(
            f"this would cancel {count} orders on {pick.label}; standard input is not a "
            "terminal to ask on: pass --yes to confirm", EXIT_USAGE,
        )
    for account, route in routes:  # how each venue will send it
        _say(f"{account}: {route}", sys.stderr)
    answer = await _ask(question)
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("nothing cancelled", EXIT_USAGE)


async def _ask(question: str) -> str:
    """One line from the terminal, read in a daemon thread so the loop keeps the sockets alive
    (and Ctrl+C is not held up by a blocked read)."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = sys.stdin.readline()
        except (OSError, ValueError):
            line = ""
        loop.call_soon_threadsafe(lambda: None if answer.done() else answer.set_result(line))

    print(question, end="", file=sys.stderr, flush=True)
    threading.Thread(target=read, name="confirm", daemon=True).start()
    return await answer


def _report(
    selection: Selection, results: Sequence[CancelResult], missing: Sequence[Missing], as_json: bool
) -> int:
    """Print one line per order and the summary; returns 0 when everything asked for is
    confirmed cancelled, 1 otherwise."""
    from blotter.core.cancel import Outcome

    lines: list[tuple[str | None, str, str, str]] = []  # order id, account, outcome, text
    request_errors: list[str] = []
    for result in results:
        for key, answer in result.outcomes.items():
            text = answer.text or result.text or result.error or ""
            lines.append((key.order_id, key.account, answer.outcome.value, text))
        if result.error and not result.outcomes:
            request_errors.append(f"{result.plan.account.account}: {result.error}")
    for item in missing:
        lines.append((item.order_id, item.account, Outcome.NOT_FOUND.value, item.text))

    if as_json:
        for order_id, account, outcome, text in lines:
            _say(json.dumps({"order_id": order_id, "account": account, "outcome": outcome,
                             "text": text}, ensure_ascii=False))
    elif lines:
        _print_table([(order_id or "-", account, outcome, text)
                      for order_id, account, outcome, text in lines])
    summary_stream = sys.stderr if as_json else sys.stdout
    for text in request_errors:
        _say(f"blotter: {text}", sys.stderr)

    total = len(lines)
    cancelled = sum(1 for line in lines if line[2] == Outcome.CANCELLED.value)
    if total == 0:  # everything was asked for, and the venues had nothing: like pkill
        if not request_errors:
            _nothing_matched(selection, as_json)
        return 1
    others: dict[str, int] = {}
    for line in lines:
        if line[2] != Outcome.CANCELLED.value:
            others[line[2]] = others.get(line[2], 0) + 1
    detail = "".join(f", {n} {outcome}" for outcome, n in others.items())
    _say(f"Cancelled {cancelled} of {total} ({selection.what}){detail}.", summary_stream)
    return 0 if cancelled == total and not request_errors else 1


if __name__ == "__main__":
    sys.exit(main())
