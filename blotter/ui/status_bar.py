"""The status bar: the latest notice in the venue's words, and one connection dot per account.

It subscribes to the NoticeBus and the StateBus. Their callbacks run on the asyncio loop's thread,
which with qasync is the GUI thread, so widgets can be touched directly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QStatusBar, QWidget

from blotter.core.notices import AccountState, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey
from blotter.ui import theme
from blotter.ui.formatting import VenueLabel, default_venue_label

STATE_WORDS = {
    VenueState.CONNECTING: "connecting",
    VenueState.AUTHENTICATING: "authenticating",
    VenueState.LIVE: "live",
    VenueState.RECONNECTING: "reconnecting",
    VenueState.STALE: "stale (no data lately)",
    VenueState.FAILED: "failed",
    VenueState.STOPPED: "stopped",
}


def notice_source(notice: Notice, venue_label: VenueLabel = default_venue_label) -> str:
    if notice.venue == "blotter":
        return "blotter"
    title = venue_label(notice.venue, notice.account)
    return f"{title} · {notice.account}" if notice.account else title


def one_line(text: str, limit: int = 400) -> str:
    """The first line of a long text, marked as cut: the status bar is one line high (the
    tooltip and the notice log have it all)."""
    first, _, rest = text.partition("\n")
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return f"{first} …" if rest.strip() else first


def notice_text(notice: Notice, venue_label: VenueLabel = default_venue_label) -> str:
    """``Venue · account — STATUS: TEXT``: the venue's words, with where they came from."""
    return f"{notice_source(notice, venue_label)} — {notice.line()}"


def notice_time(notice: Notice, received: datetime | None = None) -> str:
    """When we got it (local clock), else the notice's own time if it looks like milliseconds."""
    if received is not None:
        return received.strftime("%H:%M:%S")
    if notice.ts_ms is not None and notice.ts_ms > 10**11:  # venues differ (bitfinex §3.4)
        return datetime.fromtimestamp(notice.ts_ms / 1000).strftime("%H:%M:%S")
    return "—"


@dataclass(frozen=True, slots=True)
class LoggedNotice:
    received: datetime | None
    notice: Notice
    source: str = ""  # "Acme · acme/Acme Main", as the status bar showed it

    @property
    def time(self) -> str:
        return notice_time(self.notice, self.received)


def state_text(state: AccountState, venue_label: VenueLabel = default_venue_label) -> str:
    words = STATE_WORDS.get(state.state, state.state.value)
    text = f"{state.account} ({venue_label(state.venue, state.account)}): {words}"
    return f"{text} — {state.reason}" if state.reason else text


class Dot(QWidget):
    """A small filled circle in the colour of a connection state."""

    def __init__(self, colour: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._colour = colour
        self.setFixedSize(QSize(10, 10))

    def set_colour(self, colour: QColor) -> None:
        if colour != self._colour:
            self._colour = colour
            self.update()

    @property
    def colour(self) -> QColor:
        return self._colour

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._colour)
        painter.drawEllipse(self.rect().adjusted(1, 1, -1, -1))


