"""The accounts file: parsing, every default, every error's file/line/field, atomic save."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blotter import config as cfg
from blotter.config import (
    AccountConfig,
    Config,
    ConfigError,
    add_account,
    default_config_path,
    dumps_config,
    load_config,
    make_account,
    parse_config,
    remove_account,
    resolve_config_path,
    save_config,
)
from blotter.venues import registry
from blotter.venues.b2trader.spec import STREAMS as B2TRADER_STREAMS
from blotter.venues.b2trader.spec import B2traderOptions
from blotter.venues.bitfinex.spec import BitfinexOptions
from blotter.venues.bybit import spec as bybit_spec
from blotter.venues.bybit.spec import BybitOptions
from blotter.venues.net import check_url

B2_REST = "https://broker.example"
B2_WS = "wss://broker.example/frontoffice/ws/v4/account"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


# ---------------------------------------------------------------------------------------------
# parsing and defaults


@pytest.mark.parametrize(
    ("venue", "env", "rest", "ws"),
    [
        ("bitfinex", "live", "https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2"),
        ("bitfinex", "paper", "https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2"),
        ("bybit", "live", "https://api.bybit.com", "wss://stream.bybit.com/v5/private"),
        ("bybit", "testnet", "https://api-testnet.bybit.com",
         "wss://stream-testnet.bybit.com/v5/private"),
        ("bybit", "demo", "https://api-demo.bybit.com", "wss://stream-demo.bybit.com/v5/private"),
    ],
)
def test_every_env_has_its_default_urls(
    tmp_path: Path, venue: str, env: str, rest: str, ws: str
) -> None:
    path = write(tmp_path, f'[[accounts]]\nname = "a"\nvenue = "{venue}"\nenv = "{env}"\n')
    (account,) = load_config(path).accounts
    assert (account.venue, account.env, account.rest_url, account.ws_url) == (venue, env, rest, ws)
    assert account.uses_default_urls
    assert cfg.default_urls(venue, env) == (rest, ws)


def test_every_venue_env_pair_is_covered() -> None:
    # b2trader has no default host; every other (venue, env) has a default pair
    for venue, spec in registry.SPECS.items():
        for env in spec.envs:
            assert (spec.urls(env) is not None) == (venue != "b2trader")


def test_env_defaults_to_live(tmp_path: Path) -> None:
    path = write(tmp_path, '[[accounts]]\nname = "a"\nvenue = "bybit"\n')
    assert load_config(path).accounts[0].env == "live"


def test_bitfinex_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[accounts]]\nname = "bfx"\nvenue = "bitfinex"\nenv = "paper"\ndead_man_switch = true\n'
        '[[accounts]]\nname = "bfx2"\nvenue = "bitfinex"\n',
    )
    first, second = load_config(path).accounts
    assert first.options == BitfinexOptions(dead_man_switch=True)
    assert second.options == BitfinexOptions(dead_man_switch=False)


def test_bybit_options_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[accounts]]
name = "by"
venue = "bybit"
env = "testnet"
categories = ["linear", "spot"]
settle_coins = ["USDT"]
recv_window = 10000

[[accounts]]
name = "by2"
venue = "bybit"
""",
    )
    first, second = load_config(path).accounts
    assert first.options == BybitOptions(("linear", "spot"), ("USDT",), 10000)
    assert second.options == BybitOptions()
    assert second.options.categories == ("spot", "linear", "inverse", "option")
    assert second.options.settle_coins == ("USDT", "USDC")
    assert second.options.recv_window == 5000


def test_b2trader_options_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
[[accounts]]
name = "b2"
venue = "b2trader"
rest_url = "{B2_REST}"
ws_url = "{B2_WS}"
trading_accounts = ["685a7eaa360f9e7416221a61", "Main USD"]
stream = "delta"
display_name = "Example Broker"

