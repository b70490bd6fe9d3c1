"""Secrets: the keyring (in memory, and the real one when there is one), its failures, and the
redaction of secrets from log records."""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import Callable, Iterator

import keyring
import keyring.core
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from blotter import secrets
from blotter.config import make_account
from blotter.secrets import (
    MARKER,
    SERVICE,
    KeyringUnavailable,
    MissingSecret,
    RedactingFilter,
    Redactor,
    delete_secrets,
    install_redaction,
    keyring_help,
    load_credentials,
    load_secret,
    store_secret,
)

B2_REST = "https://broker.example"
B2_WS = "wss://broker.example/frontoffice/ws/v4/account"
KEY = "Kx7pQ2mZ9wLr4TbV8nYc3HdF6sJa1Ue5GoWi0XkNq"
SECRET = "s3cr3t-Zq8Rk2Lp5Wn9Tb4Vc7Xm1Hd6Fj3Ga0Ye"
TOKEN = "b2t-token-7Hh3Kk9Ll2Mm5Nn8Pp1Qq4Rr6"


class MemoryKeyring(KeyringBackend):
    """A keyring in a dict, for tests; set with keyring.set_keyring, never auto-detected."""

    priority = 1
    viable = False  # keyring discovers every KeyringBackend subclass: keep these out of it

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("Password not found")


class BrokenKeyring(MemoryKeyring):
    """Fails like a Secret Service whose D-Bus went away (not a KeyringError)."""

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def get_password(self, service: str, username: str) -> str | None:
        raise self.exc

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.exc

    def delete_password(self, service: str, username: str) -> None:
        raise self.exc


class ForgetfulKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        pass


Install = Callable[[KeyringBackend], KeyringBackend]


@pytest.fixture
def use_keyring() -> Iterator[Install]:
    """Swap the active keyring backend for the test; restore the old one after."""
    old = keyring.get_keyring()
    installed: list[KeyringBackend] = []

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        installed.append(backend)
        return backend

    yield install
    keyring.set_keyring(old)


@pytest.fixture
def memory(use_keyring: Install) -> MemoryKeyring:
    backend = MemoryKeyring()
    use_keyring(backend)
    return backend


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


# ---------------------------------------------------------------------------------------------
# keyring round trip


def test_store_load_delete_round_trip(memory: MemoryKeyring, redactor: Redactor) -> None:
    store_secret("bfx-main", "api_key", KEY, redactor)
    store_secret("bfx-main", "api_secret", SECRET, redactor)
    assert memory.entries == {
        (SERVICE, "bfx-main/api_key"): KEY,
        (SERVICE, "bfx-main/api_secret"): SECRET,
    }
    assert SERVICE == "blotter"
    assert load_secret("bfx-main", "api_key", redactor) == KEY
    assert load_secret("other", "api_key", redactor) is None
    store_secret("bfx-main", "api_key", KEY + "2", redactor)  # replaces
    assert load_secret("bfx-main", "api_key", redactor) == KEY + "2"
    assert delete_secrets("bfx-main", "bitfinex") == ("api_key", "api_secret")
    assert memory.entries == {}
    assert delete_secrets("bfx-main", "bitfinex") == ()  # already gone: not an error


def test_delete_secrets_of_every_field_when_the_venue_is_unknown(memory: MemoryKeyring,
                                                                 redactor: Redactor) -> None:
    store_secret("x", "api_token", TOKEN, redactor)
    store_secret("x", "api_key", KEY, redactor)
    store_secret("y", "api_key", KEY, redactor)
    assert delete_secrets("x") == ("api_key", "api_token")
    assert list(memory.entries) == [(SERVICE, "y/api_key")]
    with pytest.raises(ValueError, match="unknown venue"):
        delete_secrets("x", "kraken")


def test_load_credentials_per_venue(memory: MemoryKeyring, redactor: Redactor) -> None:
    store_secret("by", "api_key", KEY, redactor)
    store_secret("by", "api_secret", SECRET, redactor)
    store_secret("b2", "api_token", TOKEN, redactor)
    fresh = Redactor()
    by = make_account("by", "bybit")
    b2 = make_account("b2", "b2trader", rest_url=B2_REST, ws_url=B2_WS)
    assert load_credentials(by, fresh) == {"api_key": KEY, "api_secret": SECRET}
    assert load_credentials(b2, fresh) == {"api_token": TOKEN}
    # what was loaded is now redacted
    assert fresh.redact(f"{KEY} {SECRET} {TOKEN}") == f"{MARKER} {MARKER} {MARKER}"


