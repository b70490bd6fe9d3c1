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

import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlsplit

from blotter.config_text import FieldLocator, toml_value, write_atomically
from blotter.core.options import (
    OptionError,
    OptionField,
    check_label,
    quoted,
    type_name,
)
from blotter.venues.net import is_loopback
from blotter.venues.registry import SPECS, VENUES, spec_for
from blotter.venues.spec import VenueSpec

_T = TypeVar("_T")

DEFAULT_ENV: Final = "live"
CONFIG_ENV_VAR: Final = "BLOTTER_CONFIG"
CONFIG_FILE_NAME: Final = "config.toml"

# Keys that look like a secret, after lower-casing and turning "-" into "_".
_SECRET_WORDS: Final = ("secret", "password", "passwd", "passphrase", "token", "private_key")
_SECRET_KEYS: Final = frozenset({"api_key", "apikey", "key", "sign", "signature", "auth"})

_COMMON_KEYS: Final = ("name", "venue", "env", "rest_url", "ws_url", "audit_seconds")
DEFAULT_AUDIT_SECONDS: Final = 60  # re-read the open orders this often while live
_AUDIT_RANGE: Final = (10, 3600)  # 0 turns audits off


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
    options: Any  # the venue's options (its spec's options_type)
    audit_seconds: int = DEFAULT_AUDIT_SECONDS  # 0: no periodic re-reads while live

    def __post_init__(self) -> None:
        _check_account(self)

    @property
    def spec(self) -> VenueSpec:
        return spec_for(self.venue)

    @property
    def venue_label(self) -> str:
        """What the table calls the venue of this account: "Bitfinex", or a B2TRADER broker's
        own name (its ``display_name``, else the account's name)."""
        return self.spec.venue_label(self.name, self.options)

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return self.spec.secret_fields

    @property
    def uses_default_urls(self) -> bool:
        return self.spec.urls(self.env) == (self.rest_url, self.ws_url)


def default_urls(venue: str, env: str) -> tuple[str, str] | None:
    """The venue's (rest origin, ws endpoint) for ``env``; None where there is no default."""
    spec = SPECS.get(venue)
    return spec.urls(env) if spec is not None else None


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
    locate = FieldLocator(text)
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
    if venue not in SPECS:
        raise ConfigError(f"{_q(venue)} is not one of {', '.join(VENUES)}", field="venue")
    spec = SPECS[venue]
    allowed = (*_COMMON_KEYS, *(f.name for f in spec.option_fields))
    for key in table:
        if key not in allowed:
            owner = next(
                (s.name for s in SPECS.values() if s.option(key) is not None), None
            )
            hint = (
                f"{key} is a {owner} option, not a {venue} one" if owner
                else f"known keys for {venue}: {', '.join(allowed)}"
            )
            raise ConfigError(f"unknown key ({hint})", field=key)

    env = _get(table, "env", str)
    env = spec.default_env if env is None else env
    if env not in spec.envs:
        raise ConfigError(
            f"{_q(env)} is not one of {', '.join(spec.envs)} for {venue}", field="env"
        )
    defaults = spec.urls(env)
    rest_url = _get(table, "rest_url", str)
    ws_url = _get(table, "ws_url", str)
    if defaults is None:
        if rest_url is None:
            raise ConfigError(
                f"required for {venue} (each broker has its own host), "
                f"e.g. {_q(spec.rest_example)}",
                field="rest_url",
            )
        if ws_url is None:
            host = urlsplit(rest_url).netloc or urlsplit(spec.rest_example).netloc
            scheme = "ws" if rest_url.startswith("http://") else "wss"
            raise ConfigError(
                f"required for {venue}: the full hub endpoint, "
                f"e.g. \"{scheme}://{host}{urlsplit(spec.ws_example).path}\"",
                field="ws_url",
            )
    else:
        rest_url = defaults[0] if rest_url is None else rest_url
        ws_url = defaults[1] if ws_url is None else ws_url

    given = {f.name: value for f in spec.option_fields
             if (value := _get_option(table, f)) is not None}
    audit = _get(table, "audit_seconds", int)
    return AccountConfig(
        name, venue, env, rest_url, ws_url, spec.options_type(**given),
        DEFAULT_AUDIT_SECONDS if audit is None else audit,
    )