[[accounts]]
name = "b2-plain"
venue = "b2trader"
rest_url = "http://127.0.0.1:8080"
ws_url = "ws://127.0.0.1:8080/frontoffice/ws/v4/account"
""",
    )
    first, second = load_config(path).accounts
    assert first.options == B2traderOptions(
        ("685a7eaa360f9e7416221a61", "Main USD"), "delta", "Example Broker"
    )
    assert first.venue_label == "Example Broker"
    assert (first.rest_url, first.ws_url) == (B2_REST, B2_WS)
    assert second.options == B2traderOptions()
    assert second.venue_label == "b2-plain"
    assert second.env == "live"
    assert first.secret_fields == ("api_token",)


def test_url_overrides_and_loopback_plain_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[accounts]]
name = "local"
venue = "bitfinex"
rest_url = "http://127.0.0.1:41234"
ws_url = "ws://localhost:41234/ws/2"

[[accounts]]
name = "v6"
venue = "bybit"
rest_url = "http://[::1]:9000"
ws_url = "wss://stream.bybit.com/v5/private?max_active_time=60s"
""",
    )
    first, second = load_config(path).accounts
    assert first.rest_url == "http://127.0.0.1:41234"
    assert first.ws_url == "ws://localhost:41234/ws/2"
    assert not first.uses_default_urls
    assert second.rest_url == "http://[::1]:9000"
    for account in (first, second):  # the clients accept what the config accepts
        check_url(account.rest_url, "https", "http", "rest_url")
        check_url(account.ws_url, "wss", "ws", "ws_url")


def test_order_is_preserved_and_lookup(tmp_path: Path) -> None:
    names = ["zeta", "alpha", "mid"]
    text = "".join(f'[[accounts]]\nname = "{n}"\nvenue = "bybit"\n' for n in names)
    config = load_config(write(tmp_path, text))
    assert config.names == tuple(names)
    assert [a.name for a in config] == names
    assert len(config) == 3
    assert config.get("ALPHA").name == "alpha"
    assert config.find("nope") is None
    with pytest.raises(ConfigError, match=r'no account named "nope" \(accounts: zeta, alpha, mid\)'):
        config.get("nope")


def test_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent" / "config.toml") == Config()


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing yet\n")) == Config()


# ---------------------------------------------------------------------------------------------
# errors: each names the file, the line and the field


def test_error_message_names_file_line_and_field(tmp_path: Path) -> None:
    text = """# accounts
[[accounts]]
name = "bfx"
venue = "bitfinex"

[[accounts]]
name = "by"
venue = "bybit"
env = "mainnet"
"""
    error = error_of(tmp_path, text)
    path = tmp_path / "config.toml"
    assert str(error) == (
        f'{path}, line 9: accounts[1].env: "mainnet" is not one of live, testnet, demo for bybit'
    )
    assert (error.path, error.line, error.field) == (path, 9, "accounts[1].env")


