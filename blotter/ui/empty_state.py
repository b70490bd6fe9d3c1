"""What the window shows instead of the table when there is nothing to show, saying why: no
accounts yet (with the two ways in), no account connected, no open orders, none known yet
(the venues have not answered), or none matching the filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from blotter.core.notices import AccountState
from blotter.core.order import AccountKey
from blotter.ui import theme
from blotter.ui.formatting import VenueLabel, default_venue_label
from blotter.ui.sort_header import SortHeader
from blotter.ui.status_bar import one_line
from blotter.ui.trust_text import words

NO_ACCOUNTS = (
    "Add your Bitfinex, Bybit or B2TRADER broker account (keys stay in the OS keyring), "
    "or try blotter on simulated venues first."
)
DEMO_STARTING = (
    "Simulated Bitfinex, Bybit and a B2TRADER broker on this machine; nothing here is real "
    "money."
)
NO_ORDERS = "No open orders"


def window_title(total: int, shown: int, accounts: int, unverified: int, pending: int) -> str:
    """"blotter — 120 open orders (30 shown) on 3 accounts · 42 unverified · 2 cancelling"."""
    noun = "open order" if total == 1 else "open orders"
    title = f"blotter — {total} {noun}"
    if shown != total:
        title += f" ({shown} shown)"
    if accounts > 1:
        title += f" on {accounts} accounts"
    if unverified:
        title += f" · {unverified} unverified"
    if pending:
        title += f" · {pending} cancelling"
    return title


class Empty(NamedTuple):
    """Why the table is empty: the words, the accounts' states to list, and whether the
    first-run buttons show (``no_accounts``: none is configured, Add account applies)."""

    title: str
    detail: str
    states: list[AccountState]
    first_run: bool = False
    no_accounts: bool = False


def why_empty(
    *, clients: Sequence[AccountKey], verified: Sequence[AccountKey], total: int, shown: int,
    states: list[AccountState], config_error: str | None, configured: bool,
    demo_starting: bool, demo_running: bool, filter_text: str, unverified: int,
) -> Empty | None:
    """What the empty table says, or None when it has rows to show."""
    if not clients and total == 0:
        if config_error is not None:
            return Empty("The accounts file has an error", config_error, states, True, True)
        if configured:
            return Empty("No account is connected", "File → Accounts… (Ctrl+,) shows why, "
                         "tests the keys and fixes them.", states, no_accounts=True)
        if demo_starting and not demo_running:
            return Empty("Starting the demo venues…", DEMO_STARTING, states, no_accounts=True)
        return Empty("No accounts yet", NO_ACCOUNTS, states, not demo_running, True)
    if total == 0:
        unknown = [a for a in clients if a not in verified]
        return Empty(*no_orders_text(len(clients), unknown), states)
    if shown == 0:
        return Empty("No orders match", no_match_text(filter_text, total, unverified), [])
    return None


def no_orders_text(accounts: int, unknown: Sequence[AccountKey]) -> tuple[str, str]:
    """Title and detail when the table is empty: "no orders" and "not known yet" (an account
    that is not live has not said what it has) must not look the same."""
    if not unknown:
        return NO_ORDERS, ""
    n = len(unknown)
    title = "No open orders known yet" if n == accounts else "No open orders on the live accounts"
    if n == 1:
        return title, f"{unknown[0].account} is not live: its open orders show once the venue answers."
    return title, (f"{n} of {accounts} accounts are not live: their open orders show once their "
                   "venues answer.")


def no_match_text(filter_text: str, total: int, unverified: int) -> str:
    """Why a filter shows nothing, and what it hides."""
    hidden = f"{total} open order{'s' if total != 1 else ''} hidden"
    if unverified:
        hidden += f", {unverified} of them unverified"
    return f"“{filter_text}” — {hidden}. Esc in the filter clears it."


class EmptyState(QWidget):
    """Shown instead of the table when there is nothing to show, saying why; under the
    table's own column titles (``header``) once there are accounts, so the trader still sees
    which columns, in which order and sorted how, the rows will come back in."""

    def __init__(
        self,
        parent: QWidget | None = None,
        venue_label: VenueLabel = default_venue_label,
        header: QHeaderView | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self._venue_label = venue_label
        self._shown: tuple[int, tuple[str, str, list[AccountState], bool]] = (
            theme.VERSION, (NO_ORDERS, "", [], False))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.header: QHeaderView | None = None
        self._source = header
        if header is not None:
            self.header = SortHeader(self)
            self.header.setObjectName("emptyHeader")
            self.header.setModel(header.model())
            self.header.setSectionsClickable(False)
            self.header.setHighlightSections(False)
            self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            for signal in (header.sectionResized, header.sectionMoved,
                           header.sortIndicatorChanged, header.geometriesChanged):
                signal.connect(self._follow_header)
            outer.addWidget(self.header)
        layout = QVBoxLayout()
        outer.addLayout(layout)
        layout.addStretch(3)
        self.title = QLabel(NO_ORDERS, self)
        self.title.setObjectName("emptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel(self)
        self.detail.setObjectName("emptyDetail")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setWordWrap(True)
        self.states = QLabel(self)
        self.states.setObjectName("emptyStates")
        self.states.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.states.setTextFormat(Qt.TextFormat.RichText)
        self.states.setWordWrap(True)  # a long reason must not widen the window
        self.states.setContentsMargins(40, 0, 40, 0)
        # first run: the two ways in
        self.first_run = QWidget(self)
        buttons = QHBoxLayout(self.first_run)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addStretch(1)
        self.demo_button = QPushButton("Try the demo", self.first_run)
        self.add_button = QPushButton("Add account…", self.first_run)
        self.add_button.setDefault(True)
        buttons.addWidget(self.demo_button)
        buttons.addSpacing(10)
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        self.first_run.setVisible(False)
        layout.addWidget(self.title)
        layout.addSpacing(6)
        layout.addWidget(self.detail)
        layout.addSpacing(10)
        layout.addWidget(self.states)
        layout.addSpacing(14)
        layout.addWidget(self.first_run)
        layout.addStretch(4)

    def _follow_header(self, *args: object) -> None:
        """The titles as the table has them: widths, order, hidden ones, the sort arrow."""
        source, header = self._source, self.header
        if source is None or header is None or not self.isVisible():
            return
        if header.model() is not source.model():
            header.setModel(source.model())
        header.restoreState(source.saveState())
        header.setSortIndicatorShown(source.isSortIndicatorShown())
        header.setFixedHeight(source.height() if source.height() > 0
                              else source.sizeHint().height())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._shown[0] != theme.VERSION:
            self.show_message(*self._shown[1])  # the theme switched: the lights follow

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._follow_header()

    def show_message(
        self, title: str, detail: str, states: list[AccountState], first_run: bool = False
    ) -> None:
        self._shown = (theme.VERSION, (title, detail, list(states), first_run))
        if self.header is not None:
            self.header.setVisible(not first_run)  # no columns to speak of before any account
        self.first_run.setVisible(first_run)
        self.title.setText(title)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        lines = []
        for state in states:
            colour = theme.STATE_COLOURS.get(state.state, theme.DIM_TEXT).name()
            reason = f" — {_html(one_line(state.reason, 240))}" if state.reason else ""
            lines.append(
                f'<span style="color:{colour}">●</span>&nbsp; {_html(state.account)} '
                f'<span style="color:{theme.DIM_TEXT.name()}">({self._venue_label(state.venue, state.account)})'
                f"</span>&nbsp; {words(state.state)}{reason}"
            )
        self.states.setText("<br>".join(lines))
        self.states.setVisible(bool(lines))


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
