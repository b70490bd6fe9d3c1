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

from PySide6.QtCore import QByteArray, QObject, Qt
from PySide6.QtGui import QAction, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QAbstractButton

from blotter.ui import theme

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


ICON_PROPERTY = "blotterIcon"  # the icon name of an action or button that follows the scheme


# The sizes an icon is drawn at: a toolbar's or a menu's up to four times its pixels; the app's
# own icon also for a task switcher. A drawing keeps 4 bytes a pixel resident: one at 256 px is
# 256 KB, and the window's dozen icons of actions kept 4 MB in them.
ICON_SIZES = (16, 20, 24, 32, 48, 64, 128)
APP_ICON_SIZES = (*ICON_SIZES, 256)


def icon(name: str) -> QIcon:
    """``icons/<name>.svg`` as a QIcon in the current scheme's colours, rendered crisp at the
    usual sizes (empty if missing). A holder set with ``set_icon`` follows a switch of scheme."""
    return _icon(name, theme.SCHEME)


@functools.cache
def _icon(name: str, scheme: theme.Scheme) -> QIcon:
    data = read_bytes(f"icons/{name}.svg")
    result = QIcon()
    if not data:
        return result
    if name != "app":  # the app's own icon looks the same everywhere
        data = theme.in_scheme(data.decode("utf-8"), scheme, theme.ICON_LIGHT).encode("utf-8")
    renderer = QSvgRenderer(QByteArray(data))
    if not renderer.isValid():
        return result
    for size in APP_ICON_SIZES if name == "app" else ICON_SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        result.addPixmap(pixmap)
    return result


def set_icon(holder: QAction | QAbstractButton, name: str) -> None:
    """Give ``holder`` the icon ``name``, and again in the new colours after ``retint``."""
    holder.setProperty(ICON_PROPERTY, name)
    holder.setIcon(icon(name))


def retint(root: QObject) -> None:
    """Every action and button under ``root`` given its icon by ``set_icon``, in the current
    scheme's colours."""
    holders: list[QAction | QAbstractButton] = [
        *root.findChildren(QAction), *root.findChildren(QAbstractButton)]
    for holder in holders:
        name = holder.property(ICON_PROPERTY)
        if isinstance(name, str):
            holder.setIcon(icon(name))
