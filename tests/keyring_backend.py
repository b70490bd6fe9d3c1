"""A keyring in a JSON file, for tests that run ``blotter`` in a subprocess.

The subprocess selects it with ``PYTHON_KEYRING_BACKEND=tests.keyring_backend.FileKeyring`` and
finds its file in ``$BLOTTER_TEST_KEYRING``; with ``BLOTTER_TEST_KEYRING_BROKEN`` set it fails like
a Secret Service whose D-Bus went away. Never auto-detected (``viable = False``): the real
keyring round trip is tested in tests/test_secrets.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

PATH_ENV = "BLOTTER_TEST_KEYRING"
BROKEN_ENV = "BLOTTER_TEST_KEYRING_BROKEN"
BACKEND = f"{__name__}.FileKeyring"


def read_entries(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """{service: {username: password}}; empty when the file does not exist."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    assert isinstance(data, dict)
    return data


def write_entries(path: str | os.PathLike[str], entries: dict[str, dict[str, str]]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1), encoding="utf-8")
    tmp.replace(target)


class FileKeyring(KeyringBackend):
    priority = 1
    viable = False  # keyring discovers every subclass: not this one

    @property
    def path(self) -> Path:
        return Path(os.environ[PATH_ENV])

    def _check(self) -> None:
        if os.environ.get(BROKEN_ENV):
            raise RuntimeError(
                "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets "
                "was not provided by any .service files"
            )

    def get_password(self, service: str, username: str) -> str | None:
        self._check()
        return read_entries(self.path).get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check()
        entries = read_entries(self.path)
        entries.setdefault(service, {})[username] = password
        write_entries(self.path, entries)

    def delete_password(self, service: str, username: str) -> None:
        self._check()
        entries = read_entries(self.path)
        if entries.get(service, {}).pop(username, None) is None:
            raise PasswordDeleteError("Password not found")
        write_entries(self.path, entries)
