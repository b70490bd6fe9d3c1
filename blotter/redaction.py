"""Redaction: secrets kept out of logs and error text (design.md §6).

A ``Redactor`` holds the secret values loaded or stored (``blotter.secrets`` registers them) and
masks them, and secret-shaped text (JWTs, bearer tokens, signature headers, signed JSON fields),
in any string; ``RedactingFilter`` / ``install_redaction`` make log handlers scrub every record.
Apart from the keyring, so that logging is set up without loading the keyring's backends.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote

MARKER: Final = "***"
MIN_SECRET_LEN: Final = 4  # shorter values are not registered: they would blank ordinary text

_NAME_VALUE = r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}\]&]+)"""

# Secret-shaped text, whoever logs it. Each pattern's group "keep" survives; the rest is masked.
_PATTERNS: Final[tuple[re.Pattern[str], ...]] = (
    # JSON / repr / key=value fields that carry a key, a token or a signature on the wire:
    # Bitfinex WS auth (apiKey, authSig, authPayload), B2TRADER token exchange (token,
    # accessToken, refreshToken), and the generic names.
    re.compile(
        r"""(?ix)(?P<keep>(?<![\w-])(?P<q>["']?)
        (?:apiKey|api_key|api-key|apiSecret|api_secret|api-secret|api_token|apiToken|authSig
        |authPayload|sign|signature|secret|password|token|accessToken|access_token
        |refreshToken|refresh_token)
        (?P=q)\s*[:=]\s*)"""
        + _NAME_VALUE
    ),
    # Bybit WS auth: {"op":"auth","args":[apiKey, expires, signature]}
    re.compile(
        r"""(?P<keep>(?P<q>["'])args(?P=q)\s*:\s*\[\s*)(?P<a>["'])(?:(?!(?P=a)).)*(?P=a)"""
        r"""(?P<mid>\s*,\s*\d+\s*,\s*)(?P<b>["'])(?:(?!(?P=b)).)*(?P=b)"""
    ),
    # Header values: Bybit X-BAPI-API-KEY / X-BAPI-SIGN, Bitfinex bfx-apikey / bfx-signature.
    re.compile(
        r"""(?i)(?P<keep>(?<![\w-])(?:x-bapi-api-key|x-bapi-sign|bfx-apikey|bfx-signature)"""
        r"""(?![\w-])["']?\s*[:=]\s*)""" + _NAME_VALUE
    ),
    # Authorization: Bearer <token> (any scheme), and a bare "Bearer <token>"
    re.compile(
        r"""(?i)(?P<keep>(?<![\w-])authorization["']?\s*[:=]\s*["']?(?:[a-z]+\s+)?)"""
        r"""[^\s"',;}]+"""
    ),
    re.compile(r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
    # query parameters: ...?access_token=<JWT>&...
    re.compile(
        r"""(?i)(?P<keep>[?&;](?:access_token|token|api_key|apikey|api_secret|secret|signature"""
        r"""|sign|password|key)=)[^&#\s"'<>]*"""
    ),
    # user:password@ in a URL
    re.compile(r"(?i)(?P<keep>\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+(?=@)"),
    # JWTs anywhere: three base64url segments, the first a JSON object ("eyJ" = '{"')
    re.compile(r"(?P<keep>)\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    # hex HMAC signatures: SHA-256 (64), SHA-384 (96), SHA-512 (128 hex digits)
    re.compile(r"(?P<keep>)(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{32}){2,4}(?![0-9A-Fa-f])"),
)


def _mask(match: re.Match[str]) -> str:
    groups = match.groupdict()
    keep = groups.get("keep") or ""
    if "mid" in groups and groups["mid"] is not None:  # the Bybit auth args
        a, b = groups["a"], groups["b"]
        return f"{keep}{a}{MARKER}{a}{groups['mid']}{b}{MARKER}{b}"
    value = match.group(0)[match.end("keep") - match.start():]
    quote_char = value[:1] if value[:1] in ("'", '"') else ""
    return f"{keep}{quote_char}{MARKER}{quote_char}"


class Redactor:
    """Masks known secret values (registered as they are loaded) and secret-shaped text."""

    def __init__(self, secrets: Iterable[str] = (), marker: str = MARKER) -> None:
        self.marker = marker
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        with self._lock:
            for secret in secrets:
                if isinstance(secret, str) and len(secret) >= MIN_SECRET_LEN:
                    self._secrets.add(secret)
            self._compile()

    def discard(self, *secrets: str) -> None:
        with self._lock:
            self._secrets.difference_update(secrets)
            self._compile()

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._compile()

    def __len__(self) -> int:
        return len(self._secrets)

    def _compile(self) -> None:
        forms: set[str] = set()
        for secret in self._secrets:
            # as written, percent-encoded (in a URL) and JSON-escaped (in a body)
            forms.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})
        ordered = sorted((f for f in forms if f), key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact(self, text: str) -> str:
        known = self._known  # one read: a concurrent add() swaps the whole pattern
        if known is not None:
            text = known.sub(self.marker, text)
        for pattern in _PATTERNS:
            text = pattern.sub(self._pattern_mask, text)
        return text

    def _pattern_mask(self, match: re.Match[str]) -> str:
        masked = _mask(match)
        return masked if self.marker == MARKER else masked.replace(MARKER, self.marker)

    __call__ = redact


REDACTOR: Final = Redactor()
"""The app's redactor: ``load_credentials``/``store_secret`` register into it by default."""

_EXC_FORMATTER: Final = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Scrubs a record before its handler formats it: the message with its args merged in, the
    exception text and the stack. The record keeps the scrubbed text only (``args`` and
    ``exc_info`` are cleared), so no later formatter can bring a secret back."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor if redactor is not None else REDACTOR

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor.redact
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - bad %-args: logging's own report would print them
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _EXC_FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(
    logger: logging.Logger | None = None, redactor: Redactor | None = None
) -> RedactingFilter:
    """Attach a ``RedactingFilter`` to every handler of ``logger`` (default: the root logger,
    and then also logging's last-resort handler), so records of child loggers are covered too.
    Handlers added later need ``handler.addFilter(<the returned filter>)``. Idempotent."""
    target = logger if logger is not None else logging.getLogger()
    redacting = RedactingFilter(redactor)
    handlers = list(target.handlers)
    if target is logging.getLogger() and logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
    return redacting