def test_load_credentials_registers_with_the_app_redactor_by_default(
    memory: MemoryKeyring,
) -> None:
    store_secret("by", "api_key", KEY, Redactor())
    store_secret("by", "api_secret", SECRET, Redactor())
    try:
        load_credentials(make_account("by", "bybit"))
        assert secrets.REDACTOR.redact(SECRET) == MARKER
    finally:
        secrets.REDACTOR.discard(KEY, SECRET)
    assert secrets.REDACTOR.redact(SECRET) == SECRET


def test_missing_secret_names_account_field_and_how_to_add(memory: MemoryKeyring,
                                                           redactor: Redactor) -> None:
    store_secret("by", "api_key", KEY, redactor)
    with pytest.raises(MissingSecret) as info:
        load_credentials(make_account("by", "bybit", env="testnet"), redactor)
    error = info.value
    assert (error.account, error.field, error.venue) == ("by", "api_secret", "bybit")
    text = str(error)
    assert 'account "by" has no api_secret in the OS keyring' in text
    assert "'by/api_secret'" in text
    assert "blotter accounts add by --venue bybit --env testnet" in text
    assert "api_key, api_secret" in text
    assert KEY not in text


def test_missing_secret_hint_recreates_custom_urls(memory: MemoryKeyring) -> None:
    account = make_account("my broker", "b2trader", rest_url=B2_REST, ws_url=B2_WS)
    with pytest.raises(MissingSecret) as info:
        load_credentials(account, Redactor())
    assert (
        f"blotter accounts add 'my broker' --venue b2trader --rest-url {B2_REST} --ws-url {B2_WS}"
        in str(info.value)
    )
    assert "blotter accounts remove 'my broker'" in str(info.value)


@pytest.mark.parametrize(
    ("account", "field", "value", "match"),
    [
        ("", "api_key", KEY, "invalid account name"),
        ("a/b", "api_key", KEY, "invalid account name"),
        ("a", "apikey", KEY, "unknown secret field"),
        ("a", "api_key", "", "is empty"),
        ("a", "api_key", KEY + "\n", "leading or trailing whitespace"),
        ("a", "api_key", " " + KEY, "leading or trailing whitespace"),
        ("a", "api_key", KEY[:5] + "\x00" + KEY[5:], "control or non-printing"),
    ],
)
def test_store_secret_refuses_bad_input_without_echoing_it(
    memory: MemoryKeyring, account: str, field: str, value: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match) as info:
        store_secret(account, field, value, Redactor())
    assert KEY not in str(info.value)
    assert memory.entries == {}


# ---------------------------------------------------------------------------------------------
# no usable keyring


@pytest.mark.parametrize(
    "backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"]
)
def test_fail_and_null_backends_are_unavailable(use_keyring: Install,
                                                backend: KeyringBackend) -> None:
    use_keyring(backend)
    for call in (
        lambda: store_secret("a", "api_key", KEY, Redactor()),
        lambda: load_secret("a", "api_key", Redactor()),
        lambda: delete_secrets("a", "bybit"),
        lambda: load_credentials(make_account("a", "bybit"), Redactor()),
    ):
        with pytest.raises(KeyringUnavailable) as info:
            call()
        text = str(info.value)
        assert text.startswith("No usable OS keyring for blotter's API secrets (the active "
                               "keyring backend is keyring.backends.")
        assert "stores nothing" in text
        assert KEY not in text
        assert info.value.__cause__ is None
        assert info.value.__context__ is None or info.value.__suppress_context__


def test_empty_chainer_is_unavailable(use_keyring: Install,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # an empty chainer would accept set_password and keep nothing
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [], raising=False)
    use_keyring(chainer.ChainerBackend())
    with pytest.raises(KeyringUnavailable, match="ChainerBackend, which stores nothing"):
        store_secret("a", "api_key", KEY, Redactor())


