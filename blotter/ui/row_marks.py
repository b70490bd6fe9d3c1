"""What a row of the orders table is marked with beyond its order: unverified (no live stream
vouches for its account) and highlighted (a resync just added or changed it).

``RowMarks`` answers per painted cell, so it keeps its answers cheap: the marker of each account
is kept until the trust board's ``version`` moves, and a highlight is a set lookup. The model
repaints the rows it names through the ``repaint`` callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QBrush

from blotter.core.order import AccountKey, Order, OrderKey
from blotter.core.trust import TrustBoard
from blotter.ui import theme
from blotter.ui.trust_text import cancel_tip, row_state_line, unverified_marker

# How long the rows a resync added or changed stay highlighted.
HIGHLIGHT_SECONDS = 3.0

_brushes: tuple[int, QBrush, QBrush] = (-1, QBrush(), QBrush())


def brushes() -> tuple[QBrush, QBrush]:
    """(unverified, highlighted) rows' grounds in the theme's colours (made once per scheme)."""
    global _brushes
    if _brushes[0] != theme.VERSION:
        _brushes = (theme.VERSION, QBrush(theme.UNVERIFIED_HATCH, Qt.BrushStyle.BDiagPattern),
                    QBrush(theme.HIGHLIGHT))
    return _brushes[1], _brushes[2]


Repaint = Callable[[Iterable[OrderKey] | None], None]  # None: every row


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class RowMarks(QObject):
    """The unverified marker of each account's rows, and the rows highlighted for now."""

    def __init__(
        self,
        trust: TrustBoard | None,
        clock: Callable[[], int] | None,
        repaint: Repaint,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._trust = trust
        self._clock = clock or wall_ms
        self._repaint = repaint
        self.active = trust is not None  # without a board every row is taken as it comes
        self._marks: dict[tuple[str, str], str | None] = {}
        self._version = -1
        # rows a resync added or changed: key -> when the highlight ends (monotonic seconds)
        self._lit: dict[OrderKey, float] = {}
        self.highlight_seconds = HIGHLIGHT_SECONDS
        self._fade_timer = QTimer(self)
        self._fade_timer.setSingleShot(True)
        self._fade_timer.timeout.connect(self._fade)

    # -- unverified ----------------------------------------------------------------------------
    def mark(self, order: Order) -> str | None:
        """The Status cell's marker of ``order``'s row ("unverified since 13:07:19", "as of
        yesterday 18:02:11"), or None while a live stream vouches for its account."""
        trust = self._trust
        if trust is None:
            return None
        if trust.version != self._version:
            self._marks = {}
            self._version = trust.version
        account = (order.venue, order.account)
        try:
            return self._marks[account]
        except KeyError:
            pass
        key = AccountKey(*account)
        mark = None if trust.verified(key) else unverified_marker(trust.trust(key), self._clock())
        self._marks[account] = mark
        return mark

    def follow_trust(self) -> bool:
        """Repaint every row if the trust board changed since the marks were made; True if it
        had. Called when an account's state changes, never per frame."""
        trust = self._trust
        if trust is None or trust.version == self._version:
            return False
        self._marks = {}
        self._version = trust.version
        self._repaint(None)
        return True

    def unverified_accounts(self, accounts: Iterable[AccountKey]) -> list[AccountKey]:
        """Those of ``accounts`` whose rows are unverified."""
        trust = self._trust
        if trust is None:
            return []
        return [a for a in accounts if not trust.verified(a)]

    def state_line(self, order: Order) -> str:
        """The tooltip line of an unverified row: its marker and why."""
        if self._trust is None:
            return ""
        entry = self._trust.trust(order.account_key)
        return row_state_line(order.account, entry, self._clock())

    def cancel_tip(self, order: Order, mark: str | None) -> str:
        """The Cancel button's tooltip: for an unverified row, what the cancel will do."""
        entry = self._trust.trust(order.account_key) if self._trust and mark else None
        return cancel_tip(order.order_id, order.account, entry)

    # -- highlights ----------------------------------------------------------------------------
    def highlight(self, keys: Iterable[OrderKey]) -> None:
        """Tint the rows of ``keys`` for ``highlight_seconds`` (rows not in the table yet are
        tinted when they arrive). One timer for all, no cost per frame."""
        deadline = time.monotonic() + self.highlight_seconds
        keys = list(keys)
        if not keys:
            return
        for key in keys:
            self._lit[key] = deadline
        self._repaint(keys)
        if not self._fade_timer.isActive():
            self._fade_timer.start(int(self.highlight_seconds * 1000))

    def is_highlighted(self, key: OrderKey) -> bool:
        return key in self._lit

    def _fade(self) -> None:
        now = time.monotonic()
        done = [k for k, deadline in self._lit.items() if deadline <= now + 0.02]
        for key in done:
            del self._lit[key]
        if done:
            self._repaint(done)
        if self._lit:
            wait = min(self._lit.values()) - now
            self._fade_timer.start(max(10, int(wait * 1000)))

    def background(self, key: OrderKey, mark: str | None) -> QBrush | None:
        """The row's ground: highlighted, hatched while unverified, else the view's own."""
        if self._lit and key in self._lit:
            return brushes()[1]
        return brushes()[0] if mark is not None else None
