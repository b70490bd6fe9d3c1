"""The command line (design.md §6), run as a trader runs it: ``python -m blotter ...`` in a
subprocess, against the three venue simulators on loopback.

The simulators run in the test's event loop and the command in a child process started with
``asyncio.create_subprocess_exec``, so the loop keeps serving the venues while the command talks
to them, and the test can look at (and steer) the venues' own books. The child gets its own
accounts file, log directory, nonce directory and a file-backed keyring (tests/keyring_backend.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from blotter.config import Config, make_account, save_config
from blotter.headless import decimal_text, iso_ms
from blotter.sim import start_all, stop_all
from tests import keyring_backend

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 30.0  # s, any one command
NAMES = {"bitfinex": "bfx", "bybit": "byb", "b2trader": "acme"}
ORDER_FIELDS = [
    "venue", "account", "order_id", "symbol", "category", "instrument_id", "side", "type",
    "price", "amount", "remaining", "filled", "status", "status_text", "group_id", "client_id",
    "created", "updated",
]


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """The child's environment: nothing of the trader's own config, log, state or keyring."""
    env = dict(os.environ)
    env.update({
        "BLOTTER_CONFIG": str(tmp_path / "config.toml"),
        "BLOTTER_LOG_DIR": str(tmp_path / "log"),
        "XDG_STATE_HOME": str(tmp_path / "state"),  # the Bitfinex nonce files
        "PYTHON_KEYRING_BACKEND": keyring_backend.BACKEND,
        keyring_backend.PATH_ENV: str(tmp_path / "keyring.json"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    env.pop(keyring_backend.BROKEN_ENV, None)
    return env


async def blotter(
    env: Mapping[str, str], *args: str, stdin: str | None = None, timeout: float = RUN_TIMEOUT
) -> Run:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blotter", *args, cwd=ROOT, env=dict(env),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else b""), timeout
        )
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"blotter {' '.join(args)} did not finish in {timeout:g} s") from None
    assert proc.returncode is not None
    run = Run(proc.returncode, out.decode(), err.decode())
    assert "Traceback" not in run.err, run.err
    return run


@pytest.fixture
async def venues() -> AsyncIterator[dict[str, Any]]:
    """The three simulators, a few open orders each, no background flow (a stable book)."""
    sims = await asyncio.wait_for(
        start_all(host="127.0.0.1", port=0, initial_orders=6, flow_rate=0.0, seed=7), 10
    )
    try:
        yield sims
    finally:
        await asyncio.wait_for(stop_all(sims), 10)


def configure(env: Mapping[str, str], sims: Mapping[str, Any], **overrides: Any) -> None:
    """Accounts bfx / byb / acme pointing at ``sims`` with their secrets in the test keyring,
    written directly (``accounts add`` itself is tested on its own)."""
    accounts = []
    entries: dict[str, dict[str, str]] = {"blotter": {}}
    for venue, sim in sims.items():
        name = NAMES[venue]
        accounts.append(make_account(name, venue, rest_url=sim.rest_url, ws_url=sim.ws_url))
        credentials = dict(sim.credentials)
        credentials.update(overrides.get(name, {}))
        for field, value in credentials.items():
            entries["blotter"][f"{name}/{field}"] = value
    save_config(env["BLOTTER_CONFIG"], Config(tuple(accounts)))
    keyring_backend.write_entries(env[keyring_backend.PATH_ENV], entries)


def venue_books(sims: Mapping[str, Any]) -> set[tuple[str, str, str, str, Decimal, Decimal]]:
    """Every open order as the venues themselves hold it:
    (venue, account, order id, symbol, amount, remaining)."""
    book: set[tuple[str, str, str, str, Decimal, Decimal]] = set()
    for a in sims["bitfinex"].open_orders():  # [ID, GID, CID, SYMBOL, .., AMOUNT, AMOUNT_ORIG]
        book.add(("bitfinex", "bfx", str(a[0]), a[3], abs(Decimal(str(a[7]))),
                  abs(Decimal(str(a[6])))))
    for o in sims["bybit"].open_orders():
        book.add(("bybit", "byb", o["orderId"], o["symbol"], Decimal(o["qty"]),
                  Decimal(o["leavesQty"])))
    b2 = sims["b2trader"]
    for account in b2.accounts:
        for o in b2.open_orders(account["accountId"]):
            book.add(("b2trader", f"acme/{account['accountName']}", o["orderId"],
                      o["marketDisplayName"], Decimal(o["requestedAmount"]),
                      Decimal(o["remainingAmount"])))
    return book


def printed_books(run: Run) -> set[tuple[str, str, str, str, Decimal, Decimal]]:
    return {(r["venue"], r["account"], r["order_id"], r["symbol"], Decimal(r["amount"]),
             Decimal(r["remaining"])) for r in run.json_lines()}


def secrets_of(sims: Mapping[str, Any]) -> list[str]:
    return [value for sim in sims.values() for value in sim.credentials.values()]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# accounts


async def test_accounts_add_for_each_venue_keeps_secrets_out_of_output_config_and_log(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    runs = []
    for venue, sim in venues.items():
        stdin = "".join(f"{value}\n" for value in sim.credentials.values())
        run = await blotter(home, "accounts", "add", NAMES[venue], "--venue", venue,
                            "--rest-url", sim.rest_url, "--ws-url", sim.ws_url, stdin=stdin)
        assert run.code == 0, run.err
        assert f"Added {NAMES[venue]} ({venue}" in run.out
        runs.append(run)
    # the secrets went to the keyring, one entry per field, under service "blotter"
    stored = keyring_backend.read_entries(home[keyring_backend.PATH_ENV])["blotter"]
    assert stored == {
        f"{NAMES[v]}/{field}": value
        for v, sim in venues.items() for field, value in sim.credentials.items()
    }

    listing = await blotter(home, "accounts", "list")
    assert listing.code == 0, listing.err
    rows = [line.split() for line in listing.out.splitlines()]
    assert rows[0][:4] == ["NAME", "VENUE", "ENV", "SECRETS"]
    assert [r[:4] for r in rows[1:]] == [
        ["bfx", "bitfinex", "live", "stored"], ["byb", "bybit", "live", "stored"],
        ["acme", "b2trader", "live", "stored"],
    ]
    as_json = await blotter(home, "accounts", "list", "--json")
    assert [(r["name"], r["rest_url"], r["ws_url"], r["secrets"]) for r in as_json.json_lines()] == [
        (NAMES[v], sim.rest_url, sim.ws_url, "stored") for v, sim in venues.items()
    ]
    # the accounts work: the orders command connects to all three with the stored secrets
    orders = await blotter(home, "orders", "--json", "--verbose")
    assert orders.code == 0, orders.err
    assert printed_books(orders) == venue_books(venues)

    config_text = Path(home["BLOTTER_CONFIG"]).read_text()
    log_text = (Path(home["BLOTTER_LOG_DIR"]) / "blotter.log").read_text()
    assert "api_key" not in config_text and "[[accounts]]" in config_text
    assert "INFO blotter.cli: blotter orders" in log_text  # the log was written
    for secret in secrets_of(venues):
        for text in (config_text, log_text, listing.out, as_json.out, orders.out, orders.err,
                     *(r.out + r.err for r in runs)):
            assert secret not in text


async def test_accounts_add_refuses_bad_input_and_remove_takes_the_secrets_too(
    home: dict[str, str],
) -> None:
    b2 = ["--venue", "b2trader", "--rest-url", "https://broker.example",
          "--ws-url", "wss://broker.example/frontoffice/ws/v4/account"]
    added = await blotter(home, "accounts", "add", "acme", *b2, stdin="tok-123456789\n")
    assert added.code == 0, added.err

    duplicate = await blotter(home, "accounts", "add", "ACME", *b2, stdin="tok-other\n")
    assert duplicate.code == 2
    assert 'an account named "acme" already exists' in duplicate.err
    plain = await blotter(home, "accounts", "add", "x", "--venue", "bybit",
                          "--rest-url", "http://api.bybit.com", stdin="k\ns\n")
    assert plain.code == 2 and "refusing unencrypted" in plain.err
    env = await blotter(home, "accounts", "add", "y", "--venue", "bitfinex", "--env", "testnet",
                        stdin="k\ns\n")
    assert env.code == 2 and "env" in env.err and "testnet" in env.err
    short = await blotter(home, "accounts", "add", "z", "--venue", "bybit", stdin="only-key\n")
    assert short.code == 2 and "api_key, api_secret, one per line" in short.err
    demo = await blotter(home, "accounts", "add", "d", "--venue", "bybit", "--demo", stdin="")
    assert demo.code == 2 and "--demo accounts are built in" in demo.err
    home_broken = {**home, keyring_backend.BROKEN_ENV: "1"}
    broken = await blotter(home_broken, "accounts", "add", "w", "--venue", "bybit",
                           stdin="key-12345\nsecret-12345\n")
    assert broken.code == 2 and "No usable OS keyring" in broken.err
    # none of the refused accounts reached the file or the keyring
    listing = await blotter(home, "accounts", "list", "--json")
    assert [r["name"] for r in listing.json_lines()] == ["acme"]
    assert list(keyring_backend.read_entries(home[keyring_backend.PATH_ENV])["blotter"]) == [
        "acme/api_token"
    ]

    removed = await blotter(home, "accounts", "remove", "acme")
    assert removed.code == 0, removed.err
    assert keyring_backend.read_entries(home[keyring_backend.PATH_ENV])["blotter"] == {}
    again = await blotter(home, "accounts", "remove", "acme")
    assert again.code == 2 and 'no account named "acme"' in again.err


# ---------------------------------------------------------------------------------------------
# orders


async def test_orders_json_is_exactly_the_venues_open_orders(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    run = await blotter(home, "orders", "--json")
    assert run.code == 0, run.err
    records = run.json_lines()
    assert printed_books(run) == venue_books(venues)
    assert len(records) == len(venue_books(venues)) == 18
    for record in records:
        assert list(record) == ORDER_FIELDS
        assert all(isinstance(v, str) or v is None for v in record.values())
        assert record["created"] is None or record["created"].endswith("Z")
        assert Decimal(record["filled"]) == Decimal(record["amount"]) - Decimal(record["remaining"])
    bfx = next(r for r in records if r["venue"] == "bitfinex")
    raw = next(a for a in venues["bitfinex"].open_orders() if str(a[0]) == bfx["order_id"])
    assert bfx["created"] == iso_ms(raw[4]) and bfx["updated"] == iso_ms(raw[5])

    # --account: a B2TRADER login's trading account on its own, and the table form
    one = await blotter(home, "orders", "--account", "acme/Acme Margin")
    assert one.code == 0, one.err
    b2 = venues["b2trader"]
    margin = {o["orderId"] for o in b2.open_orders(b2.account_ids[1])}
    rows = one.out.splitlines()[1:-1]
    assert len(rows) == len(margin)
    assert all(row.startswith("acme/Acme Margin  ") for row in rows)
    assert {o["orderId"] for o in b2.open_orders() if o["orderId"] in one.out} == margin
    assert one.out.splitlines()[-1] == f"{len(margin)} open orders on 1 account."


async def test_orders_csv_has_the_json_fields_with_plain_numbers_and_utc_times(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    import csv
    import io

    configure(home, venues)
    as_json = (await blotter(home, "orders", "--json")).json_lines()
    run = await blotter(home, "orders", "--csv")
    assert run.code == 0, run.err
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert list(rows[0]) == ORDER_FIELDS
    by_id = {r["order_id"]: r for r in rows}
    assert set(by_id) == {r["order_id"] for r in as_json}
    for record in as_json:  # the same values, None as an empty cell
        assert by_id[record["order_id"]] == {k: v or "" for k, v in record.items()}
    for row in rows:  # numbers a spreadsheet reads exactly: no grouping, no exponent
        for name in ("price", "amount", "remaining", "filled"):
            assert "," not in row[name] and "E" not in row[name].upper()
    both = await blotter(home, "orders", "--csv", "--json")
    assert both.code == 2


async def test_a_refused_key_or_an_unreachable_venue_exits_3(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues, bfx={"api_secret": "not-the-secret-0000"})
    venues["bybit"].refuse_key = True
    refused = await blotter(home, "orders", "--account", "byb")
    assert refused.code == 3
    assert "byb: Bybit refused the API key: Invalid apikey" in refused.err
    wrong = await blotter(home, "orders", "--account", "bfx", "--timeout", "10")
    assert wrong.code == 3 and "bfx:" in wrong.err
    assert "not-the-secret-0000" not in wrong.err + wrong.out

    port = free_port()
    save_config(home["BLOTTER_CONFIG"], Config((make_account(
        "gone", "bybit", rest_url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}/v5/private"),)))
    keyring_backend.write_entries(home[keyring_backend.PATH_ENV], {"blotter": {
        "gone/api_key": "k-123456", "gone/api_secret": "s-123456"}})
    unreachable = await blotter(home, "cancel", "--account", "gone", "--all", "--timeout", "1.5")
    assert unreachable.code == 3
    assert "gone: not connected after" in unreachable.err


async def test_a_bad_config_file_or_a_missing_secret_exits_2_and_says_where(
    home: dict[str, str],
) -> None:
    Path(home["BLOTTER_CONFIG"]).write_text(
        '[[accounts]]\nname = "bfx"\nvenue = "bitfinex"\nenv = "moon"\n'
    )
    bad = await blotter(home, "orders")
    assert bad.code == 2
    assert home["BLOTTER_CONFIG"] in bad.err and "line 4" in bad.err
    assert "accounts[0].env" in bad.err and '"moon"' in bad.err

    save_config(home["BLOTTER_CONFIG"], Config((make_account("bfx", "bitfinex"),)))
    missing = await blotter(home, "orders")
    assert missing.code == 2
    assert 'account "bfx" has no api_key in the OS keyring' in missing.err
    unknown = await blotter(home, "cancel", "--account", "nope", "--all", "--yes")
    assert unknown.code == 2 and 'no account named "nope" (accounts: bfx)' in unknown.err
    usage = await blotter(home, "cancel", "--account", "bfx")
    assert usage.code == 2 and "one of the arguments" in usage.err


# ---------------------------------------------------------------------------------------------
# cancel


async def test_cancel_by_id_takes_exactly_those_orders(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    before = venue_books(venues)
    ids = [str(a[0]) for a in venues["bitfinex"].open_orders()[:2]]
    run = await blotter(home, "cancel", "--account", "bfx", "--id", ids[0], "--id", ids[1],
                        "--yes", "--json")
    assert run.code == 0, run.err
    assert {(r["order_id"], r["account"], r["outcome"]) for r in run.json_lines()} == {
        (i, "bfx", "cancelled") for i in ids
    }
    assert all(r["text"] for r in run.json_lines())  # the venue's words
    assert "Cancelled 2 of 2" in run.err  # the summary stays off stdout with --json
    assert venue_books(venues) == {o for o in before if o[2] not in ids}

    # by client id: Bitfinex client ids repeat daily, so the day goes with it
    raw = venues["bitfinex"].open_orders()[0]  # [ID, GID, CID, SYMBOL, MTS_CREATE, ...]
    cid, day = str(raw[2]), iso_ms(raw[4])[:10]  # type: ignore[index]
    undated = await blotter(home, "cancel", "--account", "bfx", "--cid", cid)
    assert undated.code == 2 and "--cid-date" in undated.err
    by_cid = await blotter(home, "cancel", "--account", "bfx", "--cid", cid, "--cid-date", day)
    assert by_cid.code == 0, by_cid.err
    assert by_cid.out.split()[:3] == [str(raw[0]), "bfx", "cancelled"]
    assert str(raw[0]) not in {str(a[0]) for a in venues["bitfinex"].open_orders()}


async def test_cancel_by_symbol_and_all_on_a_broker_login(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    before = venue_books(venues)
    first = venues["bybit"].open_orders()[0]
    symbol, category = first["symbol"], first["category"]
    ids = {o["orderId"] for o in venues["bybit"].open_orders(category) if o["symbol"] == symbol}
    on_symbol = {o for o in before if o[0] == "bybit" and o[2] in ids}
    run = await blotter(home, "cancel", "--account", "byb", "--symbol", symbol,
                        "--category", category, "--yes")
    assert run.code == 0, run.err
    assert run.out.splitlines()[-1].startswith(f"Cancelled {len(on_symbol)} of {len(on_symbol)}")
    assert venue_books(venues) == before - on_symbol

    nothing = await blotter(home, "cancel", "--account", "byb", "--symbol", symbol,
                            "--category", category)
    assert nothing.code == 1, nothing.err  # like pkill: nothing matched, nothing cancelled
    assert (f"Nothing cancelled: no open order matches {symbol} {category.capitalize()} on "
            "byb; open there: ") in nothing.out

    everything = await blotter(home, "cancel", "--account", "acme", "--all", "--yes")
    assert everything.code == 0, everything.err
    assert venues["b2trader"].open_orders() == []
    assert venue_books(venues) == {o for o in before - on_symbol if o[0] != "b2trader"}


async def test_cancel_reports_an_order_that_is_not_cancelled_and_exits_1(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    first, second = (str(a[0]) for a in venues["bitfinex"].open_orders()[:2])
    venues["bitfinex"].fill_on_cancel = True  # a fill wins the race at the venue
    filled = await blotter(home, "cancel", "--account", "bfx", "--id", first, "--json")
    assert filled.code == 1, filled.err
    (line,) = filled.json_lines()
    assert line["order_id"] == first and line["outcome"] == "filled"
    assert line["text"].startswith("EXECUTED")  # the venue's own status text

    venues["bitfinex"].cancel_external(int(second))  # gone before the command runs
    gone = await blotter(home, "cancel", "--account", "bfx", "--id", second)
    assert gone.code == 1
    assert gone.out.split()[:4] == [second, "bfx", "not", "found"]
    assert "not among the open orders of bfx at the venue" in gone.out


async def test_cancel_of_several_orders_needs_yes_when_it_cannot_ask(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    before = venue_books(venues)
    run = await blotter(home, "cancel", "--account", "acme", "--all")
    assert run.code == 2
    assert "this would cancel 6 orders on acme" in run.err and "--yes" in run.err
    everywhere = await blotter(home, "cancel", "--all-accounts")
    assert everywhere.code == 2 and "--yes" in everywhere.err
    assert venue_books(venues) == before


async def test_cancel_of_several_orders_asks_on_a_terminal(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    before = venue_books(venues)
    for answer, code in ((b"n\n", 2), (b"y\n", 0)):
        master, slave = pty.openpty()  # standard input is a terminal: the command asks
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "blotter", "cancel", "--account", "acme", "--all",
                cwd=ROOT, env=home, stdin=slave, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            assert proc.stderr is not None
            prompt = await asyncio.wait_for(proc.stderr.readuntil(b"[y/N] "), 15)
            assert prompt.endswith(b"Cancel 6 orders on acme? [y/N] ")
            # and how the broker will be asked, for each trading account
            assert (b"acme/Acme Main: a fresh list of each trading account, then one DELETE "
                    b"per order, 4 at a time (the broker has no bulk cancel)\n") in prompt
            os.write(master, answer)
            out, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            os.close(master)
            os.close(slave)
        assert proc.returncode == code, err
        if code == 2:
            assert b"nothing cancelled" in err and venue_books(venues) == before
        else:
            assert out.decode().splitlines()[-1] == "Cancelled 6 of 6 (all orders on acme)."
            assert venues["b2trader"].open_orders() == []


async def test_cancel_all_accounts_empties_every_venue(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    total = len(venue_books(venues))
    run = await blotter(home, "--verbose", "cancel", "--all-accounts", "--yes", "--json")
    assert run.code == 0, run.err
    lines = run.json_lines()
    assert len(lines) == total and {r["outcome"] for r in lines} == {"cancelled"}
    assert venue_books(venues) == set()


async def test_all_accounts_cancels_where_it_can_and_exits_3_for_an_account_it_cannot_reach(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    venues["bybit"].refuse_key = True  # this one cannot sign in
    bybit_before = {o["orderId"] for o in venues["bybit"].open_orders()}
    run = await blotter(home, "cancel", "--all-accounts", "--yes", "--timeout", "15")
    assert run.code == 3, run.err
    assert "byb" in run.err and "Invalid apikey" in run.err
    assert venues["bitfinex"].open_orders() == []  # the others were cancelled all the same
    assert venues["b2trader"].open_orders() == []
    assert {o["orderId"] for o in venues["bybit"].open_orders()} == bybit_before


# ---------------------------------------------------------------------------------------------
# cancel scopes: one side, an instrument by its shown name or the venue's id, nothing matched


def bybit_sides(sim: Any) -> dict[tuple[str, str, str], set[str]]:
    """The Bybit venue's open orders by (category, symbol, side)."""
    found: dict[tuple[str, str, str], set[str]] = {}
    for o in sim.open_orders():
        found.setdefault((o["category"], o["symbol"], o["side"]), set()).add(o["orderId"])
    return found