def _get_option(table: Mapping[str, Any], option: OptionField) -> Any:
    """An option's value as written (None when not given), checked for its kind."""
    if option.kind in ("choices", "texts"):
        return _get_strings(table, option.name)
    kind: type = {"bool": bool, "int": int}.get(option.kind, str)
    return _get(table, option.name, kind)


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


_type_name = type_name
_q = quoted


def _short(value: object) -> str:
    if isinstance(value, (list, dict)):
        return ""
    text = _q(value)
    return f"({text[:40]}…)" if len(text) > 40 else f"({text})"


# ---------------------------------------------------------------------------------------------
# validation of one account (also runs for accounts built in code)


def _check_account(account: AccountConfig) -> None:
    _check_name(account.name, "name")
    spec = SPECS.get(account.venue)
    if spec is None:
        raise ConfigError(f"{_q(account.venue)} is not one of {', '.join(VENUES)}", field="venue")
    if account.env not in spec.envs:
        raise ConfigError(
            f"{_q(account.env)} is not one of {', '.join(spec.envs)} for {account.venue}",
            field="env",
        )
    _check_rest_url(account.rest_url, spec)
    _check_ws_url(account.ws_url, spec)
    low, high = _AUDIT_RANGE
    if account.audit_seconds != 0 and not low <= account.audit_seconds <= high:
        raise ConfigError(
            f"{account.audit_seconds} is not 0 (no audits) or between {low} and {high} seconds",
            field="audit_seconds",
        )
    if not isinstance(account.options, spec.options_type):
        raise ConfigError(
            f"{type(account.options).__name__} given for a {account.venue} account "
            f"(needs {spec.options_type.__name__})",
            field="options",
        )
    for option in spec.option_fields:
        if option.kind == "bool" and not isinstance(getattr(account.options, option.name), bool):
            raise ConfigError("must be true or false", field=option.name)
    try:
        spec.check_options(account.options)
    except OptionError as exc:
        raise ConfigError(exc.reason, field=exc.field) from None


def _check_name(value: object, field: str) -> None:
    try:
        name = check_label(value, field)
    except OptionError as exc:
        raise ConfigError(exc.reason, field=exc.field) from None
    if "/" in name:
        raise ConfigError(
            f"{_q(name)} contains \"/\", which is reserved: B2TRADER trading accounts are shown "
            "as \"<name>/<trading account>\"",
            field=field,
        )


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


def _check_rest_url(url: object, spec: VenueSpec) -> None:
    example = spec.rest_example
    parts = _split_url(url, "rest_url", "https", "http", example)
    if parts.path or parts.query or str(url).endswith("?"):
        raise ConfigError(
            f"{_q(url)} must be an origin only, such as \"{example}\" (no path or query: "
            "the client adds the venue's paths itself)",
            field="rest_url",
        )


def _check_ws_url(url: object, spec: VenueSpec) -> None:
    example = spec.ws_example
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
            out.append(f"{key} = {toml_value(value)}\n")
    return "".join(out)


def _account_items(account: AccountConfig) -> Iterable[tuple[str, object]]:
    yield "name", account.name
    yield "venue", account.venue
    yield "env", account.env
    defaults = account.spec.urls(account.env) or (None, None)
    if account.rest_url != defaults[0]:
        yield "rest_url", account.rest_url
    if account.ws_url != defaults[1]:
        yield "ws_url", account.ws_url
    if account.audit_seconds != DEFAULT_AUDIT_SECONDS:
        yield "audit_seconds", account.audit_seconds
    defaults_of = account.spec.options_type()
    for option in account.spec.option_fields:
        value = getattr(account.options, option.name)
        if value != getattr(defaults_of, option.name):
            yield option.name, list(value) if isinstance(value, tuple) else value


def save_config(path: str | os.PathLike[str], config: Config) -> None:
    """Write ``config`` to ``path`` atomically (temp file, fsync, rename), mode 0600.

    The directory is created (0700) if needed. If anything fails the old file stays as it was
    and ``ConfigError`` names the file.
    """
    try:
        write_atomically(Path(path), dumps_config(config).encode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot write the file: {exc.strerror or exc}", path=path
        ) from exc


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_ENV",
    "VENUES",
    "AccountConfig",
    "Config",
    "ConfigError",
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
]
