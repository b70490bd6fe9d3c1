"""Signed Bitfinex REST calls of one API key (bitfinex.md §5): the I/O beside the socket.

Every call takes the key's next nonce under the client's nonce lock, which the websocket auth
takes too: Bitfinex keeps one nonce counter per key for both, so a REST call must never overtake
the auth nonce in flight. A nonce refused as too small (another process used the key) is bumped
and the call retried once. Everything that is not a success is a ``RestFailure`` in the venue's
words (its parsed ``RestError`` in ``reply``), never holding the key or the secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

import httpx
import orjson

from blotter.venues.base import RestFailure
from blotter.venues.bitfinex.nonce import NonceSource
from blotter.venues.bitfinex.replies import ERR_AUTH_NONCE, parse_rest_error
from blotter.venues.bitfinex.requests import rest_request
from blotter.venues.net import send

NONCE_JUMP: Final = 1_000_000  # past a nonce someone else used: one second of microseconds


class SignedRest:
    """POSTs signed with one key: ``call(path, body)`` returns the decoded JSON answer.

    ``http`` gives the account's HTTP client (the owner creates and closes it); ``redact``
    takes the secrets out of a text before it is raised.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        nonce: NonceSource,
        http: Callable[[], httpx.AsyncClient],
        redact: Callable[[str], str],
    ) -> None:
        self.nonce = nonce
        self._key = api_key
        self._secret = api_secret
        self._http = http
        self._redact = redact
        self._lock: asyncio.Lock | None = None

    def nonce_lock(self) -> asyncio.Lock:
        """Held while a nonce is taken and used (created in the running loop on first use)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def skip_nonces(self) -> None:
        """The venue saw a larger nonce of this key ("nonce: small"): jump ahead of it."""
        self.nonce.bump(self.nonce.last + NONCE_JUMP)

    async def call(self, path: str, body: dict[str, Any], retry_nonce: bool = True) -> Any:
        """One signed POST to ``/v2/<path>``; the decoded answer, or ``RestFailure``."""
        http = self._http()
        async with self.nonce_lock():
            request = rest_request(path, body, self._key, self._secret, self.nonce.next())
            response = await send(
                http, "POST", request.path, content=request.body, headers=request.headers,
                unreachable="cannot reach Bitfinex", redact=self._redact,
            )
        if response.status_code != 200:
            error = parse_rest_error(response.status_code, response.content)
            if error.code == ERR_AUTH_NONCE and retry_nonce:
                self.skip_nonces()
                return await self.call(path, body, retry_nonce=False)
            raise RestFailure(error.text, status=error.http_status, reply=error)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise RestFailure("unreadable answer from Bitfinex", status=200) from None
