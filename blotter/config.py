"""The accounts file (TOML): load, validate, save. It never holds a secret (design.md §6).

```toml
[[accounts]]
name = "bfx-main"        # unique; no "/" (B2TRADER rows read "<name>/<trading account>")
venue = "bitfinex"       # bitfinex | bybit | b2trader
env = "live"             # picks the default URLs; see ENVS
# rest_url / ws_url override the defaults (both required for b2trader)
```

Every error names the file, the line and the field, so a trader can fix the file by hand. Secrets
live in the OS keyring (``blotter.secrets``); a secret-looking key in this file is an error, and its
value is never repeated in the message.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlsplit

from blotter.venues.net import is_loopback

_T = TypeVar("_T")

VENUES: Final = ("bitfinex", "bybit", "b2trader")
DEFAULT_ENV: Final = "live"
# bitfinex "paper" is a paper-trading sub-account on the production hosts (bitfinex.md §6.4);
# b2trader "demo" is only a label (a broker's demo server has its own host, given by the URLs).
ENVS: Final[Mapping[str, tuple[str, ...]]] = {
    "bitfinex": ("live", "paper"),
    "bybit": ("live", "testnet", "demo"),
    "b2trader": ("live", "demo"),
}
# (venue, env) → (rest origin, websocket endpoint). bitfinex.md §1.1, §5 and §6.4;
# bybit.md §0 (REST and private WS rows). B2TRADER has no default host: every broker has its own.
DEFAULT_URLS: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
    ("bitfinex", "live"): ("https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2"),
    ("bitfinex", "paper"): ("https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2"),
    ("bybit", "live"): ("https://api.bybit.com", "wss://stream.bybit.com/v5/private"),
    ("bybit", "testnet"): (
        "https://api-testnet.bybit.com", "wss://stream-testnet.bybit.com/v5/private"
    ),
    ("bybit", "demo"): ("https://api-demo.bybit.com", "wss://stream-demo.bybit.com/v5/private"),
}
B2TRADER_WS_PATH: Final = "/frontoffice/ws/v4/account"

BYBIT_CATEGORIES: Final = ("spot", "linear", "inverse", "option")  # = bybit codec.CATEGORIES
BYBIT_SETTLE_COINS: Final = ("USDT", "USDC")  # linear settle coins queried by default (§3.1)
BYBIT_RECV_WINDOW: Final = 5000  # ms, bybit.md §1.1 default
# The notes give no upper bound (§1.3 recommends 5000-10000); a minute is a sanity limit, since a
# larger window only widens the replay window of a signed request.
BYBIT_RECV_WINDOW_MAX: Final = 60_000
B2TRADER_STREAMS: Final = ("snapshot", "delta")  # b2trader.md §3.7

SECRET_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "bitfinex": ("api_key", "api_secret"),
    "bybit": ("api_key", "api_secret"),
    "b2trader": ("api_token",),
}

NAME_MAX_LEN: Final = 64
CONFIG_ENV_VAR: Final = "BLOTTER_CONFIG"
CONFIG_FILE_NAME: Final = "config.toml"

# Keys that look like a secret, after lower-casing and turning "-" into "_".
_SECRET_WORDS: Final = ("secret", "password", "passwd", "passphrase", "token", "private_key")
_SECRET_KEYS: Final = frozenset({"api_key", "apikey", "key", "sign", "signature", "auth"})

_COMMON_KEYS: Final = ("name", "venue", "env", "rest_url", "ws_url")
_VENUE_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "bitfinex": ("dead_man_switch",),
    "bybit": ("categories", "settle_coins", "recv_window"),
    "b2trader": ("trading_accounts", "stream", "display_name"),
}


class ConfigError(Exception):
    """A problem with the accounts file or an account; ``str()`` is the whole, readable message.

    ``path``, ``line`` and ``field`` (e.g. ``accounts[1].env``) say where, when known; ``reason``
    is the message without the location.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self._text())

    def _text(self) -> str:
        where = []
        if self.path is not None:
            where.append(display_path(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
        head = ", ".join(where)
        body = f"{self.field}: {self.reason}" if self.field else self.reason
        return f"{head}: {body}" if head else body

    def located(
        self, path: str | os.PathLike[str] | None, line: int | None, field: str | None
    ) -> ConfigError:
        return ConfigError(self.reason, path=path, line=line, field=field)


# ---------------------------------------------------------------------------------------------
# accounts


@dataclass(frozen=True, slots=True)
class BitfinexOptions:
    # dms: 4 cancels every order of the account whenever the socket drops (bitfinex.md §2.4)
    dead_man_switch: bool = False


@dataclass(frozen=True, slots=True)
class BybitOptions:
    categories: tuple[str, ...] = BYBIT_CATEGORIES
    settle_coins: tuple[str, ...] = BYBIT_SETTLE_COINS  # for category linear
    recv_window: int = BYBIT_RECV_WINDOW  # ms


@dataclass(frozen=True, slots=True)
class B2traderOptions:
    trading_accounts: tuple[str, ...] = ()  # ids or names to show; empty = all of them
    stream: str = "snapshot"  # OpenOrders semantics: snapshot | delta
    display_name: str | None = None  # the broker's name in the table; default the account name


VenueOptions = BitfinexOptions | BybitOptions | B2traderOptions
_OPTION_TYPES: Final[Mapping[str, type[VenueOptions]]] = {
    "bitfinex": BitfinexOptions,
    "bybit": BybitOptions,
    "b2trader": B2traderOptions,
}


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One account, validated; ``rest_url``/``ws_url`` are resolved (override or default).

    Build one with ``make_account`` (which resolves the defaults) or directly with every field;
    either way an invalid account raises ``ConfigError`` naming the field.
    """

    name: str
    venue: str
    env: str
    rest_url: str
    ws_url: str
    options: VenueOptions  # the venue's: BitfinexOptions, BybitOptions or B2traderOptions

    def __post_init__(self) -> None:
        _check_account(self)

    @property
    def display_name(self) -> str:
        """The name shown in the table (B2TRADER: the broker's name, if one is set)."""
        if isinstance(self.options, B2traderOptions) and self.options.display_name:
            return self.options.display_name
        return self.name

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return SECRET_FIELDS[self.venue]

    @property
    def uses_default_urls(self) -> bool:
        return DEFAULT_URLS.get((self.venue, self.env)) == (self.rest_url, self.ws_url)


def default_urls(venue: str, env: str) -> tuple[str, str] | None:
    """The venue's (rest origin, ws endpoint) for ``env``; None where there is no default."""
    return DEFAULT_URLS.get((venue, env))


def make_account(
    name: str,
    venue: str,
    env: str | None = None,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **options: Any,
) -> AccountConfig:
    """An account from what ``blotter accounts add`` (or the dialog) was given.

    Missing URLs take the venue's defaults for ``env`` (default "live"); ``options`` are the
    venue's option fields (lists may be any sequence; None means not given). Raises ``ConfigError`` naming the field.
    """
    table: dict[str, Any] = {"name": name, "venue": venue}
    if env is not None:
        table["env"] = env
    if rest_url is not None:
        table["rest_url"] = rest_url
    if ws_url is not None:
        table["ws_url"] = ws_url
    for key, value in options.items():
        if value is not None:  # not given
            table[key] = list(value) if isinstance(value, tuple) else value
    return _account_from_table(table)


# ---------------------------------------------------------------------------------------------
# the whole file


@dataclass(frozen=True, slots=True)
class Config:
    """The accounts, in file order; names are unique (case-insensitively, as keyrings compare)."""

    accounts: tuple[AccountConfig, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for index, account in enumerate(self.accounts):
            key = account.name.casefold()
            if key in seen:
                raise ConfigError(
                    _duplicate_reason(account.name, seen[key]), field=f"accounts[{index}].name"
                )
            seen[key] = index

    def __iter__(self) -> Iterator[AccountConfig]:
        return iter(self.accounts)

    def __len__(self) -> int:
        return len(self.accounts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts)

    def find(self, name: str) -> AccountConfig | None:
        key = name.casefold()
        return next((a for a in self.accounts if a.name.casefold() == key), None)

    def get(self, name: str) -> AccountConfig:
        """The account called ``name``; ``ConfigError`` listing the known names otherwise."""
        account = self.find(name)
        if account is None:
            raise ConfigError(_unknown_reason(name, self.names))
        return account


def add_account(config: Config, account: AccountConfig) -> Config:
    existing = config.find(account.name)
    if existing is not None:
        raise ConfigError(
            f"an account named {_q(existing.name)} already exists "
            f"(remove it first with: blotter accounts remove {_shell_word(existing.name)})",
            field="name",
        )
    return Config((*config.accounts, account))


def remove_account(config: Config, name: str) -> Config:
    account = config.get(name)
    return Config(tuple(a for a in config.accounts if a is not account))


def replace_account(config: Config, account: AccountConfig) -> Config:
    """The config with the account of the same name swapped for ``account`` (same position)."""
    old = config.get(account.name)
    return Config(tuple(account if a is old else a for a in config.accounts))


def _duplicate_reason(name: str, first: int) -> str:
    return (
        f"{_q(name)} is already the name of accounts[{first}] "
        "(names must be unique, ignoring case)"
    )


def _unknown_reason(name: str, names: Sequence[str]) -> str:
    known = ", ".join(names) if names else "none configured"
    return f"no account named {_q(name)} (accounts: {known})"


# ---------------------------------------------------------------------------------------------
# paths


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("blotter", appauthor=False)) / CONFIG_FILE_NAME


def resolve_config_path(
    cli_path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Path:
    """``--config`` first, then ``BLOTTER_CONFIG``, then the platform's user config dir."""
    if cli_path is not None and os.fspath(cli_path):
        return Path(cli_path).expanduser()
    from_env = (os.environ if env is None else env).get(CONFIG_ENV_VAR, "")
    if from_env:
        return Path(from_env).expanduser()
    return default_config_path()


def display_path(path: str | os.PathLike[str]) -> str:
    """The path as a person would type it: ``~/...`` under the home directory."""
    p = Path(path)
    try:
        home = Path.home()
        return str(Path("~") / p.relative_to(home)) if p.is_absolute() else str(p)
    except (ValueError, RuntimeError):
        return str(p)


# ---------------------------------------------------------------------------------------------
# load


def load_config(path: str | os.PathLike[str]) -> Config:
    """The accounts in ``path``; an empty ``Config`` if the file does not exist."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("the file is not valid UTF-8", path=path, line=line) from None
    return parse_config(text, path)


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse_config(text: str, path: str | os.PathLike[str] | None = None) -> Config:
    """``load_config`` on text already read; ``path`` only names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_WHERE.search(message)
        if where is None:
            raise ConfigError(f"not valid TOML: {message}", path=path) from None
        reason = f"not valid TOML: {message[: where.start()]} (column {where.group(2)})"
        raise ConfigError(reason, path=path, line=int(where.group(1))) from None
    locate = _Locator(text)
    try:
        return _config_from_data(data)
    except ConfigError as exc:
        raise exc.located(path, locate.line(exc.field), exc.field) from None


def _config_from_data(data: Mapping[str, Any]) -> Config:
    for key in data:
        _refuse_secret_key(key, key)
        if key != "accounts":
            raise ConfigError("unknown key (the file holds only [[accounts]] tables)", field=key)
    tables = data.get("accounts", [])
    if not isinstance(tables, list):
        raise ConfigError("must be an array of tables: write each account as [[accounts]]",
                          field="accounts")
    accounts: list[AccountConfig] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        prefix = f"accounts[{index}]"
        if not isinstance(table, dict):
            raise ConfigError(f"must be a table, got {_type_name(table)}", field=prefix)
        try:
            account = _account_from_table(table)
        except ConfigError as exc:
            field = f"{prefix}.{exc.field}" if exc.field else prefix
            raise ConfigError(exc.reason, field=field) from None
        key = account.name.casefold()
        if key in seen:
            raise ConfigError(_duplicate_reason(account.name, seen[key]), field=f"{prefix}.name")
        seen[key] = index
        accounts.append(account)
    return Config(tuple(accounts))


def _account_from_table(table: Mapping[str, Any]) -> AccountConfig:
    for key in table:
        _refuse_secret_key(key, key)
    name = _require(table, "name", str)
    venue = _require(table, "venue", str)
    if venue not in VENUES:
        raise ConfigError(f"{_q(venue)} is not one of {', '.join(VENUES)}", field="venue")
    allowed = (*_COMMON_KEYS, *_VENUE_KEYS[venue])
    for key in table:
        if key not in allowed:
            owner = next((v for v, keys in _VENUE_KEYS.items() if key in keys), None)
            hint = (
                f"{key} is a {owner} option, not a {venue} one" if owner
                else f"known keys for {venue}: {', '.join(allowed)}"
            )
            raise ConfigError(f"unknown key ({hint})", field=key)

    env = _get(table, "env", str)
    env = DEFAULT_ENV if env is None else env
    if env not in ENVS[venue]:
        raise ConfigError(
            f"{_q(env)} is not one of {', '.join(ENVS[venue])} for {venue}", field="env"
        )
    defaults = DEFAULT_URLS.get((venue, env))
    rest_url = _get(table, "rest_url", str)
    ws_url = _get(table, "ws_url", str)
    if defaults is None:
        if rest_url is None:
            raise ConfigError(
                f"required for {venue} (each broker has its own host), "
                "e.g. \"https://broker.example\"",
                field="rest_url",
            )
        if ws_url is None:
            host = urlsplit(rest_url).netloc or "broker.example"
            scheme = "ws" if rest_url.startswith("http://") else "wss"
            raise ConfigError(
                f"required for {venue}: the full hub endpoint, "
                f"e.g. \"{scheme}://{host}{B2TRADER_WS_PATH}\"",
                field="ws_url",
            )
    else:
        rest_url = defaults[0] if rest_url is None else rest_url
        ws_url = defaults[1] if ws_url is None else ws_url

    options: VenueOptions
    if venue == "bitfinex":
        dms = _get(table, "dead_man_switch", bool)
        options = BitfinexOptions(dead_man_switch=bool(dms))
    elif venue == "bybit":
        categories = _get_strings(table, "categories")
        settle = _get_strings(table, "settle_coins")
        recv = _get(table, "recv_window", int)
        options = BybitOptions(
            categories=BYBIT_CATEGORIES if categories is None else categories,
            settle_coins=BYBIT_SETTLE_COINS if settle is None else settle,
            recv_window=BYBIT_RECV_WINDOW if recv is None else recv,
        )
    else:
        trading = _get_strings(table, "trading_accounts")
        stream = _get(table, "stream", str)
        options = B2traderOptions(
            trading_accounts=() if trading is None else trading,
            stream="snapshot" if stream is None else stream,
            display_name=_get(table, "display_name", str),
        )
    return AccountConfig(name, venue, env, rest_url, ws_url, options)


def _refuse_secret_key(key: str, field: str) -> None:
    norm = key.strip().lower().replace("-", "_")
    if norm in _SECRET_KEYS or any(word in norm for word in _SECRET_WORDS):
        raise ConfigError(
            "secrets do not belong in the config file: delete this line (and, if the file was "
            "shared or backed up, revoke the key at the venue); blotter keeps secrets in the OS "
            "keyring and asks for them in \"blotter accounts add NAME --venue VENUE\"",
            field=field,
        )


def _get(
    table: Mapping[str, Any], key: str, kind: type[_T], required: bool = False
) -> _T | None:
    if key not in table:
        if required:
            raise ConfigError("is required", field=key)
        return None
    value = table[key]
    # bool is an int in Python, not in TOML
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(
            f"must be {_kind_name(kind)}, got {_type_name(value)} {_short(value)}", field=key
        )
    return value


def _require(table: Mapping[str, Any], key: str, kind: type[_T]) -> _T:
    value = _get(table, key, kind, required=True)
    assert value is not None
    return value


def _get_strings(table: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list):
        raise ConfigError(
            f"must be an array of strings, got {_type_name(value)} {_short(value)}", field=key
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(
                f"must be a string, got {_type_name(item)} {_short(item)}", field=f"{key}[{index}]"
            )
    return tuple(value)


def _kind_name(kind: type) -> str:
    return {str: "a string", bool: "true or false", int: "an integer"}.get(kind, kind.__name__)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time" if hasattr(value, "isoformat") else type(value).__name__


def _q(value: object) -> str:
    """A value as it would be written in the file: strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _short(value: object) -> str:
    if isinstance(value, (list, dict)):
        return ""
    text = _q(value)
    return f"({text[:40]}…)" if len(text) > 40 else f"({text})"


# ---------------------------------------------------------------------------------------------
# validation of one account (also runs for accounts built in code)


def _check_account(account: AccountConfig) -> None:
    _check_name(account.name, "name")
    if account.venue not in VENUES:
        raise ConfigError(f"{_q(account.venue)} is not one of {', '.join(VENUES)}", field="venue")
    if account.env not in ENVS[account.venue]:
        raise ConfigError(
            f"{_q(account.env)} is not one of {', '.join(ENVS[account.venue])} for {account.venue}",
            field="env",
        )
    _check_rest_url(account.rest_url, account.venue)
    _check_ws_url(account.ws_url, account.venue)
    expected = _OPTION_TYPES[account.venue]
    if not isinstance(account.options, expected):
        raise ConfigError(
            f"{type(account.options).__name__} given for a {account.venue} account "
            f"(needs {expected.__name__})",
            field="options",
        )
    options = account.options
    if isinstance(options, BitfinexOptions):
        if not isinstance(options.dead_man_switch, bool):
            raise ConfigError("must be true or false", field="dead_man_switch")
    elif isinstance(options, BybitOptions):
        _check_choices(options.categories, BYBIT_CATEGORIES, "categories")
        _check_settle_coins(options.settle_coins)
        recv = options.recv_window
        if (
            not isinstance(recv, int) or isinstance(recv, bool)
            or not 1 <= recv <= BYBIT_RECV_WINDOW_MAX
        ):
            raise ConfigError(
                f"{_q(recv)} is not a whole number of milliseconds from 1 to "
                f"{BYBIT_RECV_WINDOW_MAX} (Bybit's default is {BYBIT_RECV_WINDOW})",
                field="recv_window",
            )
    else:
        _check_trading_accounts(options.trading_accounts)
        if options.stream not in B2TRADER_STREAMS:
            raise ConfigError(
                f"{_q(options.stream)} is not one of {', '.join(B2TRADER_STREAMS)}", field="stream"
            )
        if options.display_name is not None:
            _check_label(options.display_name, "display_name")


def _check_label(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"must be a string, got {_type_name(value)}", field=field)
    if not value:
        raise ConfigError("must not be empty", field=field)
    if value != value.strip():
        raise ConfigError(f"{_q(value)} has leading or trailing spaces", field=field)
    if not value.isprintable():
        raise ConfigError(f"{_q(value)} holds a control or non-printing character", field=field)
    if len(value) > NAME_MAX_LEN:
        raise ConfigError(f"is longer than {NAME_MAX_LEN} characters", field=field)
    return value


def _check_name(value: object, field: str) -> None:
    name = _check_label(value, field)
    if "/" in name:
        raise ConfigError(
            f"{_q(name)} contains \"/\", which is reserved: B2TRADER trading accounts are shown "
            "as \"<name>/<trading account>\"",
            field=field,
        )


def _check_choices(values: object, allowed: Sequence[str], field: str) -> None:
    if not isinstance(values, tuple) or not values:
        raise ConfigError(f"must list at least one of {', '.join(allowed)}", field=field)
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value not in allowed:
            raise ConfigError(
                f"{_q(value)} is not one of {', '.join(allowed)}", field=f"{field}[{index}]"
            )
        if value in seen:
            raise ConfigError(f"{_q(value)} is listed twice", field=f"{field}[{index}]")
        seen.add(value)


_COIN = re.compile(r"[A-Z0-9]{2,20}")


def _check_settle_coins(values: object) -> None:
    if not isinstance(values, tuple) or not values:
        raise ConfigError(
            f"must list at least one coin (default {', '.join(BYBIT_SETTLE_COINS)})",
            field="settle_coins",
        )
    for index, value in enumerate(values):
        if not isinstance(value, str) or not _COIN.fullmatch(value):
            raise ConfigError(
                f"{_q(value)} is not a coin code such as \"USDT\" (upper case letters and digits)",
                field=f"settle_coins[{index}]",
            )
        if value in values[:index]:
            raise ConfigError(f"{_q(value)} is listed twice", field=f"settle_coins[{index}]")


def _check_trading_accounts(values: object) -> None:
    if not isinstance(values, tuple):
        raise ConfigError("must be an array of strings", field="trading_accounts")
    for index, value in enumerate(values):
        _check_label(value, f"trading_accounts[{index}]")
        if value in values[:index]:
            raise ConfigError(f"{_q(value)} is listed twice", field=f"trading_accounts[{index}]")


_URL_NOT_ALLOWED = re.compile(r"[\x00-\x20\x7f]")


def _split_url(url: object, field: str, secure: str, plain: str, example: str) -> Any:
    if not isinstance(url, str):
        raise ConfigError(f"must be a string, got {_type_name(url)}", field=field)
    if _URL_NOT_ALLOWED.search(url) or not url.isprintable():
        raise ConfigError(f"{_q(url)} contains spaces or control characters", field=field)
    parts = urlsplit(url)
    if parts.scheme not in (secure, plain) or not parts.hostname:
        raise ConfigError(f"{_q(url)} is not a {secure}:// URL such as \"{example}\"", field=field)
    if "@" in parts.netloc:
        raise ConfigError(
            "must not carry a user name or password (secrets go in the OS keyring)", field=field
        )
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{_q(url)} has an invalid port", field=field) from None
    if parts.scheme == plain and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing unencrypted {_q(url)}: plain {plain}:// is allowed only for a loopback host "
            f"(127.0.0.1, ::1, localhost); use {secure}://",
            field=field,
        )
    if parts.fragment or url.endswith("#"):
        raise ConfigError(f"{_q(url)} must not have a #fragment", field=field)
    return parts


def _check_rest_url(url: object, venue: str) -> None:
    example = {"bitfinex": "https://api.bitfinex.com", "bybit": "https://api.bybit.com"}.get(
        venue, "https://broker.example"
    )
    parts = _split_url(url, "rest_url", "https", "http", example)
    if parts.path or parts.query or str(url).endswith("?"):
        raise ConfigError(
            f"{_q(url)} must be an origin only, such as \"{example}\" (no path or query: "
            "the client adds the venue's paths itself)",
            field="rest_url",
        )


def _check_ws_url(url: object, venue: str) -> None:
    example = {
        "bitfinex": "wss://api.bitfinex.com/ws/2",
        "bybit": "wss://stream.bybit.com/v5/private",
    }.get(venue, f"wss://broker.example{B2TRADER_WS_PATH}")
    parts = _split_url(url, "ws_url", "wss", "ws", example)
    if parts.path in ("", "/"):
        raise ConfigError(
            f"{_q(url)} must be the full websocket endpoint, such as \"{example}\"", field="ws_url"
        )
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        norm = key.lower().replace("-", "_")
        if norm in _SECRET_KEYS or any(word in norm for word in _SECRET_WORDS):
            raise ConfigError(
                f"must not carry a {_q(key)} query parameter: secrets go in the OS keyring "
                "(the B2TRADER client adds access_token itself)",
                field="ws_url",
            )


# ---------------------------------------------------------------------------------------------
# finding the line of a field in the text


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]*?)\s*\]\]?")
_ACCOUNTS_HEADER = re.compile(r"^\s*\[\[\s*(?:accounts|\"accounts\"|'accounts')\s*\]\]")
_FIELD = re.compile(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?")


class _Locator:
    """Finds the line of ``accounts[1].env`` in the text: the n-th ``[[accounts]]`` header, then
    ``env =`` inside that table; the header when the key is not there (or not found)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables: list[tuple[int, int]] = []  # (header index, end index) per [[accounts]]
        top_end = len(self.lines)
        for i, line in enumerate(self.lines):
            if _HEADER.match(line) and not line.lstrip().startswith("[="):
                top_end = min(top_end, i)
                if self.tables and self.tables[-1][1] == -1:
                    self.tables[-1] = (self.tables[-1][0], i)
                if _ACCOUNTS_HEADER.match(line):
                    self.tables.append((i, -1))
        if self.tables and self.tables[-1][1] == -1:
            self.tables[-1] = (self.tables[-1][0], len(self.lines))
        self.top = (0, top_end)

    def line(self, field: str | None) -> int | None:
        if not field:
            return None
        head, _, rest = field.partition(".")
        match = _FIELD.fullmatch(head)
        if match is None:
            return None
        if match.group(1) != "accounts" or not rest and match.group(2) is None:
            return self._key_line(self.top, match.group(1))
        if match.group(2) is None:
            return self._key_line(self.top, "accounts")
        index = int(match.group(2))
        if index >= len(self.tables):
            return self._key_line(self.top, "accounts")
        table = self.tables[index]
        key_match = _FIELD.match(rest) if rest else None
        if key_match is not None:
            found = self._key_line(table, key_match.group(1))
            if found is not None:
                return found
        return table[0] + 1

    def _key_line(self, span: tuple[int, int], key: str) -> int | None:
        pattern = re.compile(
            rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*="
        )
        start, end = span
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return None


# ---------------------------------------------------------------------------------------------
# save


_HEADER_COMMENT = (
    "# blotter accounts (written by blotter; comments added by hand are not kept).\n"
    "# Secrets are not in this file: they are in the OS keyring, service \"blotter\".\n"
)


def dumps_config(config: Config) -> str:
    """The TOML text ``save_config`` writes: defaults left out, so they follow the app."""
    out = [_HEADER_COMMENT]
    for account in config.accounts:
        out.append("\n[[accounts]]\n")
        for key, value in _account_items(account):
            out.append(f"{key} = {_toml_value(value)}\n")
    return "".join(out)


def _account_items(account: AccountConfig) -> Iterable[tuple[str, object]]:
    yield "name", account.name
    yield "venue", account.venue
    yield "env", account.env
    defaults = DEFAULT_URLS.get((account.venue, account.env), (None, None))
    if account.rest_url != defaults[0]:
        yield "rest_url", account.rest_url
    if account.ws_url != defaults[1]:
        yield "ws_url", account.ws_url
    options = account.options
    if isinstance(options, BitfinexOptions):
        if options.dead_man_switch:
            yield "dead_man_switch", True
    elif isinstance(options, BybitOptions):
        if options.categories != BYBIT_CATEGORIES:
            yield "categories", list(options.categories)
        if options.settle_coins != BYBIT_SETTLE_COINS:
            yield "settle_coins", list(options.settle_coins)
        if options.recv_window != BYBIT_RECV_WINDOW:
            yield "recv_window", options.recv_window
    else:
        if options.trading_accounts:
            yield "trading_accounts", list(options.trading_accounts)
        if options.stream != "snapshot":
            yield "stream", options.stream
        if options.display_name is not None:
            yield "display_name", options.display_name


_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                   "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError("a lone surrogate cannot be written as TOML")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def save_config(path: str | os.PathLike[str], config: Config) -> None:
    """Write ``config`` to ``path`` atomically (temp file, fsync, rename), mode 0600.

    The directory is created (0700) if needed. If anything fails the old file stays as it was
    and ``ConfigError`` names the file.
    """
    path = Path(path)
    data = dumps_config(config).encode("utf-8")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise ConfigError(f"cannot write the file: {exc.strerror or exc}", path=path) from exc
    tmp = Path(tmp_name)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise ConfigError(
                f"cannot write the file: {exc.strerror or exc}", path=path
            ) from exc
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it (POSIX)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


__all__ = [
    "B2TRADER_STREAMS",
    "BYBIT_CATEGORIES",
    "BYBIT_RECV_WINDOW",
    "BYBIT_SETTLE_COINS",
    "CONFIG_ENV_VAR",
    "DEFAULT_ENV",
    "DEFAULT_URLS",
    "ENVS",
    "SECRET_FIELDS",
    "VENUES",
    "AccountConfig",
    "B2traderOptions",
    "BitfinexOptions",
    "BybitOptions",
    "Config",
    "ConfigError",
    "VenueOptions",
    "add_account",
    "default_config_path",
    "default_urls",
    "display_path",
    "dumps_config",
    "load_config",
    "make_account",
    "parse_config",
    "remove_account",
    "replace_account",
    "resolve_config_path",
    "save_config",
    "toml_string",
]
