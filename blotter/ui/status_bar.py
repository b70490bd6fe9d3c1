"""The status bar: the latest notice in the venue's words, and one connection light per account
that says its state in words when it is not live (a failed account's reason too), ages its
hover as it shows, and offers Reconnect Now and Check Now (``ConnectionFacts`` is what it reads
beyond the states: the time, the trust board, when each account last heard its venue).

It subscribes to the NoticeBus and the StateBus. Their callbacks run on the asyncio loop's thread,
which with qasync is the GUI thread, so widgets can be touched directly.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import QEvent, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QContextMenuEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QStatusBar,
    QToolButton,
    QWidget,
)

from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, OrderKey
from blotter.core.trust import AccountTrust
from blotter.ui import theme
from blotter.ui.formatting import VenueLabel, default_venue_label
from blotter.ui.trust_text import WAITING, hover_text, label_text


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
    """A line of the notice log: a notice as received, or an account's connection event
    (``state``: its notice says the state in words). ``action`` names the trader's action the
    line belongs to when its source knew it (a journal); else the log names a receipt's."""

    received: datetime | None
    notice: Notice
    source: str = ""  # "Acme · acme/Acme Main", as the status bar showed it
    state: AccountState | None = None
    action: str = ""

    @property
    def time(self) -> str:
        return notice_time(self.notice, self.received)

    @property
    def kind(self) -> str:
        """"connection" (an account's state), "cancel" (a receipt: how an action ended) or
        "notice"."""
        if self.state is not None:
            return "connection"
        return "cancel" if self.notice.receipt else "notice"


_STATE_LEVELS = {
    VenueState.LIVE: Level.SUCCESS,
    VenueState.STALE: Level.WARNING,
    VenueState.RECONNECTING: Level.WARNING,
    VenueState.FAILED: Level.ERROR,
}


def state_line(state: AccountState) -> str:
    """An account's state in words for the log: "stale: no message for 12 s", "reconnecting
    (attempt 2, next try in 4 s): closed 1006"."""
    words = state.state.value
    if state.state in (VenueState.RECONNECTING, VenueState.FAILED) and state.attempt:
        wait = f", next try in {state.retry_in:.0f} s" if state.retry_in is not None else ""
        words += f" (attempt {state.attempt}{wait})"
    return f"{words}: {state.reason}" if state.reason else words


def state_entry(state: AccountState, received: datetime | None, source: str) -> LoggedNotice:
    """The log's line of a connection event."""
    notice = Notice(state.venue, state.account, _STATE_LEVELS.get(state.state, Level.INFO),
                    state_line(state), ts_ms=state.ts_ms)
    return LoggedNotice(received, notice, source, state)


def wall_ms() -> int:
    """The local clock in epoch ms (the window's default idea of now)."""
    return time.time_ns() // 1_000_000


def _no_trust(account: AccountKey) -> AccountTrust | None:
    return None


def _no_message(account: AccountKey) -> int | None:
    return None


