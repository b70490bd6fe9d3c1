"""The accounts file as text: TOML strings that read back exactly, the line of a field, and a
replacement that never leaves a half-written file."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blotter.config_text import FieldLocator, toml_string, toml_value, write_atomically


@pytest.mark.parametrize(
    "text",
    ["", "plain", 'quote " and \\ backslash', "tab\tnewline\nreturn\r", "\x00\x01\x1f\x7f",
     "\b\f", "unicode é ü 日本 🚀", "# not a comment", "[[accounts]]", "a = 'b'", "\u2028"],
)
def test_toml_string_escapes(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text
    assert "\n" not in toml_string(text)


@given(st.text(st.characters(codec="utf-8")))
def test_toml_string_round_trips_any_text(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_toml_values_read_back() -> None:
    text = f"v = {toml_value([True, 3, 1.5, 'x', ('a', 'b')])}"
    assert tomllib.loads(text)["v"] == [True, 3, 1.5, "x", ["a", "b"]]
    with pytest.raises(TypeError):
        toml_value(float("nan"))


TEXT = """# a comment
[[accounts]]
name = "a"
venue = "bybit"

[[accounts]]
"name" = "b"
env = "testnet"
"""


def test_the_line_of_a_field_is_found_in_its_own_table() -> None:
    locate = FieldLocator(TEXT)
    assert locate.line("accounts[0].venue") == 4
    assert locate.line("accounts[1].name") == 7  # a quoted key
    assert locate.line("accounts[1].env") == 8
    assert locate.line("accounts[1].ws_url") == 6  # not written: its [[accounts]] header
    assert locate.line(None) is None


def test_write_atomically_replaces_the_file_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "config.toml"
    write_atomically(path, b"one")
    write_atomically(path, b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["config.toml"]  # no temp file left behind
