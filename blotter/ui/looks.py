"""View → Theme and the text size: the trader's choice of scheme (follow the desktop, light,
dark) and of text size (Ctrl+= / Ctrl++ bigger, Ctrl+- smaller, Ctrl+0 back to the desktop's),
both kept in the window's settings and applied to the whole application.

``BLOTTER_THEME=light|dark|system`` and ``BLOTTER_TEXT_POINTS=11`` override what was saved for
one run (screenshots), without saving it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QActionGroup, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QWidget

from blotter.ui import theme
from blotter.ui.resources import retint
from blotter.ui.style import THEME_CHOICES, apply_scheme, scheme_of

THEME_KEY = "looks/theme"
POINTS_KEY = "looks/text_points"
MIN_POINTS, MAX_POINTS, STEP = 7.0, 24.0, 1.0
THEME_TITLES = {"system": "Follow the Desktop", "light": "Light", "dark": "Dark"}


class Looks(QObject):
    """The theme and text-size actions of the View menu, and what they apply."""

    changed = Signal()  # the scheme or the text size changed

    def __init__(
        self,
        window: QWidget,
        settings: Callable[[], QSettings],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings
        self._environ = os.environ if environ is None else environ
        self.choice = "system"
        self.default_points = _app_font().pointSizeF()  # the desktop's, or the app's minimum
        self.theme_group = QActionGroup(self)
        self.theme_group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        for choice in THEME_CHOICES:
            action = QAction(THEME_TITLES[choice], self.theme_group)
            action.setCheckable(True)
            action.setObjectName(f"theme-{choice}")
            action.triggered.connect(lambda _=False, c=choice: self.set_theme(c))
            self.theme_actions[choice] = action
        self.theme_actions["system"].setToolTip("Light or dark as the desktop's colour scheme is")
        self.bigger = self._action("Bigger Text", ("Ctrl+=", "Ctrl++"), lambda: self.step(+1))
        self.smaller = self._action("Smaller Text", ("Ctrl+-",), lambda: self.step(-1))
        self.actual = self._action("Actual Size", ("Ctrl+0",), self.reset_points)
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._desktop_scheme_changed)

    def _action(self, text: str, keys: tuple[str, ...], slot: Callable[[], None]) -> QAction:
        action = QAction(text, self._window)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.triggered.connect(slot)
        self._window.addAction(action)  # the keys work wherever the focus is in the window
        return action

    def fill_menu(self, menu: QMenu) -> None:
        """The View menu's Theme submenu and text-size items."""
        themes = menu.addMenu("Theme")
        themes.setToolTipsVisible(True)
        themes.addActions(self.theme_group.actions())
        menu.addAction(self.bigger)
        menu.addAction(self.smaller)
        menu.addAction(self.actual)
        self.theme_menu = themes

    # -- what was saved --------------------------------------------------------------------
    def restore(self) -> None:
        """Apply the saved (or the environment's) theme and text size where they differ from
        what the application shows."""
        settings = self._settings()
        choice = self._environ.get("BLOTTER_THEME") or str(settings.value(THEME_KEY, "system"))
        self.choice = choice if choice in THEME_CHOICES else "system"
        self.theme_actions[self.choice].setChecked(True)
        if scheme_of(self.choice) != theme.SCHEME:
            self._apply_scheme()
        said = self._environ.get("BLOTTER_TEXT_POINTS") or settings.value(POINTS_KEY)
        try:
            points = float(str(said)) if said is not None else 0.0
        except ValueError:
            points = 0.0
        if points > 0 and points != self.points():
            self._apply_points(points)

    # -- the theme -------------------------------------------------------------------------
    def set_theme(self, choice: str) -> None:
        """Follow the desktop ("system"), or keep to "light" or "dark"; remembered."""
        if choice not in THEME_CHOICES:
            raise ValueError(f"no theme {choice!r}")
        self.choice = choice
        self.theme_actions[choice].setChecked(True)
        settings = self._settings()
        settings.setValue(THEME_KEY, choice)
        settings.sync()
        if scheme_of(choice) != theme.SCHEME:
            self._apply_scheme()

    def _desktop_scheme_changed(self, *args: object) -> None:
        if self.choice == "system" and scheme_of("system") != theme.SCHEME:
            self._apply_scheme()

    def _apply_scheme(self) -> None:
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        apply_scheme(app, scheme_of(self.choice))
        retint(self._window)
        self._window.update()
        self.changed.emit()

    # -- the text size ---------------------------------------------------------------------
    def points(self) -> float:
        """The application's text size now, in points."""
        return _app_font().pointSizeF()

    def step(self, steps: int) -> None:
        """Text ``steps`` points bigger (or smaller), within 7–24 pt; remembered."""
        self.set_points(self.points() + steps * STEP)

    def reset_points(self) -> None:
        """Back to the text size the application started with; the saved size forgotten."""
        settings = self._settings()
        settings.remove(POINTS_KEY)
        settings.sync()
        self._apply_points(self.default_points)

    def set_points(self, points: float) -> None:
        points = min(max(points, MIN_POINTS), MAX_POINTS)
        settings = self._settings()
        settings.setValue(POINTS_KEY, points)
        settings.sync()
        self._apply_points(points)

    def _apply_points(self, points: float) -> None:
        if points <= 0 or points == self.points():
            return
        font = QFont(_app_font())
        font.setPointSizeF(points)
        QApplication.setFont(font)  # every widget follows (the tables re-measure: FontChange)
        app = QApplication.instance()
        if isinstance(app, QApplication) and app.styleSheet():
            # a widget the stylesheet styles keeps the font it was polished with: polish again
            app.setStyleSheet(app.styleSheet())
        self.smaller.setEnabled(points > MIN_POINTS)
        self.bigger.setEnabled(points < MAX_POINTS)
        self.changed.emit()


def _app_font() -> QFont:
    return QGuiApplication.font()
