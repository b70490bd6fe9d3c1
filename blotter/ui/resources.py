"""Icons and the stylesheet, found in the installed package or, from a checkout, in resources/.

``pyproject.toml`` ships the top-level ``resources/`` directory as ``blotter.resources``. A checkout
reads its own ``resources/`` first: it may not be installed, or an editable install may map
``blotter.resources`` to another checkout (a second worktree would show the first one's looks).
"""

from __future__ import annotations

import functools
import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

_CHECKOUT = Path(__file__).resolve().parents[2] / "resources"


@functools.cache
def _root() -> Traversable:
    if (_CHECKOUT / "style.qss").is_file():
        return _CHECKOUT
    try:
        root = importlib.resources.files("blotter.resources")
        if root.joinpath("style.qss").is_file():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    return _CHECKOUT


def read_text(name: str) -> str:
    """A text resource, e.g. ``style.qss``; empty when it is missing (the app still runs)."""
    try:
        return _root().joinpath(name).read_text(encoding="utf-8")
    except OSError:
        return ""


def read_bytes(name: str) -> bytes:
    try:
        return _root().joinpath(name).read_bytes()
    except OSError:
        return b""


def stylesheet() -> str:
    return read_text("style.qss")


@functools.cache
def icon(name: str) -> QIcon:
    """``icons/<name>.svg`` as a QIcon, rendered crisp at the usual sizes (empty if missing)."""
    data = read_bytes(f"icons/{name}.svg")
    result = QIcon()
    if not data:
        return result
    renderer = QSvgRenderer(QByteArray(data))
    if not renderer.isValid():
        return result
    for size in (16, 20, 24, 32, 48, 64, 128, 256):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        result.addPixmap(pixmap)
    return result