async def test_cancel_one_side_of_an_instrument_that_spans_two_categories(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    sim = venues["bybit"]
    for side, price in (("Buy", "50000"), ("Buy", "49000"), ("Sell", "150000")):
        sim.place_order("linear", "BTCUSDT", side, "0.01", price)
    sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000")
    before = bybit_sides(sim)
    linear_buys = before[("linear", "BTCUSDT", "Buy")]
    assert len(linear_buys) >= 2

    # BTCUSDT names a linear contract and a spot pair: the trader must say which
    ambiguous = await blotter(home, "cancel", "--account", "byb", "--symbol", "btcusdt",
                              "--side", "buy", "--yes")
    assert ambiguous.code == 2, ambiguous.err
    assert "'btcusdt' names 2 instruments on byb: BTCUSDT Linear: " in ambiguous.err
    assert "BTCUSDT Spot: " in ambiguous.err
    assert "say which with --category linear or --category spot" in ambiguous.err
    assert bybit_sides(sim) == before

    run = await blotter(home, "cancel", "--account", "byb", "--symbol", "btcusdt", "--category",
                        "LINEAR", "--side", "buy", "--yes", "--json")
    assert run.code == 0, run.err
    assert {(r["order_id"], r["outcome"]) for r in run.json_lines()} == {
        (i, "cancelled") for i in linear_buys
    }
    assert f"Cancelled {len(linear_buys)} of {len(linear_buys)} (buys of BTCUSDT Linear on byb)" \
        in run.err
    after = bybit_sides(sim)
    assert ("linear", "BTCUSDT", "Buy") not in after
    assert after == {k: v for k, v in before.items() if k != ("linear", "BTCUSDT", "Buy")}


async def test_cancel_by_the_brokers_market_id_or_its_shown_name(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    b2 = venues["b2trader"]
    main = b2.account_ids[0]
    for side, price in (("Buy", "0.93"), ("Sell", "0.96")):
        b2.add_order(main, "cfd.eur_chf", side, "10000", price)
    spot = b2.add_order(main, "spot.eur_chf", "Buy", "100", "0.93")
    cfd = {o["orderId"] for o in b2.open_orders() if o["marketId"] == "cfd.eur_chf"}
    on_main = {o["orderId"] for o in b2.open_orders(main)} & cfd
    others = {o["orderId"] for o in b2.open_orders()} - cfd - {spot}

    # "EUR/CHF" is shown for both markets: ambiguous, and the listing names the market ids
    shown = await blotter(home, "cancel", "--account", "acme/Acme Main", "--symbol", "eur/chf")
    assert shown.code == 2
    assert (f"names 2 instruments on acme/Acme Main: EUR/CHF CFD (cfd.eur_chf): {len(on_main)}, "
            "EUR/CHF Spot (spot.eur_chf): 1") in shown.err
    assert "or the market id" in shown.err

    by_id = await blotter(home, "cancel", "--account", "acme", "--symbol", "CFD.EUR_CHF",
                          "--yes", "--json")
    assert by_id.code == 0, by_id.err
    assert {r["order_id"] for r in by_id.json_lines()} == cfd
    assert {o["orderId"] for o in b2.open_orders()} == others | {spot}

    by_name = await blotter(home, "cancel", "--account", "acme", "--symbol", "EUR/CHF")
    assert by_name.code == 0, by_name.err  # only the spot one is left: no longer ambiguous
    assert by_name.out.split()[:3] == [spot, "acme/Acme", "Main"]
    assert {o["orderId"] for o in b2.open_orders()} == others


async def test_a_scope_that_matches_nothing_cancels_nothing_lists_what_is_open_and_exits_1(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    before = venue_books(venues)
    run = await blotter(home, "cancel", "--account", "byb", "--symbol", "NOPEUSDT")
    assert run.code == 1, run.err
    line = run.out.strip()
    assert line.startswith("Nothing cancelled: no open order matches NOPEUSDT on byb; "
                           "open there: ")
    for o in venues["bybit"].open_orders():
        assert f"{o['symbol']} {o['category'].capitalize()}: " in line
    as_json = await blotter(home, "cancel", "--account", "byb", "--symbol", "NOPEUSDT",
                            "--category", "spot", "--json")
    assert as_json.code == 1 and as_json.out == ""  # no order, no line; the words on stderr
    assert "no open order matches NOPEUSDT Spot on byb" in as_json.err
    assert venue_books(venues) == before
    assert not any(path.endswith(("cancel", "cancel-all", "cancel-batch"))
                   for path in venues["bybit"].rest_calls)


async def test_side_on_a_whole_account_and_on_every_account(
    home: dict[str, str], venues: dict[str, Any]
) -> None:
    configure(home, venues)
    bfx = venues["bitfinex"]
    bfx.place_order("tBTCUSD", "-0.5", "150000")  # a sell, whatever the seed made
    sells = {str(a[0]) for a in bfx.open_orders() if a[7] < 0}
    buys = {str(a[0]) for a in bfx.open_orders()} - sells
    run = await blotter(home, "cancel", "--account", "bfx", "--all", "--side", "sell", "--yes")
    assert run.code == 0, run.err
    assert run.out.splitlines()[-1] == (
        f"Cancelled {len(sells)} of {len(sells)} (all sells on bfx).")
    assert {str(a[0]) for a in bfx.open_orders()} == buys

    none_left = await blotter(home, "cancel", "--account", "bfx", "--all", "--side", "sell")
    assert none_left.code == 1
    assert "Nothing cancelled: no open order matches all sells on bfx; open there: " \
        in none_left.out

    def book_sides() -> dict[str, set[str]]:
        sides: dict[str, set[str]] = {"buy": set(), "sell": set()}
        for a in bfx.open_orders():
            sides["sell" if a[7] < 0 else "buy"].add(str(a[0]))
        for o in venues["bybit"].open_orders():
            sides[o["side"].lower()].add(o["orderId"])
        for o in venues["b2trader"].open_orders():
            sides[o["side"].lower()].add(o["orderId"])
        return sides

    before = book_sides()
    assert before["buy"] and before["sell"]
    everywhere = await blotter(home, "cancel", "--all-accounts", "--side", "buy", "--yes",
                               "--json")
    assert everywhere.code == 0, everywhere.err
    assert {r["order_id"] for r in everywhere.json_lines()} == before["buy"]
    assert book_sides() == {"buy": set(), "sell": before["sell"]}


async def test_an_outside_user_with_python_m_blotter_sim_and_the_command_line(
    home: dict[str, str],
) -> None:
    """As someone outside the project would: the simulators in a process of their own, the
    accounts added with ``blotter accounts add``, and only the command line to see and cancel."""
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blotter.sim", "--venue", "bybit", "--venue", "b2trader",
        "--orders", "40", "--rate", "0", "--seed", "3", cwd=ROOT, env=home,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert sim.stdout is not None
        described = [json.loads(await asyncio.wait_for(sim.stdout.readline(), 15))
                     for _ in range(2)]
        for venue in described:
            name = NAMES[venue["venue"]]
            stdin = "".join(f"{value}\n" for value in venue["credentials"].values())
            added = await blotter(home, "accounts", "add", name, "--venue", venue["venue"],
                                  "--rest-url", venue["rest_url"], "--ws-url", venue["ws_url"],
                                  stdin=stdin)
            assert added.code == 0, added.err

        async def open_orders() -> list[dict[str, Any]]:
            run = await blotter(home, "orders", "--json")
            assert run.code == 0, run.err
            return run.json_lines()

        before = await open_orders()
        # the broker's own market id, as `blotter orders --json` shows it
        market = next(r for r in before if r["instrument_id"])
        wanted = {r["order_id"] for r in before if r["instrument_id"] == market["instrument_id"]
                  and r["side"] == market["side"]}
        by_id = await blotter(home, "cancel", "--account", "acme", "--symbol",
                              market["instrument_id"], "--side", market["side"], "--yes",
                              "--json")
        assert by_id.code == 0, by_id.err
        assert {(r["order_id"], r["outcome"]) for r in by_id.json_lines()} == {
            (i, "cancelled") for i in wanted
        }
        # a Bybit symbol by its shown name, in lower case, with its category
        bybit = next(r for r in before if r["venue"] == "bybit")
        named = {r["order_id"] for r in before if r["venue"] == "bybit"
                 and (r["symbol"], r["category"]) == (bybit["symbol"], bybit["category"])}
        by_name = await blotter(home, "cancel", "--account", "byb", "--symbol",
                                bybit["symbol"].lower(), "--category", bybit["category"],
                                "--yes", "--json")
        assert by_name.code == 0, by_name.err
        assert {r["order_id"] for r in by_name.json_lines()} == named
        after = await open_orders()
        assert {r["order_id"] for r in after} == {r["order_id"] for r in before} - wanted - named
    finally:
        if sim.returncode is None:
            sim.terminate()
        await asyncio.wait_for(sim.wait(), 15)


async def test_cancel_usage_errors_say_what_to_give_instead(home: dict[str, str]) -> None:
    save_config(home["BLOTTER_CONFIG"], Config((make_account("bfx", "bitfinex"),)))
    cases = {
        ("--account", "bfx", "--side", "buy"): "--side buy narrows a scope to one side: add "
                                               "--symbol SYMBOL or --all",
        ("--account", "bfx", "--id", "1", "--side", "sell"): "--side goes with --symbol, --all "
                                                             "or --all-accounts, not --id",
        ("--account", "bfx", "--all", "--category", "linear"): "--category goes with --symbol",
        ("--all-accounts", "--side", "buy"): "--all-accounts cancels every buy order on every "
                                             "account: add --yes",
        ("--account", "bfx", "--all", "--side", "up"): "invalid choice: 'up'",
    }
    for args, words in cases.items():
        run = await blotter(home, "cancel", *args)
        assert run.code == 2, (args, run.err)
        assert words in run.err, (args, run.err)


# ---------------------------------------------------------------------------------------------
# demo, interrupt, output forms


async def test_demo_orders_json_runs_on_its_own_simulators(home: dict[str, str]) -> None:
    run = await blotter(home, "orders", "--json", "--demo")
    assert run.code == 0, run.err
    records = run.json_lines()
    assert {r["venue"] for r in records} == {"bitfinex", "bybit", "b2trader"}
    assert {r["account"].partition("/")[0] for r in records} == {"bfx-demo", "bybit-demo", "acme"}
    assert all(list(r) == ORDER_FIELDS for r in records)
    listing = await blotter(home, "--demo", "accounts", "list")
    assert listing.code == 0 and "bfx-demo" in listing.out and "demo" in listing.out
    assert not Path(home["BLOTTER_CONFIG"]).exists()  # demo mode never writes the config


async def test_ctrl_c_while_connecting_exits_130_cleanly(home: dict[str, str]) -> None:
    port = free_port()
    save_config(home["BLOTTER_CONFIG"], Config((make_account(
        "gone", "bybit", rest_url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}/v5/private"),)))
    keyring_backend.write_entries(home[keyring_backend.PATH_ENV], {"blotter": {
        "gone/api_key": "k-123456", "gone/api_secret": "s-123456"}})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blotter", "orders", "--verbose", "--timeout", "60", cwd=ROOT,
        env=home, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # a test run started in the background ignores SIGINT, and children inherit that
        preexec_fn=_default_sigint,
    )
    assert proc.stderr is not None
    seen = b""
    try:
        async with asyncio.timeout(15):
            while b"reconnecting" not in seen:  # it is in the connect wait
                line = await proc.stderr.readline()
                assert line, seen.decode()
                seen += line
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130
    assert "blotter: interrupted" in err.decode()
    assert "Traceback" not in (seen + err).decode()


def test_decimals_and_times_are_printed_exactly() -> None:
    assert iso_ms(1795236038172) == "2026-11-21T04:40:38.172Z"
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(None) is None
    assert decimal_text(Decimal("1E-7")) == "0.0000001"
    assert decimal_text(Decimal("0.0000")) == "0"
    assert decimal_text(Decimal("96433.10")) == "96433.10"
    assert decimal_text(None) is None


# -- journal -----------------------------------------------------------------------------------
def test_journal_prints_one_line_per_record_filtered_by_kind_and_refuses_a_bad_since(
    tmp_path, monkeypatch, capsys
):
    from blotter import cli
    from blotter.journal import Journal

    monkeypatch.setenv("BLOTTER_STATE_DIR", str(tmp_path))
    journal = Journal(tmp_path / "journal")
    journal.record({"ts": 1_796_475_600_000, "kind": "state", "venue": "bybit",
                    "account": "bb", "state": "stale", "reason": "no pong in 20 s"})
    journal.record({"ts": 1_796_475_600_500, "kind": "outcome", "action": "a1",
                    "venue": "bybit", "account": "bb", "order": "x1", "outcome": "cancelled",
                    "text": ""})
    journal.close()
    assert cli.main(["journal", "--kind", "state"]) == 0
    assert capsys.readouterr().out == (
        "2026-12-05T13:00:00.000Z state   bybit:bb stale: no pong in 20 s\n")
    assert cli.main(["journal", "--order", "x1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "cancelled"
    assert cli.main(["journal", "--since", "yesterday"]) == 2
    assert "--since takes" in capsys.readouterr().err
    assert cli.main(["journal", "--kind", "bogus"]) == 2
