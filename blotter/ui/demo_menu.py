"""The Demo menu: one submenu per simulated venue of what its simulator can be made to do wrong
(drop the connection, refuse the key, go silent...), so a trader can see what the blotter does
when a venue misbehaves. The items come from the demo (``Demo.fault_items``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar

# (label, tooltip, action, whether it is in force: None for a one-off)
DemoItem = tuple[str, str, Callable[[], object], Callable[[], bool] | None]
DemoSection = tuple[str, list[DemoItem]]  # (venue as the trader knows it, items)


def add_demo_menu(
    bar: QMenuBar,
    sections: list[DemoSection],
    spawn: Callable[[Awaitable[Any], str], object],
    report: Callable[[str], None],
) -> QMenu:
    """Add the menu to ``bar``. An action may return an awaitable, which ``spawn`` runs on the
    loop; an action that fails is ``report``-ed in words, never raised into Qt."""
    menu = bar.addMenu("&Demo")
    for title, items in sections:
        sub = menu.addMenu(title)
        sub.setToolTipsVisible(True)
        toggles: list[tuple[QAction, Callable[[], bool]]] = []
        for label, tip, action, on in items:
            entry = sub.addAction(label.removesuffix(" on/off") if on is not None else label)
            entry.setToolTip(tip)
            if on is not None:  # a fault that stays until undone: its check mark says so
                entry.setCheckable(True)
                entry.setChecked(on())
                toggles.append((entry, on))
            entry.triggered.connect(
                lambda _=False, a=action, t=f"{title}: {label}": _run(t, a, spawn, report)
            )
        sub.aboutToShow.connect(lambda marks=toggles: _mark(marks))
    return menu


def _mark(toggles: list[tuple[QAction, Callable[[], bool]]]) -> None:
    """Check the faults in force (one undone at the venue's end shows unchecked again)."""
    for entry, on in toggles:
        entry.setChecked(on())


def _run(
    label: str,
    action: Callable[[], object],
    spawn: Callable[[Awaitable[Any], str], object],
    report: Callable[[str], None],
) -> None:
    try:
        outcome = action()
    except Exception as exc:  # noqa: BLE001 - shown to the trader, not raised into Qt
        report(f"{label} failed: {exc}")
        return
    if inspect.isawaitable(outcome):
        spawn(outcome, label)
