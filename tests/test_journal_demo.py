"""The journal of a real session: the demo venues and the real clients, cancels of several
scopes and a few faults. Each cancelled order's story reads in order (action, request, the
venue's reply, the outcome, the close) under one action id, the command line prints it, and no
key, secret, token, signature or nonce the simulators received is in the journal, the log file
or the saved orders."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from blotter import cli, logs
from blotter.core.cancel import CancelScope
from blotter.core.notices import NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Side
from blotter.core.store import OrderStore
from blotter.demo import Demo
from blotter.engine import Engine
from blotter.journal import Journal, attach
from blotter.journal_read import read_journal
from blotter.saved_orders import OrderSaver
from blotter.sim.b2trader.server import B2traderSimulator
from blotter.sim.bitfinex import rest as bfx_rest
from blotter.sim.bitfinex import stream as bfx_stream
from blotter.sim.bybit import rest as bybit_rest
from blotter.sim.bybit import stream as bybit_stream
from tests.helpers import until


class Received:
    """What the simulators were sent that must stay secret: signatures, nonces, tokens."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def keep(self, value: Any) -> None:
        if isinstance(value, (str, int)) and len(str(value)) >= 8:
            self.values.add(str(value))


@pytest.fixture
def received(monkeypatch) -> Received:
    """Every signature and nonce the simulators check, and every access token they issue,
    kept as the simulator saw it (the simulators themselves still check them)."""
    got = Received()

    def watch_signature(module: Any) -> None:
        real = module.signature_ok

        def signature_ok(secret: Any, message: Any, signature: Any) -> bool:
            got.keep(signature)
            return bool(real(secret, message, signature))

        monkeypatch.setattr(module, "signature_ok", signature_ok)

    def watch_nonce(module: Any) -> None:
        real = module.parse_nonce

        def parse_nonce(text: Any) -> Any:
            got.keep(text)
            return real(text)

        monkeypatch.setattr(module, "parse_nonce", parse_nonce)

    for module in (bfx_rest, bfx_stream, bybit_rest, bybit_stream):
        watch_signature(module)
    for module in (bfx_rest, bfx_stream):
        watch_nonce(module)
    real_issue = B2traderSimulator.issue_token

    def issue_token(self: B2traderSimulator, lifetime: float | None = None) -> str:
        token = real_issue(self, lifetime)
        got.keep(token)
        return token

    monkeypatch.setattr(B2traderSimulator, "issue_token", issue_token)
    return got


