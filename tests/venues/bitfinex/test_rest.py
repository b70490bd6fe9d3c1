"""Signed REST calls of one key (bitfinex.md §5): what is sent, and every way a call can fail,
in the venue's words and without a secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from blotter.venues.base import RestFailure
from blotter.venues.bitfinex.nonce import NonceSource
from blotter.venues.bitfinex.replies import RestError
from blotter.venues.bitfinex.requests import sign
from blotter.venues.bitfinex.rest import NONCE_JUMP, SignedRest

KEY, SECRET = "rest-key", "rest-secret"
NOW_US = 1700000000000000

Handler = Callable[[httpx.Request], httpx.Response]


def caller(tmp_path: Path, handler: Handler) -> tuple[SignedRest, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(record))
    nonce = NonceSource(KEY, tmp_path, clock_us=lambda: NOW_US)
    rest = SignedRest(KEY, SECRET, nonce, lambda: http, lambda t: t.replace(SECRET, "***"))
    return rest, seen


def answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(body))


async def test_a_call_is_signed_and_answers_the_decoded_body(tmp_path: Path) -> None:
    rest, seen = caller(tmp_path, lambda r: httpx.Response(200, content=b"[[1,2]]"))
    assert await rest.call("auth/w/order/cancel", {"id": 123}) == [[1, 2]]
    (request,) = seen
    assert request.method == "POST" and request.url.path == "/v2/auth/w/order/cancel"
    assert request.content == b'{"id":123}'
    assert request.headers["bfx-apikey"] == KEY
    assert request.headers["bfx-nonce"] == str(NOW_US)
    assert request.headers["bfx-signature"] == sign(
        SECRET, f'/api/v2/auth/w/order/cancel{NOW_US}{{"id":123}}'
    )


async def test_nonce_small_jumps_ahead_and_retries_once(tmp_path: Path) -> None:
    answers: list[tuple[int, object]] = [(500, ["error", 10114, "nonce: small"]), (200, [])]
    rest, seen = caller(tmp_path, lambda r: answer(*answers.pop(0)))
    assert await rest.call("auth/r/orders", {}) == []
    first, second = (int(r.headers["bfx-nonce"]) for r in seen)
    assert second > first + NONCE_JUMP


async def test_nonce_small_twice_is_a_failure_in_the_venues_words(tmp_path: Path) -> None:
    rest, seen = caller(tmp_path, lambda r: answer(500, ["error", 10114, "nonce: small"]))
    with pytest.raises(RestFailure) as failure:
        await rest.call("auth/r/orders", {})
    assert (failure.value.text, failure.value.status) == ("nonce: small", 500)
    assert failure.value.reply == RestError(500, 10114, "nonce: small")
    assert len(seen) == 2


async def test_rate_limited(tmp_path: Path) -> None:
    rest, _ = caller(tmp_path, lambda r: httpx.Response(429, content=b""))
    with pytest.raises(RestFailure) as failure:
        await rest.call("auth/w/order/cancel/multi", {"all": 1})
    assert failure.value.status == 429
    assert failure.value.text == "ratelimit: too many requests (HTTP 429)"


async def test_unreachable_says_so_without_the_secret(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending {SECRET}")

    rest, _ = caller(tmp_path, refuse)
    with pytest.raises(RestFailure) as failure:
        await rest.call("auth/r/orders", {})
    assert failure.value.status == 0 and failure.value.reply is None
    assert failure.value.text.startswith("cannot reach Bitfinex: ")
    assert SECRET not in failure.value.text and "***" in failure.value.text


async def test_an_unreadable_answer_is_a_failure(tmp_path: Path) -> None:
    rest, _ = caller(tmp_path, lambda r: httpx.Response(200, content=b"<html>"))
    with pytest.raises(RestFailure) as failure:
        await rest.call("auth/r/orders", {})
    assert (failure.value.text, failure.value.status) == ("unreadable answer from Bitfinex", 200)
