"""The token keeper against a scripted broker (no sockets): one exchange while the JWT is good,
a fresh one when it is due or refused, the broker's refusal in its words, and no token in any
text it gives."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from blotter.venues.b2trader.requests import HttpRequest, accounts_request
from blotter.venues.b2trader.tokens import TokenKeeper
from blotter.venues.base import RestFailure
from blotter.venues.net import now_ms
from tests.helpers import until
from tests.venues.b2trader.samples import jwt

API_TOKEN = "api-token-0123456789"


class Broker:
    """Answers the token exchange with a fresh JWT (``lifetime`` s) and every other call with
    the next scripted status (200 when none is left)."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.exchanges = 0
        self.refuse = False
        self.statuses: list[int] = []
        self.calls: list[HttpRequest] = []

    async def send(self, request: HttpRequest, subject: str) -> httpx.Response:
        self.calls.append(request)
        if request.path.endswith("/access-token"):
            if self.refuse or json.loads(request.body) != {"token": API_TOKEN}:
                return httpx.Response(401, text=f"bad token {API_TOKEN}")
            self.exchanges += 1
            iat = now_ms() // 1000
            token = jwt({"iat": iat, "exp": iat + self.lifetime, "n": self.exchanges})
            return httpx.Response(200, json={"accessToken": token})
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


async def test_one_exchange_serves_until_the_token_is_refused() -> None:
    broker = Broker()
    keeper = TokenKeeper(API_TOKEN, broker.send)
    first = await keeper.current()
    assert await keeper.current() is first and broker.exchanges == 1
    keeper.forget(None)
    second = await keeper.current()
    assert second is not first and broker.exchanges == 2
    keeper.forget(first)  # an older token refused: the held one stays
    assert keeper.token is second
    await keeper.close()


async def test_a_401_exchanges_again_and_sends_once_more() -> None:
    broker = Broker()
    keeper = TokenKeeper(API_TOKEN, broker.send)
    broker.statuses = [401, 200]
    response = await keeper.authorised(accounts_request, "Accounts")
    assert response.status_code == 200 and broker.exchanges == 2
    jwts = [c.headers["Authorization"] for c in broker.calls if c.method == "GET"]
    assert len(jwts) == 2 and jwts[0] != jwts[1]  # the second call carried the new JWT
    broker.statuses = [401, 401]
    assert (await keeper.authorised(accounts_request, "Accounts")).status_code == 401
    assert broker.exchanges == 3  # once per call, never a loop
    await keeper.close()


async def test_a_refused_api_token_is_said_without_the_token() -> None:
    broker = Broker()
    broker.refuse = True
    keeper = TokenKeeper(API_TOKEN, broker.send)
    with pytest.raises(RestFailure) as caught:
        await keeper.current()
    assert caught.value.status == 401
    assert caught.value.text == (
        "the broker refused the API token: API token: bad token *** (HTTP 401)"
    )
    assert API_TOKEN not in repr(keeper)


async def test_the_token_is_renewed_at_80_percent_of_its_life() -> None:
    broker = Broker(lifetime=1)
    keeper = TokenKeeper(API_TOKEN, broker.send)
    token = await keeper.current()
    assert token.renew_at_ms - now_ms() <= 800
    await until(lambda: broker.exchanges >= 2, timeout=3)
    assert keeper.token is not token
    assert keeper.redact(f"bearer {keeper.token.jwt if keeper.token else ''}") == "bearer ***"
    await keeper.close()
    renewed = broker.exchanges
    await asyncio.sleep(1.0)
    assert broker.exchanges == renewed  # closed: no more renewals


def test_an_empty_api_token_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="api_token"):
        TokenKeeper("", Broker().send)
