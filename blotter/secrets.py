"""API secrets: kept in the OS keyring, and kept out of logs and error text (design.md §6).

Every secret is one keyring entry: service ``blotter``, username ``<account>/<field>`` (fields per
venue's spec, ``VenueSpec.secret_fields``). A missing or unusable keyring is a
``KeyringUnavailable`` whose message says how to get one on this platform; it is never a
traceback. Values loaded or stored here are registered with a ``Redactor``, and
``install_redaction`` makes the log handlers scrub them (and secret-shaped text: JWTs, bearer
tokens, signature headers, signed JSON fields) from every record.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from blotter.config import AccountConfig
from blotter.redaction import MARKER, REDACTOR, RedactingFilter, Redactor, install_redaction
from blotter.venues.registry import SPECS

SERVICE: Final = "blotter"
SECRET_FIELDS: Final = {name: spec.secret_fields for name, spec in SPECS.items()}
KNOWN_FIELDS: Final = frozenset(f for fields in SECRET_FIELDS.values() for f in fields)

_T = TypeVar("_T")


class SecretsError(Exception):
    """Base of this module's errors; the text never holds a secret."""


class KeyringUnavailable(SecretsError):
    """No usable OS keyring: ``str()`` explains how to get one; ``reason`` is what went wrong."""

    def __init__(self, reason: str, *, help_text: str | None = None) -> None:
        self.reason = reason
        super().__init__(help_text if help_text is not None else keyring_help(reason))


class MissingSecret(SecretsError):
    """An account's secret is not in the keyring."""

    def __init__(self, account: str, field: str, venue: str, hint: str | None = None) -> None:
        self.account = account
        self.field = field
        self.venue = venue
        add = hint or f"blotter accounts add {_shell_word(account)} --venue {venue}"
        super().__init__(
            f"account {json.dumps(account, ensure_ascii=False)} has no {field} in the OS keyring "
            f"(service {SERVICE!r}, user {keyring_username(account, field)!r}); "
            f"add it with: {add} (it asks for {', '.join(SECRET_FIELDS.get(venue, (field,)))}; "
            f"if the account is already configured, remove it first with: "
            f"blotter accounts remove {_shell_word(account)})"
        )


def keyring_username(account: str, field: str) -> str:
    return f"{account}/{field}"


# ---------------------------------------------------------------------------------------------
# the keyring


