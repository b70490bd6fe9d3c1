"""The network facts every client shares: which URLs it may use (plain ws:// and http:// only to
this machine), what a REST origin is, and how a failed connection is put into words."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from blotter.venues.net import (
    RestFailure,
    check_origin,
    check_url,
    close_code,
    describe_error,
    is_loopback,
    now_ms,
    rest_client,
    send,
)


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "127.0.0.1", "127.5.0.1", "::1"],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["api.bitfinex.com", "localhost.example.com", "127.0.0.1.nip.io", "0.0.0.0", "10.0.0.1",
     "192.168.1.20", "::", ""],
)
def test_hosts_that_are_not_this_machine(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("wss://api.bitfinex.com/ws/2", False),
        ("wss://127.0.0.1:8443/ws/2", True),
        ("ws://127.0.0.1:41234/ws/2", True),
        ("ws://localhost:41234/v5/private", True),
        ("ws://[::1]:41234/frontoffice/ws/v4/account", True),
    ],
)
def test_a_url_it_may_use(url: str, loopback: bool) -> None:
    assert check_url(url, "wss", "ws", "ws_url") == (url, loopback)


def test_plain_ws_off_loopback_is_refused_saying_what_to_use() -> None:
    with pytest.raises(ValueError) as caught:
        check_url("ws://api.bitfinex.com/ws/2", "wss", "ws", "ws_url")
    assert str(caught.value) == (
        "refusing unencrypted ws_url 'ws://api.bitfinex.com/ws/2': plain ws:// is allowed only "
        "for a loopback host (127.0.0.1, ::1, localhost); use wss://"
    )


def test_plain_http_off_loopback_is_refused_too() -> None:
    with pytest.raises(ValueError, match=r"plain http:// is allowed only .*; use https://$"):
        check_url("http://broker.example", "https", "http", "rest_url")


@pytest.mark.parametrize(
    "url", ["https://api.bitfinex.com/ws/2", "ftp://x.example/", "wss://", "api.bitfinex.com", ""],
)
def test_a_url_of_another_kind_is_refused_naming_the_kind(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_url(url, "wss", "ws", "ws_url")
    assert str(caught.value) == f"ws_url must be a wss:// URL, got {url!r}"


@pytest.mark.parametrize(
    ("url", "origin", "loopback"),
    [
        ("https://api.bybit.com", "https://api.bybit.com", False),
        ("https://api.bybit.com/", "https://api.bybit.com", False),
        ("https://broker.example:8443", "https://broker.example:8443", False),
        ("http://127.0.0.1:41234", "http://127.0.0.1:41234", True),
    ],
)
def test_an_origin_is_scheme_host_and_port(url: str, origin: str, loopback: bool) -> None:
    assert check_origin(url, "https://api.bybit.com") == (origin, loopback)


@pytest.mark.parametrize(
    "url",
    ["https://api.bybit.com/v5", "https://api.bitfinex.com/v2/auth", "https://broker.example?x=1",
     "https://broker.example/#top"],
)
def test_a_rest_url_with_a_path_is_refused_with_an_example(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_origin(url, "https://broker.example")
    assert str(caught.value) == (
        f"rest_url must be an origin such as https://broker.example, got {url!r}"
    )


def test_an_origin_over_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(ValueError, match="refusing unencrypted rest_url"):
        check_origin("http://api.bybit.com", "https://api.bybit.com")


async def test_the_http_client_is_bound_to_its_origin_and_ignores_proxies_on_loopback() -> None:
    local = rest_client("http://127.0.0.1:41234", True, 7.0)
    remote = rest_client("https://api.bybit.com", False, 7.0)
    try:
        assert str(local.base_url) == "http://127.0.0.1:41234"
        assert local.timeout.read == 7.0 and local.timeout.connect == 5.0
        assert local.headers["user-agent"] == "blotter"
        assert local.trust_env is False and remote.trust_env is True
    finally:
        await local.aclose()
        await remote.aclose()


# -- failures in words ------------------------------------------------------------------------
def test_an_error_reads_type_then_text() -> None:
    assert describe_error(ConnectionRefusedError(111, "Connect call failed")) == (
        "ConnectionRefusedError: [Errno 111] Connect call failed"
    )
    assert describe_error(TimeoutError()) == "TimeoutError"


def test_the_close_code_of_a_websocket_that_ended() -> None:
    assert close_code(ConnectionClosed(Close(1000, "bye"), None)) == "1000 bye"
    assert close_code(ConnectionClosed(None, Close(1001, ""))) == "1001"  # we closed it
    assert close_code(ConnectionClosed(None, None)) == "1006"  # no close frame: cut


def test_now_is_milliseconds_since_the_epoch() -> None:
    assert 1_700_000_000_000 < now_ms() < 10_000_000_000_000


async def test_a_request_to_a_venue_that_is_not_there_fails_in_words_without_the_key() -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with rest_client(f"http://127.0.0.1:{port}", True, 2.0) as http:
        with pytest.raises(RestFailure) as failed:
            await send(http, "GET", "/v5/market/time?api_key=KEY-123",
                       unreachable="cannot reach Bybit",
                       redact=lambda text: text.replace("KEY-123", "***"))
    assert failed.value.status == 0 and failed.value.reply is None
    assert failed.value.text.startswith("cannot reach Bybit: ")
    assert "KEY-123" not in failed.value.text
