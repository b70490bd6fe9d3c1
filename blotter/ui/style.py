"""The look: Fusion with a dark palette (dialogs and menus match) plus resources/style.qss."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from blotter.ui import theme
from blotter.ui.resources import icon, stylesheet


def dark_palette() -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    p.setColor(role.Window, theme.WINDOW)
    p.setColor(role.WindowText, theme.TEXT)
    p.setColor(role.Base, theme.BASE)
    p.setColor(role.AlternateBase, theme.ALT_BASE)
    p.setColor(role.ToolTipBase, QColor("#20262e"))
    p.setColor(role.ToolTipText, theme.TEXT)
    p.setColor(role.PlaceholderText, theme.FAINT_TEXT)
    p.setColor(role.Text, theme.TEXT)
    p.setColor(role.Button, QColor("#1e242b"))
    p.setColor(role.ButtonText, theme.TEXT)
    p.setColor(role.BrightText, QColor("#ffffff"))
    p.setColor(role.Highlight, QColor("#263c57"))
    p.setColor(role.HighlightedText, QColor("#f2f6fa"))
    p.setColor(role.Link, theme.ACCENT)
    p.setColor(role.Light, QColor("#2a313a"))
    p.setColor(role.Midlight, QColor("#232a32"))
    p.setColor(role.Mid, QColor("#1c2128"))
    p.setColor(role.Dark, QColor("#0d0f12"))
    p.setColor(role.Shadow, QColor("#000000"))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, theme.FAINT_TEXT)
    p.setColor(group.Disabled, role.Highlight, QColor("#1f2833"))
    return p


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    font = QFont(app.font())
    if font.pointSizeF() > 0 and font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
    app.setFont(font)
    app.setWindowIcon(icon("app"))
    app.setStyleSheet(stylesheet())
