"""The accounts file as text: where a field sits in it (so an error can name the line), how a
value is written as TOML, and how the file is replaced without ever being half written.

Knows nothing of accounts or venues: ``config.py`` says what the file means.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Final

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]*?)\s*\]\]?")
_ACCOUNTS_HEADER = re.compile(r"^\s*\[\[\s*(?:accounts|\"accounts\"|'accounts')\s*\]\]")
_FIELD = re.compile(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?")


class FieldLocator:
    """Finds the line of ``accounts[1].env`` in the text: the n-th ``[[accounts]]`` header, then
    ``env =`` inside that table; the header when the key is not there (or not found)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables: list[tuple[int, int]] = []  # (header index, end index) per [[accounts]]
        top_end = len(self.lines)
        for i, line in enumerate(self.lines):
            if _HEADER.match(line) and not line.lstrip().startswith("[="):
                top_end = min(top_end, i)
                if self.tables and self.tables[-1][1] == -1:
                    self.tables[-1] = (self.tables[-1][0], i)
                if _ACCOUNTS_HEADER.match(line):
                    self.tables.append((i, -1))
        if self.tables and self.tables[-1][1] == -1:
            self.tables[-1] = (self.tables[-1][0], len(self.lines))
        self.top = (0, top_end)

    def line(self, field: str | None) -> int | None:
        if not field:
            return None
        head, _, rest = field.partition(".")
        match = _FIELD.fullmatch(head)
        if match is None:
            return None
        if match.group(1) != "accounts" or not rest and match.group(2) is None:
            return self._key_line(self.top, match.group(1))
        if match.group(2) is None:
            return self._key_line(self.top, "accounts")
        index = int(match.group(2))
        if index >= len(self.tables):
            return self._key_line(self.top, "accounts")
        table = self.tables[index]
        key_match = _FIELD.match(rest) if rest else None
        if key_match is not None:
            found = self._key_line(table, key_match.group(1))
            if found is not None:
                return found
        return table[0] + 1

    def _key_line(self, span: tuple[int, int], key: str) -> int | None:
        pattern = re.compile(
            rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*="
        )
        start, end = span
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return None


_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                   "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError("a lone surrogate cannot be written as TOML")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_value(value: object) -> str:
    """A value of the accounts file as TOML: booleans, integers, finite floats, strings, arrays."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a temp file beside it (mode 0600, fsynced) renamed over
    it, then the directory fsynced; the directory is made (0700) if needed. ``OSError`` if
    anything fails, and then the old file is as it was."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it (POSIX)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
