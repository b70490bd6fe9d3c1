"""Shared test setup: Qt runs offscreen, and nothing here ever needs a display. The tests never
touch the trader's own accounts file, log or saved orders: all point into a temporary directory
(subprocesses inherit it)."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_HOME = tempfile.mkdtemp(prefix="blotter-tests-")
os.environ["BLOTTER_LOG_DIR"] = os.path.join(_HOME, "log")
os.environ["BLOTTER_CONFIG"] = os.path.join(_HOME, "config.toml")
os.environ["BLOTTER_STATE_DIR"] = os.path.join(_HOME, "state")


import keyring
import pytest


@pytest.fixture
def memory_keyring():
    """The keyring backend swapped for one in memory for the test (restored after)."""
    from tests.test_secrets import MemoryKeyring

    old = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(old)
