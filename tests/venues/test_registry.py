"""Every venue the blotter knows, by name: each spec is complete and consistent, its demo account
is a valid account, and the names a trader reads come from one table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from blotter.config import make_account
from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.venues.net import check_origin, check_url
from blotter.venues.registry import SPECS, VENUES, spec_for, venue_title
from blotter.venues.spec import ClientSetup, VenueSpec

ALL = list(SPECS.values())
IDS = list(SPECS)
LOOPBACK = ("http://127.0.0.1:41234", "ws://127.0.0.1:41234/ws")


def test_the_known_venues() -> None:
    assert VENUES == ("bitfinex", "bybit", "b2trader")
    assert tuple(SPECS) == VENUES


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_a_spec_is_filed_under_its_own_name(spec: VenueSpec) -> None:
    assert SPECS[spec.name] is spec
    assert spec_for(spec.name) is spec


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_the_default_environment_comes_first_and_is_live(spec: VenueSpec) -> None:
    assert spec.envs and spec.default_env == spec.envs[0] == "live"
    assert len(set(spec.envs)) == len(spec.envs)


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_default_urls_only_for_known_environments_and_only_encrypted(spec: VenueSpec) -> None:
    assert set(spec.default_urls) <= set(spec.envs)
    for env in spec.envs:
        urls = spec.urls(env)
        assert urls == spec.default_urls.get(env)
        if urls is not None:
            rest, ws = urls
            assert check_origin(rest, spec.rest_example) == (rest, False)
            assert check_url(ws, "wss", "ws", "ws_url") == (ws, False)
    assert spec.urls("no-such-env") is None


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_the_examples_are_urls_the_client_would_take(spec: VenueSpec) -> None:
    assert check_origin(spec.rest_example, spec.rest_example) == (spec.rest_example, False)
    assert check_url(spec.ws_example, "wss", "ws", "ws_url")[0] == spec.ws_example


def test_a_venue_without_default_hosts_is_a_broker() -> None:
    assert [s.name for s in ALL if not s.default_urls] == ["b2trader"]


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_secret_fields_are_named(spec: VenueSpec) -> None:
    assert spec.secret_fields
    assert all(isinstance(f, str) and f for f in spec.secret_fields)
    assert len(set(spec.secret_fields)) == len(spec.secret_fields)


def test_the_keys_each_venue_asks_for() -> None:
    assert {s.name: s.secret_fields for s in ALL} == {
        "bitfinex": ("api_key", "api_secret"),
        "bybit": ("api_key", "api_secret"),
        "b2trader": ("api_token",),
    }


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_every_option_field_is_an_option_with_a_default_that_passes_its_checks(
    spec: VenueSpec,
) -> None:
    defaults = spec.options_type()
    names = {f.name for f in dataclasses.fields(spec.options_type)}
    assert {f.name for f in spec.option_fields} == names
    spec.check_options(defaults)
    for option in spec.option_fields:
        assert spec.option(option.name) is option
        if option.kind in ("choice", "choices"):
            assert option.choices
        if option.in_form and option.kind != "bool":
            assert option.label  # a form row needs a name
    assert spec.option("no_such_option") is None


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_a_venue_without_group_cancel_says_why(spec: VenueSpec) -> None:
    caps = spec.capabilities
    if not caps.group_cancel:
        assert caps.group_cancel_reason
        assert spec.title in caps.group_cancel_reason


@pytest.mark.parametrize("spec", ALL, ids=IDS)
def test_the_demo_account_is_a_valid_account(spec: VenueSpec) -> None:
    account = make_account(spec.demo_account, spec.name, rest_url=LOOPBACK[0],
                           ws_url=LOOPBACK[1], **spec.demo_options)
    assert (account.name, account.venue, account.env) == (
        spec.demo_account, spec.name, spec.default_env
    )
    assert (account.rest_url, account.ws_url) == LOOPBACK
    assert account.venue_label == ("Acme" if spec.name == "b2trader" else spec.title)


def test_the_demo_accounts_have_distinct_names() -> None:
    names = [s.demo_account for s in ALL]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("venue", "title"), [("bitfinex", "Bitfinex"), ("bybit", "Bybit"), ("b2trader", "B2TRADER")]
)
def test_venue_title(venue: str, title: str) -> None:
    assert venue_title(venue) == title == spec_for(venue).title


def test_an_unknown_venue_keeps_its_own_name_as_title() -> None:
    assert venue_title("blotter") == "blotter"
    assert venue_title("kraken") == "kraken"


def test_spec_for_an_unknown_venue_names_the_known_ones() -> None:
    with pytest.raises(KeyError) as caught:
        spec_for("kraken")
    assert caught.value.args[0] == "unknown venue 'kraken' (known: bitfinex, bybit, b2trader)"


def test_a_b2trader_account_is_labelled_by_its_display_name_else_its_name() -> None:
    named = make_account("acme", "b2trader", rest_url="https://broker.example",
                         ws_url="wss://broker.example/frontoffice/ws/v4/account",
                         display_name="Acme Markets")
    plain = make_account("acme", "b2trader", rest_url="https://broker.example",
                         ws_url="wss://broker.example/frontoffice/ws/v4/account")
    assert named.venue_label == "Acme Markets"
    assert plain.venue_label == "acme"
    spec = spec_for("b2trader")
    assert spec.venue_label("acme", named.options) == "Acme Markets"
    assert spec.venue_label("acme", plain.options) == "acme"


def test_other_venues_are_labelled_by_their_title() -> None:
    account = make_account("bfx-main", "bitfinex")
    assert account.venue_label == "Bitfinex"
    assert make_account("by-1", "bybit", env="testnet").venue_label == "Bybit"


@pytest.mark.parametrize("spec", ALL, ids=IDS)
async def test_each_spec_builds_its_client(spec: VenueSpec, tmp_path: Path) -> None:
    account = make_account(spec.demo_account, spec.name, rest_url=LOOPBACK[0],
                           ws_url=LOOPBACK[1], **spec.demo_options)
    key = AccountKey(spec.name, account.name)
    credentials = {field: f"{field}-0123456789abcdef" for field in spec.secret_fields}
    client = spec.build_client(ClientSetup(
        key, account.rest_url, account.ws_url, credentials, account.options,
        account.venue_label, OrderStore(), NoticeBus(), StateBus(), tmp_path,
    ))
    try:
        assert client.account == key
        assert client.venue_label == account.venue_label
        assert client.capabilities == spec.capabilities
        assert client.serves(key)
    finally:
        await client.close()


def test_a_client_setup_never_shows_the_secrets() -> None:
    setup = ClientSetup(
        AccountKey("bybit", "by-1"), "https://api.bybit.com", "wss://stream.bybit.com/v5/private",
        {"api_key": "KEY-abcdef", "api_secret": "SECRET-abcdef"}, None, "Bybit", OrderStore(),
        NoticeBus(), StateBus(),
    )
    assert "KEY-abcdef" not in repr(setup) and "SECRET-abcdef" not in repr(setup)
