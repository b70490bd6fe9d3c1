"""Colours and fonts shared by the table, the delegate and the status bar, in a dark and a light
scheme (resources/style.qss is written in the dark one; ``QSS_LIGHT`` gives each of its colours
its light counterpart).

The colours are module attributes read at paint time (``theme.BUY``), so ``use("light")``
repaints everything in the other scheme once the widgets repaint. ``VERSION`` moves with each
switch, for whatever caches a painted pixmap.
"""

from __future__ import annotations

import re
from typing import Literal

from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication

from blotter.core.closes import CloseReason
from blotter.core.notices import Level, VenueState

Scheme = Literal["dark", "light"]
SCHEMES: tuple[Scheme, ...] = ("dark", "light")

# name: (dark, light)
_COLOURS: dict[str, tuple[str, str]] = {
    "WINDOW": ("#121519", "#f3f4f6"),
    "BASE": ("#161a1f", "#ffffff"),
    "ALT_BASE": ("#1a1f25", "#f6f7f9"),
    "GRID": ("#242a32", "#d9dee5"),
    "TEXT": ("#d5dbe3", "#1c2128"),
    "DIM_TEXT": ("#7d8794", "#5b6573"),
    "FAINT_TEXT": ("#566070", "#8a93a0"),
    "ACCENT": ("#5aa2ff", "#1d64c4"),
    "BUY": ("#3fbf8f", "#0b7d55"),
    "SELL": ("#f0646f", "#c42b38"),
    "WARNING": ("#e6b450", "#9a6300"),
    "ORANGE": ("#e08a3c", "#b3550f"),
    "BUTTON_BORDER": ("#323a45", "#c3cad3"),
    "BUTTON_TEXT": ("#9aa4b1", "#3f4956"),
    # rows no live stream vouches for: quieter text on a faintly hatched ground
    "UNVERIFIED_TEXT": ("#6f7884", "#7a838f"),
    "UNVERIFIED_BUY": ("#4d7f6c", "#5b927c"),
    "UNVERIFIED_SELL": ("#9a5d63", "#b07077"),
    "UNVERIFIED_HATCH": ("#232830", "#dfe3e8"),
    # rows a resync added or changed, for a few seconds
    "HIGHLIGHT": ("#3a3320", "#fff1c2"),
    # the "rows are held" marker over the table
    "MARKER_GROUND": ("#182230", "#e8f0fb"),
    "MARKER_TEXT": ("#e3e8ee", "#1c2128"),
    # the icons' ink (resources/icons are drawn in the dark scheme's)
    "ICON": ("#c5ccd6", "#465161"),
}
_LEVELS: dict[Level, tuple[str, str]] = {
    Level.INFO: ("#c3cbd6", "#39424e"),
    Level.SUCCESS: ("#46c28e", "#0f7a4f"),
    Level.WARNING: ("#e6b450", "#9a6300"),
    Level.ERROR: ("#f0646f", "#c42b38"),
}
_STATES: dict[VenueState, tuple[str, str]] = {
    VenueState.CONNECTING: ("#7d8794", "#7a838f"),
    VenueState.AUTHENTICATING: ("#5aa2ff", "#1d64c4"),
    VenueState.LIVE: ("#46c28e", "#16a05f"),
    VenueState.RECONNECTING: ("#e6b450", "#c48a00"),
    VenueState.STALE: ("#e08a3c", "#d0701c"),
    VenueState.FAILED: ("#f0646f", "#d12f3d"),
    VenueState.STOPPED: ("#566070", "#a1a9b4"),
}
# why a row closed, in the Recently Closed tab: the name of its colour above
_REASONS: dict[CloseReason, str] = {
    CloseReason.FILLED: "BUY",
    CloseReason.CANCELLED_BY_YOU: "DIM_TEXT",
    CloseReason.CANCELLED_AT_VENUE: "WARNING",
    CloseReason.EXPIRED: "WARNING",
    CloseReason.REJECTED: "SELL",
    CloseReason.VANISHED: "ORANGE",
    CloseReason.LEFT_LIST: "ORANGE",
}

