"""Colours and fonts shared by the table, the delegate and the status bar (style.qss matches)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication

from blotter.core.closes import CloseReason
from blotter.core.notices import Level, VenueState

WINDOW = QColor("#121519")
BASE = QColor("#161a1f")
ALT_BASE = QColor("#1a1f25")
GRID = QColor("#242a32")
TEXT = QColor("#d5dbe3")
DIM_TEXT = QColor("#7d8794")
FAINT_TEXT = QColor("#566070")
ACCENT = QColor("#5aa2ff")
BUY = QColor("#3fbf8f")
SELL = QColor("#f0646f")
BUTTON_BORDER = QColor("#323a45")
BUTTON_TEXT = QColor("#9aa4b1")
# rows no live stream vouches for: quieter text on a faintly hatched ground
UNVERIFIED_TEXT = QColor("#6f7884")
UNVERIFIED_BUY = QColor("#4d7f6c")
UNVERIFIED_SELL = QColor("#9a5d63")
UNVERIFIED_HATCH = QColor("#232830")
# rows a resync added or changed, for a few seconds
HIGHLIGHT = QColor("#3a3320")
# why a row closed, in the Recently Closed tab
REASON_COLOURS = {
    CloseReason.FILLED: BUY,
    CloseReason.CANCELLED_BY_YOU: DIM_TEXT,
    CloseReason.CANCELLED_AT_VENUE: QColor("#e6b450"),
    CloseReason.EXPIRED: QColor("#e6b450"),
    CloseReason.REJECTED: SELL,
    CloseReason.VANISHED: QColor("#e08a3c"),
    CloseReason.LEFT_LIST: QColor("#e08a3c"),
}

LEVEL_COLOURS = {
    Level.INFO: QColor("#c3cbd6"),
    Level.SUCCESS: QColor("#46c28e"),
    Level.WARNING: QColor("#e6b450"),
    Level.ERROR: QColor("#f0646f"),
}

STATE_COLOURS = {
    VenueState.CONNECTING: QColor("#7d8794"),
    VenueState.AUTHENTICATING: QColor("#5aa2ff"),
    VenueState.LIVE: QColor("#46c28e"),
    VenueState.RECONNECTING: QColor("#e6b450"),
    VenueState.STALE: QColor("#e08a3c"),
    VenueState.FAILED: QColor("#f0646f"),
    VenueState.STOPPED: QColor("#566070"),
}


def mono_font(base: QFont | None = None) -> QFont:
    """A fixed-pitch font at the UI font's size, so digits line up in numeric columns."""
    if base is None:
        base = QGuiApplication.font()
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if base.pointSizeF() > 0:
        font.setPointSizeF(base.pointSizeF())
    elif base.pixelSize() > 0:
        font.setPixelSize(base.pixelSize())
    return font
