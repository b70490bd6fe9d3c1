"""The notice log's rows as a Qt tree model: notices, cancel actions and connection events,
newest first, filtered in Python over precomputed words (fast with tens of thousands of rows).

A cancel's receipt is an action: it unfolds to the venue notices of the same action (the
notices about its orders that came in just before it, moved under it) and to every order's
outcome (the receipt's details). A connection event (an account went stale, failed, live) is a
row of its own kind. Rows are ``LogRow``; the model keeps every top-level row (oldest first)
and shows those the filter lets through (``shown``).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from blotter.core.notices import Level, Notice
from blotter.ui import theme
from blotter.ui.status_bar import LoggedNotice, notice_source

NOTICE_ROLE = Qt.ItemDataRole.UserRole  # a row's Notice
COLUMNS = ("Time", "Kind", "Source", "Action", "Message")
TIME, KIND, SOURCE, ACTION, MESSAGE = range(len(COLUMNS))
CSV_HEADER = ("time_utc", "kind", "level", "venue", "account", "source", "action", "message",
              "order_ids")
# a receipt looks this many rows back for its action's venue notices (and no further than the
# receipt of an earlier action on the same orders)
GROUP_LOOKBACK = 300

KINDS = {"notice": "Notices", "cancel": "Cancels", "connection": "Connection events"}
LEVELS = {
    "errors": ("Errors", frozenset({Level.ERROR})),
    "warnings": ("Errors and warnings", frozenset({Level.ERROR, Level.WARNING})),
    "success": ("Successes", frozenset({Level.SUCCESS})),
    "info": ("Information", frozenset({Level.INFO})),
}

_serials = itertools.count(1)
_ROOT = QModelIndex()


def iso_utc(received: datetime | None, ts_ms: int | None) -> str:
    """When, in ISO 8601 UTC with milliseconds ("" when unknown): the receive time (local
    clock), else the notice's own time if it looks like epoch milliseconds."""
    if received is not None:
        moment = received.astimezone(UTC)
    elif ts_ms is not None and ts_ms > 10**11:
        moment = datetime.fromtimestamp(ts_ms / 1000, UTC)
    else:
        return ""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _detail_account(line: str) -> str:
    """The account a receipt's detail line is about ("bfx · order 1 …", "bfx: …")."""
    head = line.split(" · ", 1)[0] if " · " in line else line.split(":", 1)[0]
    return head.strip()


@dataclass(eq=False)
class LogRow:
    """One line of the log. ``kind`` is "notice", "cancel" (a receipt: the end of a cancel
    action), "connection" (an account's state) or "outcome" (a receipt's detail line)."""

    time: str
    utc: str
    kind: str
    level: Level
    source: str
    message: str
    notice: Notice | None = None
    action: str = ""
    children: list[LogRow] = field(default_factory=list)
    accounts: frozenset[str] = frozenset()
    serial: int = field(default_factory=lambda: next(_serials))
    words: str = ""  # what the text filter matches, lower case (children's words included)

    @property
    def venue(self) -> str:
        return self.notice.venue if self.notice is not None else ""

    @property
    def account(self) -> str:
        return self.notice.account if self.notice is not None else ""

    @property
    def order_ids(self) -> tuple[str, ...]:
        return self.notice.order_ids if self.notice is not None else ()

    def cells(self) -> list[str]:
        return [self.time, self.kind, self.source, self.action, self.message]

    def refresh_words(self) -> None:
        own = " ".join([self.source, self.kind, self.action, self.message, *self.order_ids])
        self.words = " ".join([own, *(c.words for c in self.children)]).lower()

    def csv_row(self) -> list[str]:
        return [self.utc, self.kind, self.level.value, self.venue, self.account, self.source,
                self.action, self.message, " ".join(self.order_ids)]


def action_label(notice: Notice) -> str:
    """The Action cell of a cancel's receipt: how many orders it aimed at."""
    n = len(notice.order_ids)
    return f"cancel · {n} order{'s' if n != 1 else ''}" if n else "cancel"