def test_error_path_under_home_is_shown_with_tilde(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    path = tmp_path / ".config" / "blotter" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[[accounts]]\nname = "a"\nvenue = "kraken"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    expected = os.path.join("~", ".config", "blotter", "config.toml")
    assert str(info.value) == (
        f'{expected}, line 3: accounts[0].venue: "kraken" is not one of bitfinex, bybit, b2trader'
    )


ONE = '[[accounts]]\nname = "a"\nvenue = "bybit"\n'


@pytest.mark.parametrize(
    ("text", "line", "field", "reason"),
    [
        # unknown keys
        ('color = "red"\n' + ONE, 1, "color", "unknown key"),
        (ONE + 'colour = "red"\n', 4, "accounts[0].colour", "known keys for bybit"),
        (ONE + "dead_man_switch = true\n", 4, "accounts[0].dead_man_switch",
         "dead_man_switch is a bitfinex option, not a bybit one"),
        # required keys
        ('[[accounts]]\nvenue = "bybit"\n', 1, "accounts[0].name", "is required"),
        ('[[accounts]]\nname = "a"\n', 1, "accounts[0].venue", "is required"),
        # wrong types
        ('[[accounts]]\nname = 7\nvenue = "bybit"\n', 2, "accounts[0].name",
         "must be a string, got an integer (7)"),
        (ONE + 'recv_window = "5000"\n', 4, "accounts[0].recv_window",
         'must be an integer, got a string ("5000")'),
        (ONE + "recv_window = 5000.0\n", 4, "accounts[0].recv_window",
         "must be an integer, got a float (5000.0)"),
        (ONE + 'categories = "spot"\n', 4, "accounts[0].categories",
         "must be an array of strings"),
        (ONE + 'categories = ["spot", 3]\n', 4, "accounts[0].categories[1]",
         "must be a string, got an integer (3)"),
        ('[[accounts]]\nname = "a"\nvenue = "bitfinex"\ndead_man_switch = "yes"\n', 4,
         "accounts[0].dead_man_switch", 'must be true or false, got a string ("yes")'),
        ("accounts = 3\n", 1, "accounts", "must be an array of tables"),
        # bad values
        ('[[accounts]]\nname = "a"\nvenue = "kraken"\n', 3, "accounts[0].venue",
         '"kraken" is not one of bitfinex, bybit, b2trader'),
        ('[[accounts]]\nname = "a"\nvenue = "bybit"\nenv = ""\n', 4,
         "accounts[0].env", '"" is not one of live, testnet, demo for bybit'),
        ('[[accounts]]\nname = "a"\nvenue = "bitfinex"\nenv = "testnet"\n', 4,
         "accounts[0].env", '"testnet" is not one of live, paper for bitfinex'),
        ('[[accounts]]\nname = ""\nvenue = "bybit"\n', 2, "accounts[0].name",
         "must not be empty"),
        ('[[accounts]]\nname = "main/usd"\nvenue = "bybit"\n', 2, "accounts[0].name",
         'contains "/", which is reserved'),
        ('[[accounts]]\nname = " a"\nvenue = "bybit"\n', 2, "accounts[0].name",
         "leading or trailing spaces"),
        ('[[accounts]]\nname = "a\\tb"\nvenue = "bybit"\n', 2, "accounts[0].name",
         "control or non-printing character"),
        ('[[accounts]]\nname = "' + "n" * 65 + '"\nvenue = "bybit"\n', 2, "accounts[0].name",
         "longer than 64"),
        (ONE + 'categories = ["spot", "perp"]\n', 4, "accounts[0].categories[1]",
         '"perp" is not one of spot, linear, inverse, option'),
        (ONE + 'categories = ["spot", "spot"]\n', 4, "accounts[0].categories[1]",
         '"spot" is listed twice'),
        (ONE + "categories = []\n", 4, "accounts[0].categories", "at least one of"),
        (ONE + 'settle_coins = ["usdt"]\n', 4, "accounts[0].settle_coins[0]",
         "not a coin code"),
        (ONE + "settle_coins = []\n", 4, "accounts[0].settle_coins", "at least one coin"),
        (ONE + "recv_window = 0\n", 4, "accounts[0].recv_window", "from 1 to 60000"),
        (ONE + "recv_window = 60001\n", 4, "accounts[0].recv_window", "from 1 to 60000"),
        # URLs
        (ONE + 'rest_url = "http://api.bybit.com"\n', 4, "accounts[0].rest_url",
         "refusing unencrypted"),
        (ONE + 'ws_url = "ws://stream.bybit.com/v5/private"\n', 4, "accounts[0].ws_url",
         "refusing unencrypted"),
        (ONE + 'rest_url = "https://api.bybit.com/v5"\n', 4, "accounts[0].rest_url",
         "must be an origin only"),
        (ONE + 'rest_url = "https://api.bybit.com?x=1"\n', 4, "accounts[0].rest_url",
         "must be an origin only"),
        (ONE + 'rest_url = "ftp://api.bybit.com"\n', 4, "accounts[0].rest_url",
         "is not a https:// URL"),
        (ONE + 'rest_url = "api.bybit.com"\n', 4, "accounts[0].rest_url",
         "is not a https:// URL"),
        (ONE + 'rest_url = "https://api.bybit.com:99999"\n', 4, "accounts[0].rest_url",
         "invalid port"),
        (ONE + 'rest_url = "https://u:p@api.bybit.com"\n', 4, "accounts[0].rest_url",
         "must not carry a user name or password"),
        (ONE + 'rest_url = "https://api.bybit .com"\n', 4, "accounts[0].rest_url",
         "spaces or control characters"),
        (ONE + 'ws_url = "wss://stream.bybit.com"\n', 4, "accounts[0].ws_url",
         "must be the full websocket endpoint"),
        (ONE + 'ws_url = "wss://stream.bybit.com/v5/private#x"\n', 4, "accounts[0].ws_url",
         "#fragment"),
        (('[[accounts]]\nname = "b"\nvenue = "b2trader"\nrest_url = "https://b.example"\n'
         'ws_url = "wss://b.example/frontoffice/ws/v4/account?access_token=abc"\n'), 5,
         "accounts[0].ws_url", "must not carry a \"access_token\" query parameter"),
        # B2TRADER needs both URLs
        ('[[accounts]]\nname = "b"\nvenue = "b2trader"\n', 1, "accounts[0].rest_url",
         "required for b2trader"),
        ('[[accounts]]\nname = "b"\nvenue = "b2trader"\nrest_url = "https://b.example"\n', 1,
         "accounts[0].ws_url", 'e.g. "wss://b.example/frontoffice/ws/v4/account"'),
        (('[[accounts]]\nname = "b"\nvenue = "b2trader"\nrest_url = "https://b.example"\n'
         f'ws_url = "{B2_WS}"\nstream = "full"\n'), 6, "accounts[0].stream",
         '"full" is not one of snapshot, delta'),
        (('[[accounts]]\nname = "b"\nvenue = "b2trader"\nrest_url = "https://b.example"\n'
         f'ws_url = "{B2_WS}"\ntrading_accounts = ["x", "x"]\n'), 6,
         "accounts[0].trading_accounts[1]", '"x" is listed twice'),
        (('[[accounts]]\nname = "b"\nvenue = "b2trader"\nrest_url = "https://b.example"\n'
         f'ws_url = "{B2_WS}"\ndisplay_name = ""\n'), 6, "accounts[0].display_name",
         "must not be empty"),
        # duplicates: the second one's name line, case-insensitively (keyrings may ignore case)
        (ONE + "\n" + '[[accounts]]\nname = "A"\nvenue = "bitfinex"\n', 6, "accounts[1].name",
         '"A" is already the name of accounts[0]'),
    ],
)
def test_validation_errors(tmp_path: Path, text: str, line: int, field: str, reason: str) -> None:
    error = error_of(tmp_path, text)
    assert error.line == line, str(error)
    assert error.field == field, str(error)
    assert reason in error.reason
    assert str(error).startswith(f"{tmp_path / 'config.toml'}, line {line}: {field}: ")


def test_the_line_is_found_inside_the_right_table(tmp_path: Path) -> None:
    text = """
[[accounts]]
name = "one"
venue = "bybit"
recv_window = 5000

[[accounts]]
# the second one
name = "two"
venue = "bybit"
  "recv_window" = -1
"""
    error = error_of(tmp_path, text)
    assert (error.line, error.field) == (11, "accounts[1].recv_window")


def test_inline_tables_fall_back_to_the_accounts_line(tmp_path: Path) -> None:
    text = 'accounts = [\n  {name = "a", venue = "bybit", env = "main"},\n]\n'
    error = error_of(tmp_path, text)
    assert (error.line, error.field) == (1, "accounts[0].env")


@pytest.mark.parametrize(
    "key",
    ["api_key", "api_secret", "api_token", "secret", "token", "password", "apiKey",
     "API-SECRET", "passphrase", "access_token", "private_key", "bybit_secret"],
)
def test_secret_keys_are_refused_without_echoing_the_value(tmp_path: Path, key: str) -> None:
    text = f'[[accounts]]\nname = "a"\nvenue = "bybit"\n"{key}" = "hunter2-SECRET-VALUE"\n'
    error = error_of(tmp_path, text)
    assert (error.line, error.field) == (4, f"accounts[0].{key}")
    assert "secrets do not belong in the config file" in str(error)
    assert "OS keyring" in str(error)
    assert "hunter2" not in str(error)


def test_secret_key_at_top_level_is_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, 'api_secret = "hunter2"\n' + ONE)
    assert (error.line, error.field) == (1, "api_secret")
    assert "hunter2" not in str(error)


