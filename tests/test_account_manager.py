"""AccountManager: the accounts file, the keyring and the running clients kept in step, against
real simulators over loopback and an in-memory keyring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import keyring
import pytest

from blotter import config as cfg
from blotter import secrets
from blotter.account_manager import AccountManager
from blotter.core.notices import NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.sim import B2traderSimulator, BitfinexSimulator, BybitSimulator
from blotter.venues.base import Backoff
from tests.helpers import until
from tests.test_secrets import MemoryKeyring

FAST = {"backoff": Backoff(base=0.05, factor=2.0, cap=0.3)}


@pytest.fixture
def memory(memory_keyring: MemoryKeyring) -> MemoryKeyring:
    return memory_keyring


@pytest.fixture
async def manager(tmp_path: Path, memory: MemoryKeyring) -> Any:
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    mgr = AccountManager(engine, tmp_path / "config.toml", nonce_dir=tmp_path / "nonces",
                         client_options=FAST)
    mgr.load()
    try:
        yield mgr
    finally:
        await asyncio.wait_for(engine.stop(), 10)


async def started(sim: Any) -> Any:
    await asyncio.wait_for(sim.start(), 10)
    return sim


def account_for(name: str, sim: Any) -> cfg.AccountConfig:
    extra = {"display_name": "Acme"} if sim.VENUE == "b2trader" else {}
    return cfg.make_account(name, sim.VENUE, rest_url=sim.rest_url, ws_url=sim.ws_url, **extra)


@pytest.mark.parametrize("sim_class", [BitfinexSimulator, BybitSimulator, B2traderSimulator])
async def test_add_connects_without_a_restart_and_remove_disconnects(
    manager: AccountManager, memory: MemoryKeyring, tmp_path: Path, sim_class: type
) -> None:
    sim = await started(sim_class(seed=2, initial_orders=5))
    try:
        account = account_for("main", sim)
        await manager.add(account, sim.credentials)
        engine = manager.engine
        await until(lambda: len(engine.store) == 5, timeout=10)
        key = AccountKey(sim.VENUE, "main")
        assert engine.client_for(key) is not None
        text = (tmp_path / "config.toml").read_text()
        assert 'name = "main"' in text
        for secret in sim.credentials.values():
            assert secret not in text  # the file never holds a secret
            assert secret in memory.entries.values()  # the keyring does

        await manager.remove("main")
        assert engine.client_for(key) is None
        assert len(engine.store) == 0
        assert key not in engine.states.current  # the indicator goes too
        assert memory.entries == {}
        assert cfg.load_config(tmp_path / "config.toml").names == ()
    finally:
        await sim.stop()


async def test_the_window_picks_up_the_same_accounts_from_the_file(
    manager: AccountManager, tmp_path: Path
) -> None:
    sim = await started(BybitSimulator(seed=4, initial_orders=3))
    try:
        await manager.add(account_for("by", sim), sim.credentials)
        await until(lambda: len(manager.engine.store) == 3, timeout=10)
        # a second blotter (the next launch) reads the file and the keyring
        engine = Engine(OrderStore(), NoticeBus(), StateBus())
        again = AccountManager(engine, tmp_path / "config.toml", client_options=FAST)
        again.load()
        again.connect_all()
        try:
            await until(lambda: len(engine.store) == 3, timeout=10)
        finally:
            await engine.stop()
    finally:
        await sim.stop()


async def test_a_missing_secret_shows_as_a_failed_account(
    manager: AccountManager, memory: MemoryKeyring, tmp_path: Path
) -> None:
    account = cfg.make_account("gone", "bybit", env="testnet")
    cfg.save_config(tmp_path / "config.toml", cfg.Config((account,)))
    manager.load()
    manager.connect_all()
    state = manager.engine.states.current[AccountKey("bybit", "gone")]
    assert state.state is VenueState.FAILED
    assert "api_key" in state.reason and "blotter accounts add" in state.reason


@pytest.mark.parametrize(
    ("sim_class", "bad", "expected"),
    [
        (BitfinexSimulator, {"api_key": "wrong-key", "api_secret": "wrong-secret"},
         "apikey: invalid"),
        (BybitSimulator, {"api_key": "wrongkey", "api_secret": "wrongsecret"},
         "10003: API key is invalid."),
        (B2traderSimulator, {"api_token": "wrong-token"}, "(HTTP 401)"),
    ],
)
async def test_test_connection_reports_the_venues_answer(
    manager: AccountManager, sim_class: type, bad: dict[str, str], expected: str
) -> None:
    sim = await started(sim_class(seed=3, initial_orders=2))
    try:
        account = account_for("probe", sim)
        ok, text = await asyncio.wait_for(manager.test_connection(account, bad), 20)
        assert not ok and expected in text, text
        for value in bad.values():
            assert value not in text
        ok, text = await asyncio.wait_for(manager.test_connection(account, sim.credentials), 20)
        assert ok and text == "Signed in: 2 open orders", text
        assert manager.engine.clients == {}  # a test connects nothing for good
    finally:
        await sim.stop()


async def test_a_keyring_that_fails_leaves_no_half_account(
    manager: AccountManager, tmp_path: Path
) -> None:
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    account = cfg.make_account("k", "bybit", env="testnet")
    with pytest.raises(secrets.KeyringUnavailable):
        await manager.add(account, {"api_key": "abcdefgh", "api_secret": "ijklmnopq"})
    assert not (tmp_path / "config.toml").exists()
    assert manager.config.names == ()