@pytest.fixture
def log_file(tmp_path, monkeypatch) -> Any:
    """The real log file setup, in a directory of the test's own (restored after)."""
    monkeypatch.setenv(logs.LOG_ENV_VAR, str(tmp_path / "log"))
    root = logging.getLogger()
    level = root.level
    path = logs.setup_logging(verbose=False)
    yield path
    for handler in list(root.handlers):
        if getattr(handler, "_blotter", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture
async def session(tmp_path, received) -> AsyncIterator[tuple[Engine, Demo, Journal]]:
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    engine = Engine(store, notices, states)
    journal = Journal(tmp_path / "journal")
    attach(journal, engine)
    demo = Demo(engine)
    try:
        await asyncio.wait_for(demo.start(), 20)
        for sim in demo.sims.values():
            sim.stop_flow()  # nothing moves under the test but what it does
        await until(lambda: len(states.current) >= 3 and all(
            s.state is VenueState.LIVE for s in states.current.values()), timeout=20)
        await until(lambda: len(store) > 0, timeout=20)
        store.flush()  # what the window's table does on its timer: orders seen
        yield engine, demo, journal
    finally:
        await asyncio.wait_for(engine.stop(), 20)
        await asyncio.wait_for(demo.stop(), 20)
        journal.close()


def fault(demo: Demo, section: str, title: str) -> Any:
    items = dict(demo.fault_menu(lambda text: None))[section]
    return next(act for name, _, act, _ in items if name == title)


async def run_fault(demo: Demo, section: str, title: str) -> None:
    said = fault(demo, section, title)()
    if asyncio.iscoroutine(said):
        await asyncio.wait_for(said, 10)


def story(directory: Path, order_id: str) -> list[dict[str, Any]]:
    return list(read_journal(directory, order=order_id))


async def test_cancels_of_every_scope_tell_each_orders_story_and_no_secret_is_written(
    session, received, log_file, tmp_path, capsys, monkeypatch
):
    engine, demo, journal = session
    store = engine.store
    saver = OrderSaver(store, tmp_path / "state" / "orders.json", engine.clock)

    # one order, then a side of one instrument, then a whole account, with faults between
    first = next(iter(store))
    await asyncio.wait_for(engine.cancel(CancelScope.order(first.key)), 30)
    await run_fault(demo, "Bybit", "Rate limit (10006)")
    bybit = next(o for o in store if o.venue == "bybit")
    await asyncio.wait_for(engine.cancel(
        CancelScope.for_instrument(bybit, Side(bybit.side.value))), 30)
    await run_fault(demo, "Acme", "Expire the access token")
    acme = next(o for o in store if o.venue == "b2trader")
    await asyncio.wait_for(engine.cancel(CancelScope.for_account(acme.account_key)), 30)
    await run_fault(demo, "Bitfinex", "Drop the connection")
    await until(lambda: engine.states.current[AccountKey("bitfinex", demo.accounts[0][0].name)]
                .state is VenueState.LIVE, timeout=20)
    store.flush()
    left = list(store)
    assert left, "the demo keeps orders for Cancel All"
    target = next(o for o in left if o.venue == "bitfinex")
    results = await asyncio.wait_for(
        engine.cancel(CancelScope.everything(), origin="command line"), 30)
    assert any(target.key in r.outcomes for r in results)
    saver.changed()
    await saver.close()
    journal.close()
    directory = tmp_path / "journal"

    # the order Cancel All took tells its story in order, under one action id
    told = story(directory, target.order_id)
    kinds = [r["kind"] for r in told]
    assert kinds[0] == "order" and told[0]["first"] is True
    at = kinds.index("action")
    action = told[at]
    everything = CancelScope.everything().describe()  # "all orders on every account"
    assert (action["what"], action["from"]) == (everything, "command line")
    assert action["count"] >= len(left)
    after = told[at:]
    assert [r["kind"] for r in after if r["kind"] != "notice"][:1] == ["action"]
    order_kinds = [r["kind"] for r in after if r["kind"] in ("request", "reply", "outcome")]
    assert order_kinds[0] == "request" and "outcome" in order_kinds
    assert all(r.get("action") == action["action"]
               for r in after if r["kind"] in ("request", "reply", "outcome"))
    assert "reply" in order_kinds  # the venue's answer to the request that named it
    assert order_kinds.index("request") < order_kinds.index("reply")
    outcome = next(r for r in after if r["kind"] == "outcome")
    assert outcome["outcome"] == "cancelled"
    close = next(r for r in told if r["kind"] == "close")
    assert close["reason"] == "cancelled by you" and close["detail"] == everything
    receipts = [r for r in read_journal(directory, kinds=("notice",)) if r.get("receipt")]
    assert action["action"] in {r.get("action") for r in receipts}
    # every action of the session is there, from the window unless said otherwise
    actions = list(read_journal(directory, kinds=("action",)))
    assert [a["scope"] for a in actions] == ["order", "symbol", "account", "all"]
    assert [a["from"] for a in actions] == ["window"] * 3 + ["command line"]
    assert {"state", "audit", "notice", "close"} <= {
        r["kind"] for r in read_journal(directory)}

    # the command line prints the same story, one line per record
    monkeypatch.setenv("BLOTTER_STATE_DIR", str(tmp_path))
    assert cli.main(["journal", "--order", target.order_id]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(told)
    assert " action " in printed[at] and everything in printed[at]
    assert cli.main(["journal", "--order", target.order_id, "--json"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == told

    # no secret anywhere it wrote
    secrets = {v for _, credentials in demo.accounts for v in credentials.values()}
    assert secrets and received.values
    assert any(len(v) > 100 for v in received.values), "an access token was issued"
    # an export (the orders this run saw, as `blotter orders --csv` writes them) and the
    # window's settings file with the preferences saved
    import contextlib
    import io

    from PySide6.QtCore import QSettings

    from blotter.ui.preferences import AlertPreferences, CancelPreferences

    exported = io.StringIO()
    with contextlib.redirect_stdout(exported):
        cli._write_csv([c.order for c in store.closed])
    (tmp_path / "export.csv").write_text(exported.getvalue(), "utf-8")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    CancelPreferences(3, True).save(settings)
    AlertPreferences().save(settings)
    settings.sync()
    written = {p: p.read_text("utf-8") for p in (
        *directory.glob("*.jsonl"), log_file, tmp_path / "state" / "orders.json",
        tmp_path / "export.csv", tmp_path / "settings.ini")}
    assert all(written.values())
    for path, text in written.items():
        for value in secrets | received.values:
            assert value not in text, f"{path.name} holds a secret or signature"