def test_secret_key_is_reported_before_an_unknown_venue(tmp_path: Path) -> None:
    error = error_of(tmp_path, '[[accounts]]\nname = "a"\nvenue = "x"\ntoken = "t"\n')
    assert error.field == "accounts[0].token"


def test_toml_syntax_errors_keep_line_and_name_the_file(tmp_path: Path) -> None:
    error = error_of(tmp_path, '[[accounts]]\nname = "a"\nvenue = bybit\n')
    assert error.line == 3
    assert str(error).startswith(f"{tmp_path / 'config.toml'}, line 3: not valid TOML: ")
    assert "column" in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_toml_duplicate_key_is_a_syntax_error(tmp_path: Path) -> None:
    error = error_of(tmp_path, ONE + 'venue = "bitfinex"\n')
    assert error.line == 4 and "not valid TOML" in str(error)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[[accounts]]\nname = "\xff"\n')
    with pytest.raises(ConfigError, match=r"line 2: the file is not valid UTF-8"):
        load_config(path)


def test_unreadable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path)  # a directory


# ---------------------------------------------------------------------------------------------
# accounts built in code, add / remove


def test_make_account_resolves_defaults() -> None:
    account = make_account("bfx", "bitfinex")
    assert account == AccountConfig(
        "bfx", "bitfinex", "live", "https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2",
        BitfinexOptions(),
    )
    bybit = make_account("by", "bybit", env="demo", categories=("linear",), recv_window=7000)
    assert bybit.rest_url == "https://api-demo.bybit.com"
    assert bybit.options == BybitOptions(categories=("linear",), recv_window=7000)


