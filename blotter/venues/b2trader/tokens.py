"""The login's access token, kept fresh (I/O).

B2TRADER signs nothing: the API token is exchanged for a JWT (§1.2), and the JWT goes on every
REST call and in the hub URL. ``TokenKeeper`` exchanges it when none is held, again at 80 % of
the JWT's life (so no call carries an expired one), and again after a 401 (once per call). It
sends through the caller's REST function and never shows a token in a text it raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader.replies import AccessToken, parse_access_token, parse_error
from blotter.venues.b2trader.requests import HttpRequest, access_token_request, hide_tokens
from blotter.venues.base import RestFailure
from blotter.venues.net import now_ms

log = logging.getLogger("blotter.venues.b2trader")

Send = Callable[[HttpRequest, str], Awaitable[httpx.Response]]
"""``send(request, subject)``: the response, or ``RestFailure`` when the venue was not reached."""


class TokenKeeper:
    """The JWT of one login: ``current()`` gives a valid one, ``forget()`` drops a refused one,
    ``authorised()`` sends a call with it (exchanging again once on a 401)."""

    def __init__(self, api_token: str, send: Send, who: object = "b2trader") -> None:
        if not api_token:
            raise ValueError("B2TRADER needs an api_token")
        self._api_token = api_token
        self._send = send
        self._who = who  # for the log
        self._token: AccessToken | None = None
        self._lock: asyncio.Lock | None = None
        self._renewals: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:  # never a token
        return f"TokenKeeper({self._who})"

    @property
    def token(self) -> AccessToken | None:
        """The JWT held now, if any."""
        return self._token

    async def current(self) -> AccessToken:
        """The current JWT, exchanged again when none is held or it is due for renewal.

        Raises ``RestFailure``: the venue unreachable (status 0), or its refusal (``reply`` is
        the ``ErrorReply``; a 401/403 reads "the broker refused the API token: …")."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            token = self._token
            if token is not None and not token.needs_renewal(now_ms()):
                return token
            response = await self._send(access_token_request(self._api_token), "API token")
            if response.status_code != 200:
                error = parse_error(
                    response.status_code, response.content, "API token",
                    headers=dict(response.headers), now_ms=now_ms(),
                )
                text = error.text
                if response.status_code in (401, 403):
                    text = f"the broker refused the API token: {error.text}"
                raise RestFailure(self.redact(text), status=error.http_status, reply=error)
            try:
                token = parse_access_token(response.content, now_ms())
            except MalformedFrame as exc:
                raise RestFailure(f"unreadable access-token answer ({exc})") from None
            self._token = token
            if not self._closed:
                task = asyncio.get_running_loop().create_task(self._renew_later(token))
                self._renewals.add(task)
                task.add_done_callback(self._renewals.discard)
            return token

    def forget(self, token: AccessToken | None = None) -> None:
        """Drop ``token`` if it is still the one held (any held token without one): the venue
        refused it, so the next call exchanges the API token again."""
        if token is None or self._token is token:
            self._token = None

    async def authorised(
        self, build: Callable[[str], HttpRequest], subject: str
    ) -> httpx.Response:
        """Send ``build(jwt)`` with the current JWT; a 401 exchanges the API token again and
        sends once more. The ``httpx.Response`` (any status), or ``RestFailure``."""
        token = await self.current()
        response = await self._send(build(token.jwt), subject)
        if response.status_code == 401:
            self.forget(token)
            token = await self.current()
            response = await self._send(build(token.jwt), subject)
        return response

    def redact(self, text: str) -> str:
        """``text`` without the API token, the JWT held, or any JWT-looking text."""
        text = text.replace(self._api_token, "***")
        token = self._token
        if token is not None and token.jwt:
            text = text.replace(token.jwt, "***")
        return hide_tokens(text)

    async def close(self) -> None:
        """Stop renewing (the client is closing)."""
        self._closed = True
        for task in list(self._renewals):
            task.cancel()
        if self._renewals:
            await asyncio.gather(*self._renewals, return_exceptions=True)

    async def _renew_later(self, token: AccessToken) -> None:
        """Renew at 80 % of the JWT's life, so REST calls never carry an expired one."""
        await asyncio.sleep(max(0.0, (token.renew_at_ms - now_ms()) / 1000))
        if self._token is not token or self._closed:
            return
        try:
            await self.current()
        except RestFailure as failure:
            log.info("%s: token renewal failed: %s", self._who, failure.text)