def make_row(entry: LoggedNotice) -> LogRow:
    """The log's row of ``entry`` (a receipt's details become its "outcome" children)."""
    notice = entry.notice
    kind = entry.kind
    action = entry.action or (action_label(notice) if kind == "cancel" else "")
    accounts = {notice.account} if notice.account else set()
    row = LogRow(entry.time, iso_utc(entry.received, notice.ts_ms), kind, notice.level,
                 entry.source or notice_source(notice), notice.line(), notice, action)
    for line in notice.details:
        row.children.append(LogRow("", row.utc, "outcome", notice.level, row.source, line,
                                   None, action, words=line.lower()))
        if kind == "cancel":
            accounts.add(_detail_account(line))
    row.accounts = frozenset(accounts)
    row.refresh_words()
    return row


class NoticeLogModel(QAbstractItemModel):
    """Every logged row, newest first, through the filter: ``text`` (words anywhere in the row
    or its lines), ``levels``, ``account`` (by name) and ``kind``."""

    def __init__(self, parent: QObject | None = None, max_rows: int = 20_000) -> None:
        super().__init__(parent)
        self.max_rows = max_rows
        self._all: list[LogRow] = []  # oldest first
        self._shown: list[LogRow] = []  # oldest first; row r of the view is _shown[-1 - r]
        self._pos: dict[int, int] | None = {}  # serial → index in _shown (None: recompute)
        self._children_of: dict[int, LogRow] = {}  # serial → the row whose children are asked
        self.text = ""
        self.levels: frozenset[Level] | None = None
        self.account = ""
        self.kind = ""
        self.accounts_seen: dict[str, None] = {}
        self._quiet = False  # extend(): no row signals (one reset)

    # -- feeding -------------------------------------------------------------------------------
    def add(self, entry: LoggedNotice) -> LogRow:
        """Log ``entry`` on top (a receipt takes its action's venue notices under it)."""
        row = self._take(entry)
        if self.accepts(row):
            self.beginInsertRows(_ROOT, 0, 0)
            self._shown.append(row)
            if self._pos is not None:
                self._pos[row.serial] = len(self._shown) - 1
            self.endInsertRows()
        if len(self._all) > self.max_rows + max(self.max_rows // 10, 1):
            self.beginResetModel()
            self._rebuild()
            self.endResetModel()
        return row

    def extend(self, entries: Iterable[LoggedNotice]) -> None:
        """Log many at once, oldest first (one reset, not a signal per row)."""
        self.beginResetModel()
        self._quiet = True
        try:
            for entry in entries:
                self._take(entry)
        finally:
            self._quiet = False
        self._rebuild()
        self.endResetModel()

    def _take(self, entry: LoggedNotice) -> LogRow:
        row = make_row(entry)
        if row.kind == "cancel" and row.order_ids:
            self._group(row)
        self._all.append(row)
        for name in sorted(row.accounts):
            self.accounts_seen.setdefault(name, None)
        return row

    def _group(self, receipt: LogRow) -> None:
        ids = set(receipt.order_ids)
        venue = receipt.venue
        taken: list[LogRow] = []
        for earlier in reversed(self._all[-GROUP_LOOKBACK:]):
            if earlier.kind == "cancel" and ids.intersection(earlier.order_ids):
                break  # an earlier action on the same orders: what came before is its own
            if (earlier.kind == "notice" and ids.intersection(earlier.order_ids)
                    and (venue == "blotter" or earlier.venue == venue)):
                taken.append(earlier)
        if not taken:
            return
        for earlier in taken:
            self._remove(earlier)
            earlier.action = receipt.action
            earlier.refresh_words()
        receipt.children[:0] = reversed(taken)  # the venue's notices first, oldest first
        receipt.refresh_words()

    def _remove(self, row: LogRow) -> None:
        self._all.remove(row)
        if self._quiet:
            return
        pos = self.positions().get(row.serial)
        if pos is None:
            return
        r = len(self._shown) - 1 - pos
        self.beginRemoveRows(_ROOT, r, r)
        del self._shown[pos]
        self._pos = None
        self.endRemoveRows()

    # -- filtering -----------------------------------------------------------------------------
    def accepts(self, row: LogRow) -> bool:
        """Whether ``row`` passes the filter."""
        if self.kind and row.kind != self.kind:
            return False
        if self.levels is not None and row.level not in self.levels:
            return False
        if self.account and self.account not in row.accounts:
            return False
        return not self.text or all(word in row.words for word in self.text.split())

    def set_filter(self, text: str | None = None, levels: frozenset[Level] | None | bool = False,
                   account: str | None = None, kind: str | None = None) -> None:
        """Change the filter (what is not given stays); the rows are chosen again."""
        if text is not None:
            self.text = text.strip().lower()
        if levels is not False:
            self.levels = levels if isinstance(levels, frozenset) else None
        if account is not None:
            self.account = account
        if kind is not None:
            self.kind = kind
        self.beginResetModel()
        self._rebuild()
        self.endResetModel()

    def _rebuild(self) -> None:
        del self._all[: max(0, len(self._all) - self.max_rows)]
        accepts = self.accepts
        self._shown = [row for row in self._all if accepts(row)]
        self._pos = None
        self._children_of = {}

    def positions(self) -> dict[int, int]:
        if self._pos is None:
            self._pos = {row.serial: n for n, row in enumerate(self._shown)}
        return self._pos

    # -- reading -------------------------------------------------------------------------------
    def rows(self) -> list[LogRow]:
        """The rows shown, newest first."""
        return self._shown[::-1]

    def all_rows(self) -> int:
        return len(self._all)

    def row_at(self, index: QModelIndex | QPersistentModelIndex) -> LogRow | None:
        if not index.isValid():
            return None
        parent_serial = index.internalId()
        if parent_serial:
            parent = self._children_of.get(parent_serial)
            if parent is None or index.row() >= len(parent.children):
                return None
            return parent.children[index.row()]
        r = index.row()
        return self._shown[-1 - r] if 0 <= r < len(self._shown) else None

    def index_of(self, row: LogRow) -> QModelIndex:
        pos = self.positions().get(row.serial)
        if pos is None:
            return QModelIndex()
        return self.index(len(self._shown) - 1 - pos, 0)

    def write_csv(self, out: IO[str]) -> int:
        """The rows shown (each followed by its lines) as CSV; returns how many rows."""
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        n = 0
        for row in self.rows():
            for line in (row, *row.children):
                writer.writerow(line.csv_row())
                n += 1
        return n

    # -- QAbstractItemModel --------------------------------------------------------------------
    def index(self, row: int, column: int,
              parent: QModelIndex | QPersistentModelIndex = _ROOT) -> QModelIndex:
        if column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            if row >= len(self._shown):
                return QModelIndex()
            return self.createIndex(row, column, 0)
        owner = self.row_at(parent)
        if owner is None or parent.internalId() or row >= len(owner.children):
            return QModelIndex()
        self._children_of[owner.serial] = owner
        return self.createIndex(row, column, owner.serial)

    def parent(self, index: QModelIndex | QPersistentModelIndex = _ROOT) -> Any:
        if not index.isValid() or not index.internalId():
            return QModelIndex()
        owner = self._children_of.get(index.internalId())
        if owner is None:
            return QModelIndex()
        return self.index_of(owner)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        if not parent.isValid():
            return len(self._shown)
        if parent.internalId() or parent.column() != 0:
            return 0
        owner = self.row_at(parent)
        return len(owner.children) if owner is not None else 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        if row is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells()[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == MESSAGE:
                return theme.LEVEL_COLOURS.get(row.level, theme.TEXT)
            return theme.DIM_TEXT
        if role == Qt.ItemDataRole.ToolTipRole and column == MESSAGE:
            tip = row.message
            if row.kind == "cancel" and row.children:
                n = len(row.children)
                tip += f"\n▸ {n} line{'s' if n != 1 else ''}: the venue's notices and every " \
                       "order's outcome"
            return tip
        if role == NOTICE_ROLE:
            return row.notice
        return None