def test_make_account_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        make_account("b2", "b2trader", rest_url=B2_REST)
    assert info.value.field == "ws_url" and info.value.path is None
    assert str(info.value).startswith("ws_url: required for b2trader")
    with pytest.raises(ConfigError, match="^env: "):
        make_account("by", "bybit", env="mainnet")
    with pytest.raises(ConfigError, match="^colour: unknown key"):
        make_account("by", "bybit", colour="red")


def test_account_validates_when_built_directly() -> None:
    with pytest.raises(ConfigError, match="^options: BybitOptions given for a bitfinex account"):
        AccountConfig("a", "bitfinex", "live", "https://api.bitfinex.com",
                      "wss://api.bitfinex.com/ws/2", BybitOptions())
    with pytest.raises(ConfigError, match="^name: "):
        AccountConfig("a/b", "bitfinex", "live", "https://api.bitfinex.com",
                      "wss://api.bitfinex.com/ws/2", BitfinexOptions())
    with pytest.raises(ConfigError, match=r"^categories\[0\]: "):
        make_account("a", "bybit").__class__(
            "a", "bybit", "live", "https://api.bybit.com", "wss://stream.bybit.com/v5/private",
            BybitOptions(categories=("futures",)),
        )


def test_config_refuses_duplicates_built_in_code() -> None:
    with pytest.raises(ConfigError, match=r"accounts\[1\].name"):
        Config((make_account("a", "bybit"), make_account("A", "bitfinex")))