class ConnectionIndicator(QWidget):
    """Dot + account name; the tooltip says the state and why."""

    def __init__(
        self,
        state: AccountState,
        parent: QWidget | None = None,
        venue_label: VenueLabel = default_venue_label,
        note: str = "",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("connection")
        self._venue_label = venue_label
        self.note = note  # e.g. "dead-man switch on": said beside the name, always
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(5)
        self.dot = Dot(theme.STATE_COLOURS[state.state], self)
        self.label = QLabel(state.account, self)
        self.label.setObjectName("connectionLabel")
        layout.addWidget(self.dot)
        layout.addWidget(self.label)
        self.state = state
        self.update_state(state)

    def update_state(self, state: AccountState) -> None:
        self.state = state
        self.dot.set_colour(theme.STATE_COLOURS.get(state.state, theme.DIM_TEXT))
        tip = state_text(state, self._venue_label)
        name = state.account
        if self.note:
            name = f"{state.account} · {self.note}"
            tip += f"\n{self.note}: the venue cancels this account's orders if the connection drops"
        self.setToolTip(tip)
        # a colour alone is easy to miss: say it in words whenever the account is not live
        if state.state is VenueState.LIVE:
            self.label.setText(name)
        else:
            self.label.setText(f"{name} {STATE_WORDS.get(state.state, state.state.value)}")
        self.label.setProperty("state", state.state.value)
        self.label.style().unpolish(self.label)
        self.label.style().polish(self.label)


class NoticeLabel(QLabel):
    """The latest notice; a click opens the notice log."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(120)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class StatusBar(QStatusBar):
    """Latest notice (left, stretching) and the connection indicators (right)."""

    log_requested = Signal()
    notice_logged = Signal(object)  # a LoggedNotice, after it was shown

    def __init__(
        self,
        notices: NoticeBus,
        states: StateBus,
        parent: QWidget | None = None,
        *,
        history: int = 1000,
        venue_label: VenueLabel = default_venue_label,
        account_note: VenueLabel | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.venue_label = venue_label
        self.account_note = account_note
        self.setSizeGripEnabled(False)
        self.notice_label = NoticeLabel(self)
        self.notice_label.clicked.connect(self.log_requested)
        self.notice_label.setText("Ready")
        self.notice_label.setToolTip("Click for the notice log (Ctrl+L)")
        self.time_label = QLabel(self)
        self.time_label.setObjectName("noticeTime")
        self.addWidget(self.time_label)
        self.addWidget(self.notice_label, 1)
        self._indicators: dict[AccountKey, ConnectionIndicator] = {}
        self.latest: Notice | None = None
        # what the notice log lists: (time received, notice); older notices have no receive time
        self.log: deque[LoggedNotice] = deque(
            (LoggedNotice(None, n) for n in notices.history), maxlen=history
        )
        self._unsubscribe: list[Callable[[], None]] = [
            notices.subscribe(self._on_notice),
            states.subscribe(self.show_state),
        ]
        for state in states.current.values():
            self.show_state(state)
        if notices.history:
            self.show_notice(notices.history[-1])

    def detach(self) -> None:
        """Stop listening (the window is closing; the buses outlive it)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    # -- notices -------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.notice_label.text()

    def _on_notice(self, notice: Notice) -> None:
        if notice.transient:  # progress: on screen now, not worth a line in the log
            self.show_notice(notice)
            self.time_label.setText(notice_time(notice, datetime.now()))
            return
        entry = LoggedNotice(datetime.now(), notice, notice_source(notice, self.venue_label))
        self.log.append(entry)
        self.show_notice(notice)
        self.time_label.setText(entry.time)
        self.notice_logged.emit(entry)

    def show_notice(self, notice: Notice) -> None:
        self.latest = notice
        self.notice_label.setText(one_line(notice_text(notice, self.venue_label)))
        if self.notice_label.property("level") != notice.level.value:
            colour = theme.LEVEL_COLOURS.get(notice.level, theme.TEXT)
            self.notice_label.setStyleSheet(f"color: {colour.name()};")
            self.notice_label.setProperty("level", notice.level.value)
        self.notice_label.setToolTip(
            f"{notice_text(notice, self.venue_label)}\nClick for the notice log (Ctrl+L)"
        )

    # -- connection states ---------------------------------------------------------------------
    def indicator(self, account: AccountKey) -> ConnectionIndicator | None:
        return self._indicators.get(account)

    def show_state(self, state: AccountState) -> None:
        indicator = self._indicators.get(state.account_key)
        if state.state is VenueState.REMOVED:
            if indicator is not None:
                del self._indicators[state.account_key]
                self.removeWidget(indicator)
                indicator.deleteLater()
            return
        if indicator is None:
            note = self.account_note(state.venue, state.account) if self.account_note else ""
            indicator = ConnectionIndicator(state, self, self.venue_label, note)
            self._indicators[state.account_key] = indicator
            self.addPermanentWidget(indicator)
        else:
            indicator.update_state(state)

