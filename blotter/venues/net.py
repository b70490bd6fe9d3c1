"""The network facts every venue client shares: which URLs it may use, how it makes its HTTP
client, and how a failed connection is put into words.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:  # loaded with the first HTTP client: the config and the engine need neither
    import ssl

    import httpx
    from websockets.exceptions import ConnectionClosed

REST_TIMEOUT: Final = 10.0  # s: every REST call of every venue is answered within this, or fails


class RestFailure(Exception):
    """A REST call that did not succeed, the same shape at every venue.

    ``text`` is for the trader, in the venue's words where it said any (never holding a secret:
    the client redacts before raising); ``status`` is the HTTP status, 0 when the venue could
    not be reached or answered nothing readable; ``reply`` is the venue's parsed error answer
    (the venue's own type), when there was one.
    """

    def __init__(self, text: str, *, status: int = 0, reply: Any = None) -> None:
        super().__init__(text)
        self.text = text
        self.status = status
        self.reply = reply


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine: ``localhost``, 127.0.0.0/8, ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, secure: str, plain: str, what: str) -> tuple[str, bool]:
    """``url`` if its scheme is ``secure`` (or ``plain`` on a loopback host), and whether its
    host is loopback; ``ValueError`` saying what to write instead otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in (secure, plain) or not parts.hostname:
        raise ValueError(f"{what} must be a {secure}:// URL, got {url!r}")
    loopback = is_loopback(parts.hostname)
    if parts.scheme == plain and not loopback:
        raise ValueError(
            f"refusing unencrypted {what} {url!r}: plain {plain}:// is allowed only for a "
            f"loopback host (127.0.0.1, ::1, localhost); use {secure}://"
        )
    return url, loopback


def check_origin(url: str, example: str) -> tuple[str, bool]:
    """A ``rest_url`` that must be an origin only (the client appends the venue's paths):
    ``scheme://host[:port]`` and whether the host is loopback; ``ValueError`` naming
    ``example`` for anything with a path, query or fragment."""
    url, loopback = check_url(url, "https", "http", "rest_url")
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"rest_url must be an origin such as {example}, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}", loopback


def rest_client(origin: str, loopback: bool, timeout: float) -> httpx.AsyncClient:
    """One HTTP client per account: connections reused, every request bounded by ``timeout``
    (connect by 5 s); proxies from the environment are not used for a loopback venue."""
    import httpx

    return httpx.AsyncClient(
        base_url=origin,
        timeout=httpx.Timeout(timeout, connect=5.0),
        trust_env=not loopback,
        verify=tls_context(not loopback),
        headers={"user-agent": "blotter"},
    )


_TLS_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def tls_context(trust_env: bool) -> ssl.SSLContext:
    """The TLS context every account's HTTP client shares (one per ``trust_env``: whether
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` pick the CA certificates), verifying as httpx's default
    does. Made once: each one reads and parses the CA bundle (20-40 ms)."""
    context = _TLS_CONTEXTS.get(trust_env)
    if context is None:
        import httpx

        context = _TLS_CONTEXTS[trust_env] = httpx.create_ssl_context(trust_env=trust_env)
    return context


def wire_logger(venue: str) -> logging.Logger:
    """The logger a client hands the websockets library. That library logs every frame at
    DEBUG, and an auth frame (or a hub URL) carries the key or the token: this logger never
    goes below INFO, whatever the application's log level."""
    logger = logging.getLogger(f"blotter.venues.{venue}.wire")
    logger.setLevel(logging.INFO)
    return logger


async def send(
    http: httpx.AsyncClient,
    method: str,
    target: str,
    *,
    content: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    unreachable: str,
    redact: Callable[[str], str],
) -> httpx.Response:
    """One HTTP exchange, answered within ``REST_TIMEOUT`` (and a second of slack) whatever the
    response; a network failure or no answer raises ``RestFailure`` (status 0) saying
    ``unreachable`` and what went wrong, with ``redact`` taking the secrets out."""
    import httpx

    try:
        # in a task of its own, as asyncio.wait_for runs it: awaited in the caller's task under
        # asyncio.timeout, a cancel from the window failed in httpx's anyio lock ("Attempted to
        # exit cancel scope in a different task than it was entered in")
        return await asyncio.wait_for(
            http.request(method, target, content=content or None, headers=headers),
            REST_TIMEOUT + 1.0,
        )
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        raise RestFailure(f"{unreachable}: {redact(describe_error(exc))}") from None


def now_ms() -> int:
    """The wall clock in milliseconds since the epoch (UTC): the time stamped on notices."""
    return time.time_ns() // 1_000_000


def describe_error(exc: BaseException) -> str:
    """An exception as a short line for a state reason or a notice: ``Type: text``."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def close_code(exc: ConnectionClosed) -> str:
    """The close code and reason of a websocket that ended; "1006" when no close frame came."""
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "1006"
    return f"{frame.code} {frame.reason}".strip()