def test_add_and_remove_account() -> None:
    config = add_account(Config(), make_account("one", "bybit"))
    config = add_account(config, make_account("two", "bitfinex"))
    assert config.names == ("one", "two")
    with pytest.raises(ConfigError, match='an account named "one" already exists'):
        add_account(config, make_account("ONE", "bitfinex"))
    config = remove_account(config, "One")
    assert config.names == ("two",)
    with pytest.raises(ConfigError, match='no account named "zzz" \\(accounts: two\\)'):
        remove_account(config, "zzz")
    assert remove_account(config, "two") == Config()
    with pytest.raises(ConfigError, match="none configured"):
        remove_account(Config(), "two")


def test_replace_account_keeps_the_position() -> None:
    config = Config((make_account("a", "bybit"), make_account("b", "bybit")))
    changed = cfg.replace_account(config, make_account("a", "bybit", env="testnet"))
    assert changed.names == ("a", "b") and changed.accounts[0].env == "testnet"


# ---------------------------------------------------------------------------------------------
# paths


def test_resolve_config_path_priority(tmp_path: Path) -> None:
    env = {"BLOTTER_CONFIG": str(tmp_path / "env.toml")}
    assert resolve_config_path(str(tmp_path / "cli.toml"), env) == tmp_path / "cli.toml"
    assert resolve_config_path(tmp_path / "cli.toml", env) == tmp_path / "cli.toml"
    assert resolve_config_path(None, env) == tmp_path / "env.toml"
    assert resolve_config_path(None, {"BLOTTER_CONFIG": ""}) == default_config_path()
    assert resolve_config_path(None, {}) == default_config_path()
    assert resolve_config_path("~/x.toml", {}) == Path.home() / "x.toml"


def test_default_config_path_uses_platformdirs() -> None:
    from platformdirs import user_config_dir

    path = default_config_path()
    assert path.name == "config.toml"
    assert path.parent == Path(user_config_dir("blotter", appauthor=False))
    assert "blotter" in path.parent.parts[-1]


# ---------------------------------------------------------------------------------------------
# save


SAMPLE = Config(
    (
        make_account("bfx-main", "bitfinex", dead_man_switch=True),
        make_account("bfx paper", "bitfinex", env="paper"),
        make_account("by", "bybit", env="testnet", categories=["linear"],
                     settle_coins=["USDC"], recv_window=8000),
        make_account("b2", "b2trader", rest_url=B2_REST, ws_url=B2_WS,
                     trading_accounts=["685a7eaa360f9e7416221a61"], stream="delta",
                     display_name='Broker "X"'),
        make_account("local", "bybit", rest_url="http://127.0.0.1:5000",
                     ws_url="ws://127.0.0.1:5000/v5/private"),
    )
)


def test_save_round_trip_and_format(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "config.toml"
    save_config(path, SAMPLE)
    assert load_config(path) == SAMPLE
    text = path.read_text(encoding="utf-8")
    assert "api.bybit.com" not in text  # defaults are left out, so they follow the app
    assert 'display_name = "Broker \\"X\\""' in text
    assert text.count("[[accounts]]") == 5
    tomllib.loads(text)


def test_save_leaves_no_temp_files_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(path, SAMPLE)
    save_config(path, SAMPLE)  # over an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_save_makes_an_existing_public_file_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    path.chmod(0o644)
    save_config(path, SAMPLE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_save_creates_a_private_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    save_config(path, Config())
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0


def test_failed_save_keeps_the_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    save_config(path, SAMPLE)
    before = path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError) as info:
        save_config(path, Config())
    assert str(info.value) == f"{path}: cannot write the file: No space left on device"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_failed_write_keeps_the_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    save_config(path, SAMPLE)
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ConfigError, match="Input/output error"):
        save_config(path, Config())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_saved_file_has_no_secret_field() -> None:
    text = dumps_config(SAMPLE)
    data = tomllib.loads(text)
    keys = {k for table in data["accounts"] for k in table}
    assert not keys & {"api_key", "api_secret", "api_token", "secret", "token"}


def test_dumps_empty_config_loads_back() -> None:
    assert parse_config(dumps_config(Config())) == Config()