# the colours of resources/style.qss (dark) and their light counterparts
QSS_LIGHT: dict[str, str] = {
    "#0f1216": "#ffffff", "#101317": "#eceef1", "#121519": "#f3f4f6", "#14171c": "#eef0f3",
    "#15191e": "#f7f8fa", "#161a1f": "#ffffff", "#181c21": "#eef0f3", "#181c22": "#f3f5f7",
    "#191d23": "#f6f7f9", "#1a1f25": "#ffffff", "#1d2228": "#dde1e6", "#1e232a": "#eceef1",
    "#1e242b": "#f3f4f6", "#1f242b": "#e3e7ec", "#1f252d": "#e6eaef", "#20262e": "#ffffff",
    "#242a32": "#d9dee5", "#243a55": "#cfe0f7", "#252c35": "#e6eaef", "#263040": "#d5deea",
    "#263c57": "#d4e3f8", "#2a313a": "#cfd5dd", "#2c343e": "#c5ccd5", "#2d3540": "#c9d0d9",
    "#333b46": "#bcc4ce", "#343c47": "#c3cad3", "#3a2a16": "#fdf0d9", "#3a4450": "#aab3be",
    "#3d6fa8": "#1d64c4", "#4a3519": "#fae3ba", "#4c5562": "#a7afba", "#566070": "#8a93a0",
    "#5a1f26": "#c42b38", "#5aa2ff": "#1d64c4", "#6d2530": "#a8222e", "#7a5a2a": "#c79a4b",
    "#7d8794": "#5b6573", "#8d97a5": "#4d5764", "#a83d47": "#a8222e", "#aeb7c3": "#39424e",
    "#c3cbd6": "#2f3843", "#d5dbe3": "#1c2128", "#e3e8ee": "#11161c", "#e6b450": "#9a6300",
    "#f0646f": "#c42b38", "#f2d29b": "#6b4500", "#f2f6fa": "#0d1a2b", "#ffe3e5": "#ffffff",
}
# the icons' colours besides their ink, in the light scheme
ICON_LIGHT: dict[str, str] = {
    "#c5ccd6": "#465161", "#f0616d": "#c42b38", "#f0646f": "#c42b38", "#3fbf8f": "#0b7d55",
}

WINDOW: QColor
BASE: QColor
ALT_BASE: QColor
GRID: QColor
TEXT: QColor
DIM_TEXT: QColor
FAINT_TEXT: QColor
ACCENT: QColor
BUY: QColor
SELL: QColor
WARNING: QColor
ORANGE: QColor
BUTTON_BORDER: QColor
BUTTON_TEXT: QColor
UNVERIFIED_TEXT: QColor
UNVERIFIED_BUY: QColor
UNVERIFIED_SELL: QColor
UNVERIFIED_HATCH: QColor
HIGHLIGHT: QColor
MARKER_GROUND: QColor
MARKER_TEXT: QColor
ICON: QColor
REASON_COLOURS: dict[CloseReason, QColor] = {}
LEVEL_COLOURS: dict[Level, QColor] = {}
STATE_COLOURS: dict[VenueState, QColor] = {}
SCHEME: Scheme = "dark"
VERSION = 0


def use(scheme: Scheme) -> None:
    """Make ``scheme``'s colours the ones every painter reads (the widgets still have to
    repaint, and the application its palette and stylesheet: ``style.apply_scheme``)."""
    global SCHEME, VERSION
    light = scheme == "light"
    names = globals()
    for name, pair in _COLOURS.items():
        names[name] = QColor(pair[light])
    LEVEL_COLOURS.clear()
    LEVEL_COLOURS.update({k: QColor(v[light]) for k, v in _LEVELS.items()})
    STATE_COLOURS.clear()
    STATE_COLOURS.update({k: QColor(v[light]) for k, v in _STATES.items()})
    REASON_COLOURS.clear()
    REASON_COLOURS.update({k: QColor(names[v]) for k, v in _REASONS.items()})
    SCHEME = scheme
    VERSION += 1


def colour_pairs() -> dict[str, tuple[QColor, QColor]]:
    """Every named colour of the two schemes, (dark, light), for checks and previews."""
    pairs = {name: (QColor(d), QColor(li)) for name, (d, li) in _COLOURS.items()}
    pairs.update({f"level {k.name}": (QColor(d), QColor(li)) for k, (d, li) in _LEVELS.items()})
    pairs.update({f"state {k.name}": (QColor(d), QColor(li)) for k, (d, li) in _STATES.items()})
    return pairs


_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def in_scheme(text: str, scheme: Scheme, light: dict[str, str] | None = None) -> str:
    """``text`` (a stylesheet or an SVG drawn in the dark scheme) with its colours in
    ``scheme``: each dark colour replaced by its light counterpart (``QSS_LIGHT`` unless
    ``light`` says otherwise); a colour without one is left as it is."""
    if scheme == "dark":
        return text
    table = QSS_LIGHT if light is None else light
    return _HEX.sub(lambda m: table.get(m.group(0).lower(), m.group(0)), text)


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


use("dark")
