"""Shared test setup: Qt runs offscreen, and nothing here ever needs a display."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