@dataclass(frozen=True)
class ConnectionFacts:
    """What the lights read beyond the account's state: the time, the trust board's entry of
    an account, and when its client last received a frame (epoch ms)."""

    now: Callable[[], int] = wall_ms
    trust: Callable[[AccountKey], AccountTrust | None] = field(default=_no_trust)
    last_message_ms: Callable[[AccountKey], int | None] = field(default=_no_message)


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
    """Dot + account name, and the state in words whenever it is not live (a failed account's
    reason too). The hover says the state as of the moment it shows; a click (either button)
    offers "Reconnect Now" and "Check Now"."""

    reconnect_requested = Signal(object)  # AccountKey
    check_requested = Signal(object)  # AccountKey

    def __init__(
        self,
        state: AccountState,
        parent: QWidget | None = None,
        venue_label: VenueLabel = default_venue_label,
        note: str = "",
        facts: ConnectionFacts | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("connection")
        self._venue_label = venue_label
        self._facts = facts or ConnectionFacts()
        self.note = note  # e.g. "dead-man switch on": said beside the name, always
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(5)
        self.dot = Dot(theme.STATE_COLOURS[state.state], self)
        self.label = QLabel(state.account, self)
        self.label.setObjectName("connectionLabel")
        layout.addWidget(self.dot)
        layout.addWidget(self.label)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.menu: QMenu | None = None
        self.state = state
        self.update_state(state)

    @property
    def account(self) -> AccountKey:
        return self.state.account_key

    @property
    def waiting(self) -> bool:
        """Whether the account waits before its next try (Reconnect Now cuts that short)."""
        return self.state.state in WAITING

    def update_state(self, state: AccountState) -> None:
        self.state = state
        self.dot.set_colour(theme.STATE_COLOURS.get(state.state, theme.DIM_TEXT))
        self.refresh()
        self.label.setProperty("state", state.state.value)
        self.label.style().unpolish(self.label)
        self.label.style().polish(self.label)

    def refresh(self) -> None:
        """Say the state as of now (the label counts a wait down; the hover ages)."""
        facts = self._facts
        now = facts.now()
        heard = facts.last_message_ms(self.account)
        # a colour alone is easy to miss: say it in words whenever the account is not live
        text = label_text(self.state, now, heard, self.note)
        if self.label.text() != text:
            self.label.setText(text)
        self.setToolTip(self.hover_text(now))

    def hover_text(self, now: int | None = None) -> str:
        facts = self._facts
        now = facts.now() if now is None else now
        state = self.state
        tip = hover_text(
            state, self._venue_label(state.venue, state.account), now,
            facts.trust(self.account), facts.last_message_ms(self.account), self.note,
        )
        return f"{tip}\nClick for Reconnect Now and Check Now"

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            self.setToolTip(self.hover_text())  # "last message 2 s ago" as of this hover
        return super().event(event)

    # -- the menu -----------------------------------------------------------------------------
    def build_menu(self) -> QMenu:
        """The light's menu: Reconnect Now (while the account waits for its next try) and
        Check Now (re-read its open orders from the venue)."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        account = self.account
        reconnect = menu.addAction("Reconnect Now")
        reconnect.setObjectName("reconnect-now")
        reconnect.setEnabled(self.waiting)
        reconnect.setToolTip(
            f"Try to connect {account.account} now instead of waiting" if self.waiting
            else f"{account.account} is not waiting to reconnect"
        )
        reconnect.triggered.connect(lambda: self.reconnect_requested.emit(account))
        check = menu.addAction("Check Now")
        check.setObjectName("check-now")
        check.setEnabled(self.state.state is not VenueState.STOPPED)
        check.setToolTip(f"Re-read the open orders of {account.account} from the venue")
        check.triggered.connect(lambda: self.check_requested.emit(account))
        return menu

    def show_menu(self, where: QPoint, above: bool = False) -> QMenu:
        menu = self.build_menu()
        if above:
            where = QPoint(where.x(), where.y() - menu.sizeHint().height())
        # popup(), not exec(): a nested event loop would stall the asyncio loop (qasync)
        menu.popup(where)
        self.menu = menu
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.show_menu(event.globalPos())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            # above the light: the status bar sits at the bottom of the window
            self.show_menu(self.mapToGlobal(QPoint(0, 0)), above=True)
            return
        super().mouseReleaseEvent(event)


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
    """Latest notice (left, stretching), "Cancel the Rest" while a receipt left orders open,
    and the connection indicators (right)."""

    log_requested = Signal()
    rest_requested = Signal(object)  # tuple[OrderKey, ...]: "Cancel the Rest" was clicked
    notice_logged = Signal(object)  # a LoggedNotice, after it was shown
    connection_logged = Signal(object)  # a LoggedNotice of a connection event (``state``)
    reconnect_requested = Signal(object)  # AccountKey: a light's "Reconnect Now"
    check_requested = Signal(object)  # AccountKey: a light's "Check Now"

    def __init__(
        self,
        notices: NoticeBus,
        states: StateBus,
        parent: QWidget | None = None,
        *,
        history: int = 1000,
        venue_label: VenueLabel = default_venue_label,
        account_note: VenueLabel | None = None,
        facts: ConnectionFacts | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.facts = facts or ConnectionFacts()
        # the lights of accounts that are not live say a wait or a silence in seconds
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self.tick_lights)
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
        # a receipt that found orders still open offers to cancel exactly those, until it is
        # used or a later receipt replaces it
        self.rest: tuple[OrderKey, ...] = ()
        self.rest_button = QToolButton(self)
        self.rest_button.setObjectName("cancelRest")
        self.rest_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.rest_button.clicked.connect(self._cancel_rest)
        self.rest_button.hide()
        self.addWidget(self.rest_button)
        self._indicators: dict[AccountKey, ConnectionIndicator] = {}
        self._scheme = theme.VERSION  # the theme its colours were set in
        self.latest: Notice | None = None
        # a flood of notices (fills pouring in) repaints the line at most ~10 times a second:
        # the first is shown at once, the latest of the rest when the throttle ends
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(self.NOTICE_INTERVAL_MS)
        self._throttle.timeout.connect(self._show_pending)
        self._pending: tuple[Notice, str] | None = None
        # the receipt of the trader's action stays in view a moment: the venues' routine news
        # (fills, closes elsewhere) waits behind it, an error or another receipt does not
        self._receipt_hold = QTimer(self)
        self._receipt_hold.setSingleShot(True)
        self._receipt_hold.setInterval(self.RECEIPT_HOLD_MS)
        self._receipt_hold.timeout.connect(self._after_receipt)
        self._behind_receipt: tuple[Notice, str] | None = None
        # what the notice log lists: (time received, notice); older notices have no receive time
        self.log: deque[LoggedNotice] = deque(
            (LoggedNotice(None, n) for n in notices.history), maxlen=history
        )
        # the connection events the log lists (apart: ``log`` is the notices alone)
        self.events: deque[LoggedNotice] = deque(maxlen=history)
        self._states_logged: dict[AccountKey, tuple[VenueState, str, int]] = {}
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
        self._tick.stop()

    # -- notices -------------------------------------------------------------------------------
    NOTICE_INTERVAL_MS = 100
    RECEIPT_HOLD_MS = 4000

    @property
    def text(self) -> str:
        """The line as the trader reads it (a notice waiting for the throttle included)."""
        self._show_pending()
        return self.notice_label.text()

    def _show_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            notice, time_text = pending
            self.show_notice(notice)
            self.time_label.setText(time_text)
            self._throttle.start()

    def _display(self, notice: Notice, time_text: str) -> None:
        if (self._receipt_hold.isActive() and not notice.receipt
                and notice.level is not Level.ERROR):
            self._behind_receipt = (notice, time_text)  # shown when the receipt's moment ends
            return
        self._behind_receipt = None
        self.latest = notice
        if self._throttle.isActive():
            self._pending = (notice, time_text)
            return
        self._pending = None
        self.show_notice(notice)
        self.time_label.setText(time_text)
        self._throttle.start()

    def _after_receipt(self) -> None:
        behind, self._behind_receipt = self._behind_receipt, None
        if behind is not None:
            self._display(*behind)

    def _on_notice(self, notice: Notice) -> None:
        if notice.transient:  # progress: on screen now, not worth a line in the log
            self._display(notice, notice_time(notice, datetime.now()))
            return
        entry = LoggedNotice(datetime.now(), notice, notice_source(notice, self.venue_label))
        self.log.append(entry)
        if notice.rest or notice.details:
            self.offer_rest(notice)
        self._display(notice, entry.time)
        self.notice_logged.emit(entry)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._scheme != theme.VERSION:
            self._scheme = theme.VERSION  # the theme switched: the lights and the notice follow
            for indicator in self._indicators.values():
                indicator.update_state(indicator.state)
            level = self.notice_label.property("level")
            if level is not None:
                colour = theme.LEVEL_COLOURS.get(Level(level), theme.TEXT)
                self.notice_label.setStyleSheet(f"color: {colour.name()};")

    def show_notice(self, notice: Notice) -> None:
        self.latest = notice
        if notice.receipt:
            self._receipt_hold.start()
        self.notice_label.setText(one_line(notice_text(notice, self.venue_label)))
        if self.notice_label.property("level") != notice.level.value:
            colour = theme.LEVEL_COLOURS.get(notice.level, theme.TEXT)
            self.notice_label.setStyleSheet(f"color: {colour.name()};")
            self.notice_label.setProperty("level", notice.level.value)
        self.notice_label.setToolTip(
            f"{notice_text(notice, self.venue_label)}\nClick for the notice log (Ctrl+L)"
        )

    def offer_rest(self, notice: Notice) -> None:
        """Offer "Cancel the Rest" for the orders ``notice`` found still open (none: take the
        offer of an earlier receipt away)."""
        self.rest = notice.rest
        if not self.rest:
            self.rest_button.hide()
            return
        n = len(self.rest)
        self.rest_button.setText(f"Cancel the Rest ({n})")
        left = [d for d in notice.details if d.endswith(" after the cancel")]
        head = (f"Cancel exactly the {n} order{'s' if n != 1 else ''} still open after: "
                f"{one_line(notice.text, 120)}")
        self.rest_button.setToolTip("\n".join([head, *left[:10]]))
        self.rest_button.show()

    def _cancel_rest(self) -> None:
        rest, self.rest = self.rest, ()
        self.rest_button.hide()
        if rest:
            self.rest_requested.emit(rest)

    # -- connection states ---------------------------------------------------------------------
    def indicator(self, account: AccountKey) -> ConnectionIndicator | None:
        return self._indicators.get(account)

    def show_state(self, state: AccountState) -> None:
        self._log_state(state)
        indicator = self._indicators.get(state.account_key)
        if state.state is VenueState.REMOVED:
            if indicator is not None:
                del self._indicators[state.account_key]
                self.removeWidget(indicator)
                indicator.deleteLater()
            self._follow_ticks()
            return
        if indicator is None:
            note = self.account_note(state.venue, state.account) if self.account_note else ""
            indicator = ConnectionIndicator(state, self, self.venue_label, note, self.facts)
            indicator.reconnect_requested.connect(self.reconnect_requested)
            indicator.check_requested.connect(self.check_requested)
            self._indicators[state.account_key] = indicator
            self.addPermanentWidget(indicator)
        else:
            indicator.update_state(state)
        self._follow_ticks()

    def _log_state(self, state: AccountState) -> None:
        """A connection event in the log, once per change of state, reason or attempt."""
        said = (state.state, state.reason, state.attempt)
        if self._states_logged.get(state.account_key) == said:
            return
        self._states_logged[state.account_key] = said
        entry = state_entry(state, datetime.now(), notice_source(
            Notice(state.venue, state.account, Level.INFO, ""), self.venue_label))
        self.events.append(entry)
        self.connection_logged.emit(entry)

    def entries(self) -> list[LoggedNotice]:
        """What the notice log lists: the notices and the connection events, oldest first."""
        def received(entry: LoggedNotice) -> datetime:
            return entry.received or datetime.min

        return sorted([*self.log, *self.events], key=received)

    def indicators(self) -> list[ConnectionIndicator]:
        return list(self._indicators.values())

    def _follow_ticks(self) -> None:
        counting = any(i.state.state is not VenueState.LIVE for i in self._indicators.values())
        if counting and not self._tick.isActive():
            self._tick.start()
        elif not counting and self._tick.isActive():
            self._tick.stop()

    def tick_lights(self) -> None:
        """Say the lights of accounts that are not live as of now (every second, by timer)."""
        for indicator in self._indicators.values():
            if indicator.state.state is not VenueState.LIVE:
                indicator.refresh()