# Names and labels with odd but valid characters: quotes, backslashes, "#", "=", brackets,
# spaces inside, non-ASCII letters and symbols.
_label_chars = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="/"
)
_labels = st.text(_label_chars, min_size=1, max_size=20).filter(
    lambda s: s == s.strip() and s.isprintable()
)
_hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True)
_ports = st.none() | st.integers(1, 65535)
_path_chars = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S"), exclude_characters="#?/"
)
_paths = st.lists(st.text(_path_chars, min_size=1, max_size=8), min_size=1, max_size=3).map(
    lambda parts: "/" + "/".join(parts)
)


@st.composite
def _accounts(draw: st.DrawFn) -> AccountConfig:
    name = draw(_labels)
    venue = draw(st.sampled_from(registry.VENUES))
    env = draw(st.sampled_from(registry.spec_for(venue).envs))
    host = draw(_hosts)
    port = draw(_ports)
    netloc = host if port is None else f"{host}:{port}"
    loopback = draw(st.booleans())
    if loopback:
        netloc = f"127.0.0.1:{port or 8080}"
    rest = f"{'http' if loopback else 'https'}://{netloc}"
    ws = f"{'ws' if loopback else 'wss'}://{netloc}{draw(_paths)}"
    override = venue == "b2trader" or draw(st.booleans())
    options: dict[str, object] = {}
    if venue == "bitfinex":
        options["dead_man_switch"] = draw(st.booleans())
    elif venue == "bybit":
        options["categories"] = draw(
            st.lists(st.sampled_from(bybit_spec.CATEGORIES), min_size=1, unique=True)
        )
        options["settle_coins"] = draw(
            st.lists(st.from_regex(r"[A-Z0-9]{2,8}", fullmatch=True), min_size=1, max_size=3,
                     unique=True)
        )
        options["recv_window"] = draw(st.integers(1, 60_000))
    else:
        options["trading_accounts"] = draw(st.lists(_labels, max_size=3, unique=True))
        options["stream"] = draw(st.sampled_from(B2TRADER_STREAMS))
        options["display_name"] = draw(st.none() | _labels)
    if override:
        return make_account(name, venue, env, rest, ws, **options)
    return make_account(name, venue, env, **options)


@st.composite
def _configs(draw: st.DrawFn) -> Config:
    accounts = draw(st.lists(_accounts(), max_size=4, unique_by=lambda a: a.name.casefold()))
    return Config(tuple(accounts))


# too_slow: a loaded machine generates the examples slowly; they and the assertion are the same
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
@given(_configs())
def test_save_load_round_trip(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "config.toml"
    save_config(path, config)
    assert load_config(path) == config
    for account in config:
        check_url(account.rest_url, "https", "http", "rest_url")
        check_url(account.ws_url, "wss", "ws", "ws_url")


@given(st.text(max_size=200))
def test_parse_never_raises_anything_but_config_error(text: str) -> None:
    try:
        parse_config(text, "x.toml")
    except ConfigError:
        pass


def test_audits_run_every_minute_unless_the_account_says_otherwise(tmp_path: Path) -> None:
    path = write(tmp_path, '[[accounts]]\nname = "a"\nvenue = "bybit"\n'
                           '[[accounts]]\nname = "b"\nvenue = "bybit"\naudit_seconds = 15\n'
                           '[[accounts]]\nname = "c"\nvenue = "bybit"\naudit_seconds = 0\n')
    accounts = load_config(path).accounts
    assert [a.audit_seconds for a in accounts] == [60, 15, 0]
    # the default is left out when written back; a chosen interval is kept
    text = cfg.dumps_config(load_config(path))
    assert text.count("audit_seconds") == 2 and "audit_seconds = 15" in text


@pytest.mark.parametrize("value", ["5", "7200", "-1", '"60"'])
def test_an_audit_interval_out_of_bounds_names_the_field(tmp_path: Path, value: str) -> None:
    error = error_of(tmp_path, f'[[accounts]]\nname = "a"\nvenue = "bybit"\naudit_seconds = {value}\n')
    assert error.field is not None and error.field.endswith("audit_seconds")