def test_fail_backend_message_on_linux(use_keyring: Install,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    use_keyring(fail.Keyring())
    monkeypatch.setattr(secrets.sys, "platform", "linux")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    with pytest.raises(KeyringUnavailable) as info:
        load_secret("a", "api_key", Redactor())
    text = str(info.value)
    assert "Secret Service" in text
    assert "gnome-keyring" in text and "KWallet" in text
    assert "DBUS_SESSION_BUS_ADDRESS is not set" in text
    assert "pip install keyrings.alt" in text and "PLAINTEXT" in text
    assert "Traceback" not in text


def test_keyring_help_is_platform_aware() -> None:
    linux = keyring_help("x", "linux", {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/bus"})
    assert "gnome-keyring" in linux and "not set" not in linux
    mac = keyring_help("x", "darwin", {})
    assert "macOS Keychain" in mac and "gnome" not in mac and "keyrings.alt" not in mac
    win = keyring_help("x", "win32", {})
    assert "Windows Credential Manager" in win and "pywin32-ctypes" in win
    forced = keyring_help("x", "linux", {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring" in forced
    assert keyring_help("", "linux", {}).startswith("No usable OS keyring for blotter's API "
                                                    "secrets.\n")


def test_backend_errors_become_unavailable_without_the_secret(use_keyring: Install) -> None:
    class DBusErrorResponse(Exception):  # what jeepney raises; not a KeyringError
        pass

    use_keyring(BrokenKeyring(DBusErrorResponse(
        f"org.freedesktop.DBus.Error.ServiceUnknown: secret {SECRET} not stored"
    )))
    with pytest.raises(KeyringUnavailable) as info:
        store_secret("a", "api_secret", SECRET, Redactor())
    text = str(info.value)
    assert "could not store a/api_secret: DBusErrorResponse: " in text
    assert SECRET not in text and MARKER in text
    with pytest.raises(KeyringUnavailable, match="could not read a/api_key"):
        load_secret("a", "api_key", Redactor())
    with pytest.raises(KeyringUnavailable, match="could not delete a/api_key"):
        delete_secrets("a", "bybit")


def test_locked_keyring(use_keyring: Install) -> None:
    locked = keyring.errors.KeyringLocked("Failed to unlock the collection!")
    use_keyring(BrokenKeyring(locked))
    with pytest.raises(KeyringUnavailable, match="the keyring is locked"):
        load_secret("a", "api_key", Redactor())


def test_no_keyring_error_from_a_backend(use_keyring: Install) -> None:
    use_keyring(BrokenKeyring(keyring.errors.NoKeyringError("none")))
    with pytest.raises(KeyringUnavailable, match="no keyring backend is available"):
        load_secret("a", "api_key", Redactor())


def test_keyring_that_does_not_keep_the_secret(use_keyring: Install) -> None:
    use_keyring(ForgetfulKeyring())
    with pytest.raises(KeyringUnavailable, match="did not keep a/api_key"):
        store_secret("a", "api_key", KEY, Redactor())


def test_keyring_that_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> KeyringBackend:
        raise RuntimeError("bad keyringrc.cfg")

    monkeypatch.setattr(secrets.keyring, "get_keyring", broken)
    with pytest.raises(KeyringUnavailable, match="keyring could not start: RuntimeError: bad"):
        load_secret("a", "api_key", Redactor())


# ---------------------------------------------------------------------------------------------
# the real keyring (CI runs this under dbus-run-session + gnome-keyring-daemon)


def _real_keyring_problem(reason: str) -> None:
    if os.environ.get("BLOTTER_REAL_KEYRING") == "required":
        pytest.fail(f"a real keyring is required here: {reason}")
    pytest.skip(f"no usable real keyring: {reason}")


@pytest.fixture
def real_keyring() -> Iterator[KeyringBackend]:
    """The backend keyring picks on its own (keyringrc, PYTHON_KEYRING_BACKEND, priorities)."""
    old = keyring.get_keyring()
    keyring.core.init_backend()
    try:
        yield keyring.get_keyring()
    finally:
        keyring.set_keyring(old)


@pytest.mark.real_keyring
def test_real_keyring_round_trip(real_keyring: KeyringBackend) -> None:
    if isinstance(real_keyring, (fail.Keyring, null.Keyring)):
        backend = type(real_keyring)
        _real_keyring_problem(f"the default backend is {backend.__module__}.{backend.__name__}")
    account = f"blotter-test-{uuid.uuid4().hex[:12]}"
    value = f"real-{uuid.uuid4().hex}"
    redactor = Redactor()
    try:
        store_secret(account, "api_token", value, redactor)
    except KeyringUnavailable as exc:
        _real_keyring_problem(exc.reason)
    try:
        assert load_secret(account, "api_token", redactor) == value
        assert keyring.get_password(SERVICE, f"{account}/api_token") == value
        b2 = make_account(account, "b2trader", rest_url=B2_REST, ws_url=B2_WS)
        assert load_credentials(b2, redactor) == {"api_token": value}
    finally:
        assert delete_secrets(account, "b2trader") == ("api_token",)
    assert load_secret(account, "api_token", redactor) is None


# ---------------------------------------------------------------------------------------------
# redaction


JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiZXhwIjoxNzAwMDAwMDAwfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
HEX64 = "6abbd46cbb93c45a96a20a387757245b5ba2a8b9502eb45811472b8676d35c72"
HEX96 = "ab" * 48


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        # JWTs, anywhere
        (f"token is {JWT}.", [JWT, JWT[:40]], ["token is"]),
        # a B2TRADER websocket URL
        (f"connect wss://broker.example/frontoffice/ws/v4/account?access_token={JWT}&id=7",
         [JWT[:20]], ["wss://broker.example/frontoffice/ws/v4/account?access_token=", "&id=7"]),
        ("GET /x?access_token=opaque-123 HTTP/1.1", ["opaque-123"], ["access_token=", "HTTP/1.1"]),
        # Authorization headers, as text and as a dict repr
        ("Authorization: Bearer abc.def-ghi", ["abc.def-ghi"], ["Authorization: Bearer "]),
        ("{'Authorization': 'Bearer xyz123', 'accountId': '685a7eaa'}", ["xyz123"],
         ["'accountId': '685a7eaa'"]),
        ("authorization=Basic dXNlcjpwYXNz", ["dXNlcjpwYXNz"], ["authorization="]),
        # Bybit headers, the sign-type header kept
        (('{"X-BAPI-API-KEY": "bybitkey1", "X-BAPI-SIGN": "f00d", "X-BAPI-SIGN-TYPE": "2", '
         '"X-BAPI-TIMESTAMP": "1700000000000"}'), ["bybitkey1", "f00d"],
         ['"X-BAPI-SIGN-TYPE": "2"', "1700000000000"]),
        ("x-bapi-api-key: bybitkey1\r\nx-bapi-sign: f00d\r\n", ["bybitkey1", "f00d"], []),
        # Bitfinex REST headers (the nonce kept) and WS auth
        ("bfx-nonce: 1700000000000000, bfx-apikey: bfxkey1, bfx-signature: cafe",
         ["bfxkey1", "cafe"], ["bfx-nonce: 1700000000000000"]),
        ('{"event":"auth","apiKey":"bfxkey1","authSig":"' + HEX96 + '","authNonce":17,'
         '"authPayload":"AUTH17","filter":["trading"]}', ["bfxkey1", HEX96, "AUTH17"],
         ['"authNonce":17', '"filter":["trading"]']),
        # Bybit WS auth
        ('{"op":"auth","args":["bybitkey1",1700000010000,"' + HEX64 + '"]}',
         ["bybitkey1", HEX64], ['"op":"auth"', "1700000010000"]),
        ("{'op': 'auth', 'args': ['bybitkey1', 1700000010000, 'abc']}", ["bybitkey1", "'abc'"],
         ["1700000010000"]),
        # generic JSON fields, JSON and Python repr
        (('{"api_key": "k1", "api_secret": "s1", "sign": "g1", "signature": "t1", '
         '"design": "keep", "signed": "keep2"}'), ['"k1"', '"s1"', '"g1"', '"t1"'],
         ['"design": "keep"', '"signed": "keep2"']),
        ("{'api_key': 'k1', 'api_token': 't1'}", ["'k1'", "'t1'"], ["'api_key': "]),
        # B2TRADER token exchange
        ('{"token": "tok-1"} -> {"accessToken": "acc-1", "refreshToken": "ref-1"}',
         ["tok-1", "acc-1", "ref-1"], ['"accessToken": ']),
        # bare hex signatures (64, 96), not shorter ids
        (f"sig={HEX64}; other={HEX96}; id=685a7eaa360f9e7416221a61", [HEX64, HEX96],
         ["685a7eaa360f9e7416221a61"]),
        # user:password in a URL
        ("https://me:pa55w0rd@broker.example/x", ["pa55w0rd"], ["@broker.example/x"]),
    ],
)
def test_redactor_patterns(text: str, gone: list[str], kept: list[str]) -> None:
    out = Redactor().redact(text)
    for secret in gone:
        assert secret not in out, out
    for part in kept:
        assert part in out, out
    assert MARKER in out
    assert Redactor().redact(out) == out  # idempotent


def test_redactor_known_values_and_their_encodings() -> None:
    odd = "ab/c+d=e\"f"
    redactor = Redactor([KEY])
    redactor.add(odd, "", "abc")  # too short / empty values are not registered
    assert len(redactor) == 2
    text = f"k={KEY} raw={odd} url=ab%2Fc%2Bd%3De%22f json=ab/c+d=e\\\"f abc"
    out = redactor.redact(text)
    assert KEY not in out and odd not in out and "ab%2Fc" not in out and "ab/c+d" not in out
    assert out.endswith(" abc")
    redactor.discard(KEY)
    assert redactor.redact(KEY) == KEY
    redactor.clear()
    assert redactor.redact(odd) == odd


def test_redactor_custom_marker() -> None:
    redactor = Redactor([KEY], marker="[redacted]")
    assert redactor.redact(f"{KEY} Bearer abcd") == "[redacted] Bearer [redacted]"


def _logger(name: str, redactor: Redactor) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(f"test_secrets.{name}.{uuid.uuid4().hex}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    install_redaction(logger, redactor)
    return logger, stream


def test_filter_redacts_messages_and_args() -> None:
    redactor = Redactor([KEY, SECRET, TOKEN])
    logger, stream = _logger("args", redactor)
    logger.info("key %s secret %r", KEY, SECRET)
    logger.info("dict %s", {"api_token": TOKEN, "n": 3})
    logger.info("amount %d and %.2f", 5, 1.5)  # non-string args keep their formats
    logger.warning(f"f-string with {TOKEN}")
    out = stream.getvalue()
    for secret in (KEY, SECRET, TOKEN):
        assert secret not in out
    assert out.count(MARKER) >= 4
    assert "amount 5 and 1.50" in out
    assert "'n': 3" in out


def test_filter_redacts_exception_text() -> None:
    redactor = Redactor([SECRET])
    logger, stream = _logger("exc", redactor)
    try:
        raise RuntimeError(f"auth failed for secret {SECRET} with Bearer {JWT}")
    except RuntimeError:
        logger.exception("login failed (%s)", SECRET)
    out = stream.getvalue()
    assert SECRET not in out and JWT[:20] not in out
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: auth failed for secret ***" in out
    assert "login failed (***)" in out


def test_filter_redacts_stack_info() -> None:
    logger, stream = _logger("stack", Redactor([SECRET]))
    password = SECRET  # noqa: F841 - locals are not printed, the source line is
    logger.info("here", stack_info=True)
    assert "Stack (most recent call last)" in stream.getvalue()


def test_filter_handles_bad_format_args_without_leaking() -> None:
    logger, stream = _logger("bad", Redactor([SECRET]))
    logger.error("two %s %s but one arg", SECRET)  # noqa: PLE1206 - on purpose
    out = stream.getvalue()
    assert SECRET not in out and MARKER in out
    assert "two %s %s but one arg" in out


def test_filter_redacts_ws_url_jwt_and_headers() -> None:
    logger, stream = _logger("wire", Redactor())
    logger.debug("connecting to %s", f"wss://b.example/frontoffice/ws/v4/account?access_token={JWT}")
    logger.debug("headers %s", {"X-BAPI-API-KEY": "bybitkey1", "X-BAPI-SIGN": HEX64})
    logger.debug("headers %s", {"bfx-apikey": "bfxkey1", "bfx-signature": HEX96})
    logger.debug("sent %s", '{"event":"auth","apiKey":"bfxkey1","authSig":"' + HEX96 + '"}')
    out = stream.getvalue()
    for secret in (JWT[:30], "bybitkey1", HEX64, "bfxkey1", HEX96):
        assert secret not in out
    assert out.count(MARKER) >= 7


def test_install_on_a_parent_covers_child_loggers() -> None:
    redactor = Redactor([SECRET])
    parent, stream = _logger("parent", redactor)
    child = logging.getLogger(parent.name + ".venues.bybit")
    child.warning("child says %s", SECRET)
    assert stream.getvalue().strip().endswith("child says ***")


def test_install_is_idempotent_and_returns_the_filter() -> None:
    logger, _ = _logger("idem", Redactor())
    (handler,) = logger.handlers
    again = install_redaction(logger)
    assert isinstance(again, RedactingFilter)
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1


def test_install_on_the_root_logger_by_default() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    last_resort = logging.lastResort
    before = list(last_resort.filters) if last_resort is not None else []
    # the root's other handlers (pytest's capture) get the filter too: take it off again after
    others = {h: list(h.filters) for h in root.handlers}
    secrets.REDACTOR.add(SECRET)
    try:
        install_redaction()
        logging.getLogger("blotter.test.somewhere").error("oops %s", SECRET)
        assert SECRET not in stream.getvalue() and MARKER in stream.getvalue()
        if last_resort is not None:
            assert any(isinstance(f, RedactingFilter) for f in last_resort.filters)
    finally:
        root.removeHandler(handler)
        secrets.REDACTOR.discard(SECRET)
        if last_resort is not None:
            last_resort.filters[:] = before
        for other, filters in others.items():
            other.filters[:] = filters