def keyring_help(
    reason: str = "",
    platform: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """What to do about a missing or unusable keyring, for this platform."""
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    lines = [
        "No usable OS keyring for blotter's API secrets"
        + (f" ({reason})." if reason else ".")
    ]
    forced = environ.get("PYTHON_KEYRING_BACKEND", "")
    if forced:
        lines.append(
            f"PYTHON_KEYRING_BACKEND={forced} selects that backend; unset it to let keyring pick "
            "the operating system's keyring."
        )
    if platform == "darwin":
        lines.append(
            "blotter uses the macOS Keychain: run it as a logged-in user whose login keychain "
            "is unlocked (Keychain Access → File → Unlock Keychain \"login\"), and allow access "
            "when macOS asks."
        )
    elif platform.startswith(("win", "cygwin", "msys")):
        lines.append(
            "blotter uses the Windows Credential Manager; if keyring cannot reach it, reinstall "
            "it with its Windows support: pip install --force-reinstall keyring pywin32-ctypes"
        )
    else:
        bus = environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        lines.append(
            "blotter uses the Secret Service (the desktop keyring): install and run a provider "
            "such as GNOME Keyring (Debian/Ubuntu: sudo apt install gnome-keyring) or KWallet, "
            "in a session with a running D-Bus session bus"
            + ("" if bus else " (DBUS_SESSION_BUS_ADDRESS is not set here)")
            + ". Without a desktop: dbus-run-session -- sh -c "
            "'gnome-keyring-daemon --unlock --components=secrets; blotter …' (type the keyring "
            "password, then Ctrl+D)."
        )
        lines.append(
            "Last resort: pip install keyrings.alt keeps the secrets in a PLAINTEXT file in your "
            "home directory, readable by anyone who can read that directory or its backups."
        )
    return "\n".join(lines)


def _backend() -> KeyringBackend:
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyringrc or backend module
        raise KeyringUnavailable(f"keyring could not start: {_describe(exc)}") from None
    if isinstance(backend, (fail.Keyring, null.Keyring)) or (
        isinstance(backend, chainer.ChainerBackend) and not backend.backends
    ):
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        raise KeyringUnavailable(f"the active keyring backend is {name}, which stores nothing")
    return backend


def _call(action: str, op: Callable[[], _T], *hide: str) -> _T:
    """Run one keyring operation; every failure becomes ``KeyringUnavailable``."""
    try:
        return op()
    except keyring.errors.KeyringLocked:
        raise KeyringUnavailable(
            f"the keyring is locked and was not unlocked while trying to {action}: unlock it "
            "in your desktop session (no unlock prompt could be shown, or it was cancelled)"
        ) from None
    except keyring.errors.NoKeyringError:
        raise KeyringUnavailable("no keyring backend is available") from None
    except Exception as exc:  # noqa: BLE001 - DBus, InitError, PasswordSetError, OSError…
        text = _describe(exc)
        for value in hide:
            if value:
                text = text.replace(value, MARKER)
        raise KeyringUnavailable(f"could not {action}: {REDACTOR.redact(text)}") from None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _redactor(redactor: Redactor | None) -> Redactor:
    # not "redactor or REDACTOR": an empty Redactor is falsy (it has a length)
    return redactor if redactor is not None else REDACTOR


def _check_names(account: str, field: str) -> str:
    if not account or "/" in account:
        raise ValueError(f"invalid account name {account!r} (non-empty, without \"/\")")
    if field not in KNOWN_FIELDS:
        raise ValueError(f"unknown secret field {field!r} (known: {', '.join(sorted(KNOWN_FIELDS))})")
    return keyring_username(account, field)


def store_secret(
    account: str, field: str, value: str, redactor: Redactor | None = None
) -> None:
    """Put one secret in the keyring (replacing any old one) and check it reads back."""
    username = _check_names(account, field)
    if not isinstance(value, str) or not value:
        raise ValueError(f"the {field} is empty")
    if value != value.strip():
        raise ValueError(f"the {field} has leading or trailing whitespace (a pasted newline?)")
    if not value.isprintable():
        raise ValueError(f"the {field} contains control or non-printing characters")
    _redactor(redactor).add(value)
    backend = _backend()
    _call(f"store {username}", lambda: backend.set_password(SERVICE, username, value), value)
    stored = _call(f"read back {username}", lambda: backend.get_password(SERVICE, username), value)
    if stored != value:
        raise KeyringUnavailable(
            f"the keyring backend {type(backend).__name__} did not keep {username}"
        )


def load_secret(account: str, field: str, redactor: Redactor | None = None) -> str | None:
    """One secret from the keyring, or None when it is not there."""
    username = _check_names(account, field)
    backend = _backend()
    value = _call(f"read {username}", lambda: backend.get_password(SERVICE, username))
    if not value:
        return None
    _redactor(redactor).add(value)
    return value


def delete_secrets(account: str, venue: str | None = None) -> tuple[str, ...]:
    """Delete the account's secrets (the venue's fields, or every known field); returns the
    fields that were there."""
    if venue is None:
        fields = tuple(sorted(KNOWN_FIELDS))
    elif venue in SECRET_FIELDS:
        fields = SECRET_FIELDS[venue]
    else:
        raise ValueError(f"unknown venue {venue!r} (known: {', '.join(SECRET_FIELDS)})")
    backend = _backend()
    deleted: list[str] = []
    for field in fields:
        username = _check_names(account, field)

        def delete(username: str = username) -> bool:
            try:
                backend.delete_password(SERVICE, username)
            except keyring.errors.PasswordDeleteError:
                return False  # not there (what every backend says for "not found")
            return True

        if _call(f"delete {username}", delete):
            deleted.append(field)
    return tuple(deleted)


def load_credentials(
    account: AccountConfig, redactor: Redactor | None = None
) -> dict[str, str]:
    """The account's secrets by field name (``api_key``/``api_secret`` or ``api_token``), ready
    for the venue client; ``MissingSecret`` names the first one that is not stored."""
    credentials: dict[str, str] = {}
    for field in account.secret_fields:
        value = load_secret(account.name, field, redactor)
        if value is None:
            raise MissingSecret(account.name, field, account.venue, hint=add_command(account))
        credentials[field] = value
    return credentials


def add_command(account: AccountConfig) -> str:
    """The ``blotter accounts add`` line that recreates ``account`` (venue, env and URLs)."""
    words = ["blotter", "accounts", "add", _shell_word(account.name), "--venue", account.venue]
    if account.env != "live":
        words += ["--env", account.env]
    if not account.uses_default_urls:
        words += ["--rest-url", _shell_word(account.rest_url), "--ws-url",
                  _shell_word(account.ws_url)]
    return " ".join(words)


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


__all__ = [
    "KNOWN_FIELDS",
    "MARKER",
    "REDACTOR",
    "SERVICE",
    "KeyringUnavailable",
    "MissingSecret",
    "RedactingFilter",
    "Redactor",
    "SecretsError",
    "add_command",
    "delete_secrets",
    "install_redaction",
    "keyring_help",
    "keyring_username",
    "load_credentials",
    "load_secret",
    "store_secret",
]
