"""The look: Fusion with a dark or a light palette (dialogs and menus match) plus
resources/style.qss in the same scheme; by default the scheme follows the desktop's."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from blotter.ui import theme
from blotter.ui.resources import icon, stylesheet

THEME_CHOICES = ("system", "light", "dark")
MIN_POINTS = 9.5  # the smallest default text size (a desktop's 9 pt reads small in a table)

# palette roles not named in theme.py: (dark, light)
_ROLES: dict[QPalette.ColorRole, tuple[str, str]] = {
    QPalette.ColorRole.ToolTipBase: ("#20262e", "#ffffff"),
    QPalette.ColorRole.Button: ("#1e242b", "#eef0f3"),
    QPalette.ColorRole.BrightText: ("#ffffff", "#000000"),
    QPalette.ColorRole.Highlight: ("#263c57", "#cfe0f7"),
    QPalette.ColorRole.HighlightedText: ("#f2f6fa", "#0d1a2b"),
    QPalette.ColorRole.Light: ("#2a313a", "#ffffff"),
    QPalette.ColorRole.Midlight: ("#232a32", "#e3e7ec"),
    QPalette.ColorRole.Mid: ("#1c2128", "#c3cad3"),
    QPalette.ColorRole.Dark: ("#0d0f12", "#9aa3ae"),
    QPalette.ColorRole.Shadow: ("#000000", "#6b7480"),
}
_DISABLED_HIGHLIGHT = ("#1f2833", "#e3e7ec")


def palette(scheme: theme.Scheme) -> QPalette:
    """The application palette of ``scheme`` (theme.py's colours, with ``theme.use`` done)."""
    light = scheme == "light"
    p = QPalette()
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    p.setColor(role.Window, theme.WINDOW)
    p.setColor(role.WindowText, theme.TEXT)
    p.setColor(role.Base, theme.BASE)
    p.setColor(role.AlternateBase, theme.ALT_BASE)
    p.setColor(role.ToolTipText, theme.TEXT)
    p.setColor(role.PlaceholderText, theme.FAINT_TEXT)
    p.setColor(role.Text, theme.TEXT)
    p.setColor(role.ButtonText, theme.TEXT)
    p.setColor(role.Link, theme.ACCENT)
    for r, pair in _ROLES.items():
        p.setColor(r, QColor(pair[light]))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, theme.FAINT_TEXT)
    p.setColor(group.Disabled, role.Highlight, QColor(_DISABLED_HIGHLIGHT[light]))
    return p


def system_scheme() -> theme.Scheme:
    """The desktop's colour scheme (Qt ≥ 6.5 reads it from the platform); dark when the
    desktop does not say."""
    app = QGuiApplication.instance()
    light = (isinstance(app, QGuiApplication)
             and app.styleHints().colorScheme() == Qt.ColorScheme.Light)
    return "light" if light else "dark"


def scheme_of(choice: str) -> theme.Scheme:
    """The scheme a theme choice ("system", "light", "dark") means now."""
    if choice == "light":
        return "light"
    if choice == "dark":
        return "dark"
    return system_scheme()


def apply_scheme(app: QApplication, scheme: theme.Scheme) -> None:
    """Switch the whole application to ``scheme``: theme colours, palette, stylesheet."""
    theme.use(scheme)
    app.setPalette(palette(scheme))
    app.setStyleSheet(theme.in_scheme(stylesheet(), scheme))


def apply_style(app: QApplication, choice: str = "system") -> None:
    """Fusion, the palette and stylesheet of ``choice``'s scheme, a readable text size."""
    app.setStyle("Fusion")
    font = QFont(app.font())
    if font.pointSizeF() > 0 and font.pointSizeF() < MIN_POINTS:
        font.setPointSizeF(MIN_POINTS)
    app.setFont(font)
    app.setWindowIcon(icon("app"))
    apply_scheme(app, scheme_of(choice))
