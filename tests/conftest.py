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
from hypothesis import HealthCheck, settings

# Property tests judge what the code does with each example, never how fast a shared, busy
# machine makes or runs them: no per-example deadline, no "too slow" health check.
settings.register_profile(
    "blotter", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("blotter")


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
