"""The trader's accounts while the window runs: the accounts file, the keyring and the engine's
clients kept in step. Adding an account connects it, removing it disconnects it, both without a
restart; "Test connection" signs in with what was typed and reports the venue's answer.

No Qt here: the accounts dialog drives it, and tests drive it directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blotter import config as cfg
from blotter import secrets
from blotter.accounts import account_key, make_client
from blotter.config import AccountConfig, Config, ConfigError
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.options import OptionField
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.venues.registry import SPECS

if TYPE_CHECKING:
    from blotter.venues.base import VenueClient

log = logging.getLogger("blotter.accounts")

TEST_TIMEOUT = 15.0  # s: how long "Test connection" waits for the venue's answer

ACCOUNT_ERRORS: tuple[type[Exception], ...] = (ConfigError, secrets.SecretsError, ValueError)
"""What the account form shows when an account cannot be made, kept or signed in with: the
field that is wrong (``ConfigError``), a missing key or a keyring that said no
(``SecretsError``), a URL the client refuses (``ValueError``). ``str()`` is the message."""


@dataclass(frozen=True, slots=True)
class VenueForm:
    """What the account form needs to know of a venue: how to name it, its environments and
    their default URLs, the keys it asks for, and its options with their defaults."""

    venue: str
    title: str
    envs: tuple[str, ...]
    default_urls: Mapping[str, tuple[str, str]]
    rest_example: str
    ws_example: str
    secret_fields: tuple[str, ...]
    options: tuple[OptionField, ...]
    defaults: Mapping[str, Any]


def venue_forms() -> tuple[VenueForm, ...]:
    """Every venue the account form offers, in the registry's order."""
    forms = []
    for spec in SPECS.values():
        defaults = spec.options_type()
        forms.append(VenueForm(
            spec.name, spec.form_title, spec.envs, spec.default_urls, spec.rest_example,
            spec.ws_example, spec.secret_fields, spec.option_fields,
            {f.name: getattr(defaults, f.name) for f in spec.option_fields},
        ))
    return tuple(forms)


class AccountManager:
    def __init__(
        self,
        engine: Engine,
        path: str | os.PathLike[str],
        *,
        nonce_dir: str | os.PathLike[str] | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.path = Path(path)
        self.config = Config()
        self.nonce_dir = nonce_dir
        self.client_options = dict(client_options or {})
        self.error: str | None = None  # why the file could not be read, if it could not
        self._listeners: list[Callable[[], None]] = []

    # -- the file -----------------------------------------------------------------------------
    def load(self) -> Config:
        """Read the accounts file (a missing file is no accounts); ConfigError propagates."""
        self.config = cfg.load_config(self.path)
        self.error = None
        return self.config

    @property
    def where(self) -> str:
        """The accounts file as the trader would type its path (``~/.config/...``)."""
        return cfg.display_path(self.path)

    @staticmethod
    def venue_forms() -> tuple[VenueForm, ...]:
        """Every venue the account form offers, in the registry's order."""
        return venue_forms()

    @staticmethod
    def make_account(
        name: str, venue: str, env: str, rest_url: str | None, ws_url: str | None,
        options: Mapping[str, Any],
    ) -> AccountConfig:
        """An account from what the form holds (URLs None: the venue's defaults);
        ``ConfigError`` names the field that is wrong."""
        return cfg.make_account(name, venue, env=env, rest_url=rest_url, ws_url=ws_url,
                                **options)

    @staticmethod
    def stored_credentials(account: AccountConfig) -> dict[str, str]:
        """The account's keys from the keyring; ``SecretsError`` says what is missing."""
        return secrets.load_credentials(account)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # a listener's bug must not undo the change
                log.exception("an accounts listener failed")

    # -- connecting ---------------------------------------------------------------------------
    def connect_all(self) -> None:
        for account in self.config:
            self.connect(account)

    def connect(self, account: AccountConfig) -> VenueClient | None:
        """Start the account's client; a missing secret or keyring shows as a failed account."""
        key = account_key(account)
        try:
            credentials = secrets.load_credentials(account)
            client = make_client(
                account, credentials, store=self.engine.store, notices=self.engine.notices,
                states=self.engine.states, nonce_dir=self.nonce_dir, **self.client_options,
            )
        except (secrets.SecretsError, ValueError, ConfigError) as exc:
            text = str(exc)
            self.engine.states.publish(
                AccountState(key.venue, key.account, VenueState.FAILED, text)
            )
            self.engine.notices.publish(
                Notice(key.venue, key.account, Level.ERROR, f"Not connected: {text}")
            )
            return None
        self.engine.add_client(client)
        return client

    async def disconnect(self, name: str) -> None:
        account = self.config.find(name)
        if account is None:
            return
        key = account_key(account)
        await self.engine.remove_client(key)

    # -- changes from the dialog --------------------------------------------------------------
    async def add(self, account: AccountConfig, credentials: Mapping[str, str]) -> None:
        """Keep the secrets, write the file, connect. Secrets first: a keyring that fails
        leaves no half-made account in the file (``SecretsError`` says why)."""
        config = cfg.add_account(self.config, account)
        self._store_secrets(account, credentials)
        cfg.save_config(self.path, config)
        self.config = config
        self.connect(account)
        self._changed()

    async def update(
        self, old_name: str, account: AccountConfig, credentials: Mapping[str, str] | None
    ) -> None:
        """Change an account (its name too); ``credentials`` None keeps the stored secrets."""
        old = self.config.get(old_name)
        if credentials is None:
            if old.venue != account.venue:
                raise ConfigError("a new venue needs its own keys", field="venue")
            credentials = self.stored_credentials(old)
        renamed = old.name.casefold() != account.name.casefold()
        # same place in the file; Config checks the new name is free
        config = Config(tuple(account if a is old else a for a in self.config.accounts))
        self._store_secrets(account, credentials)
        cfg.save_config(self.path, config)
        await self.disconnect(old.name)
        if renamed or old.venue != account.venue:
            secrets.delete_secrets(old.name, old.venue)
        self.config = config
        self.connect(account)
        self._changed()

    async def remove(self, name: str) -> None:
        account = self.config.get(name)
        config = cfg.remove_account(self.config, name)
        cfg.save_config(self.path, config)
        await self.disconnect(account.name)
        self.config = config
        try:
            secrets.delete_secrets(account.name, account.venue)
        except secrets.SecretsError as exc:
            self.engine.notices.publish(Notice(
                "blotter", "", Level.WARNING,
                f"{account.name} removed, but its keys could not be deleted from the keyring: "
                f"{exc}",
            ))
        self._changed()

    def keys_status(self, account: AccountConfig) -> str:
        """"in keyring", "missing" (naming the fields) or "keyring unavailable"."""
        try:
            missing = [f for f in account.secret_fields
                       if not secrets.load_secret(account.name, f)]
        except secrets.SecretsError:
            return "keyring unavailable"
        return f"missing {', '.join(missing)}" if missing else "in keyring"

    def _store_secrets(self, account: AccountConfig, credentials: Mapping[str, str]) -> None:
        for field in account.secret_fields:
            value = credentials.get(field, "")
            if not value:
                raise ConfigError(f"the {field} is required", field=field)
            secrets.store_secret(account.name, field, value)

    # -- test connection ----------------------------------------------------------------------
    async def test_connection(
        self, account: AccountConfig, credentials: Mapping[str, str]
    ) -> tuple[bool, str]:
        """Sign in with ``credentials`` on a private store and report the venue's answer, e.g.
        (False, "apikey: invalid") or (True, "Signed in: 12 open orders")."""
        for field in account.secret_fields:
            if not credentials.get(field):
                return False, f"Enter the {field} first"
        store, notices, states = OrderStore(), NoticeBus(), StateBus()
        words: list[str] = []
        notices.subscribe(lambda n: words.append(n.line()) if n.level is Level.ERROR else None)
        outcome: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()

        def on_state(state: AccountState) -> None:
            if outcome.done():
                return
            if state.state is VenueState.LIVE:
                count = len(store)
                noun = "open order" if count == 1 else "open orders"
                outcome.set_result((True, f"Signed in: {count} {noun}"))
            elif state.state is VenueState.FAILED:
                outcome.set_result((False, state.reason or "refused"))

        states.subscribe(on_state)
        try:
            client = make_client(
                account, credentials, store=store, notices=notices, states=states,
                nonce_dir=self.nonce_dir, **self.client_options,
            )
        except (ValueError, ConfigError) as exc:
            return False, str(exc)
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            # a venue that can say "no" sooner over REST (Bybit 10003) says it here
            async with asyncio.timeout(TEST_TIMEOUT):
                verdict = await client.probe()
            if verdict is not None and not outcome.done():
                outcome.set_result((False, verdict))
            return await asyncio.wait_for(asyncio.shield(outcome), TEST_TIMEOUT)
        except TimeoutError:
            said = words[-1] if words else "no answer"
            return False, f"No answer within {TEST_TIMEOUT:g} s ({said})"
        finally:
            await client.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)



__all__ = [
    "ACCOUNT_ERRORS",
    "AccountConfig",
    "AccountManager",
    "VenueForm",
    "venue_forms",
]
