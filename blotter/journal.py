"""The journal: an append-only record of what the trader asked, what went to the venues, what
they answered, how each order ended, and every notice and connection state.

Files: ``<state dir>/journal/YYYY-MM-DD.jsonl``, one per UTC day (``BLOTTER_STATE_DIR``
overrides the state dir, as for the saved orders), each line one complete JSON object with
``ts`` (UTC epoch milliseconds, an int) and ``kind``:

- ``action``: ``action`` (its id), ``what`` (the scope in words), ``scope``, ``side``,
  ``accounts``, ``count``, ``from`` ("window" or "command line");
- ``request``: ``action``, ``venue``, ``account``, ``operation``, ``scope``, ``orders``;
- ``reply``: ``action``, ``venue``, ``account``, ``status``, ``code``, ``text``;
- ``outcome``: ``action``, ``venue``, ``account``, ``order``, ``outcome``, ``text``;
- ``close``: ``venue``, ``account``, ``order``, ``symbol``, ``reason``, ``detail``, ``how``;
- ``state``: ``venue``, ``account``, ``state``, ``reason`` (``attempt``, ``retry_in``);
- ``audit``: ``venue``, ``account``, ``closed``/``added``/``changed`` (order ids),
  ``summary``, ``details``;
- ``notice``: ``venue``, ``account``, ``level``, ``status``, ``text`` (``orders``,
  ``details``, ``receipt``, ``action``);
- ``order``: ``venue``, ``account``, ``order``; a first sighting has ``first`` and every
  field, a change only the fields that changed.

(``blotter.core.journal_records`` builds them.) Writing stays off the event loop: the loop
only appends the event to an in-memory queue; a background thread turns the queue into lines
and appends them at least once a second (``FLUSH_INTERVAL``) and at ``close()``, which also
fsyncs. A crash loses at most the last second, and at worst leaves a torn last line, which
the reader skips with a warning. The files together are capped (``BLOTTER_JOURNAL_MB``,
default 200 MB): the oldest days go first; today's file is never dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from blotter.core import journal_records as records
from blotter.core.closes import ClosedOrder, ResyncDiff
from blotter.core.notices import AccountState, Notice
from blotter.core.store import StoreDiff
from blotter.saved_orders import state_dir

log = logging.getLogger(__name__)

DIR_NAME: Final = "journal"
SUFFIX: Final = ".jsonl"
FLUSH_INTERVAL: Final = 0.1  # seconds between writes: a crash loses at most this much (< 1 s)
CAP_ENV_VAR: Final = "BLOTTER_JOURNAL_MB"
DEFAULT_CAP_MB: Final = 200
_ACTIONS_KEPT: Final = 20_000  # order ids remembered as aimed at by an action in flight


def journal_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the journal's day files are: ``journal/`` in the user state directory."""
    return state_dir(environ) / DIR_NAME


def cap_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """The journal's size cap in bytes (``BLOTTER_JOURNAL_MB``, default 200 MB)."""
    text = environ.get(CAP_ENV_VAR, "")
    try:
        megabytes = float(text) if text else DEFAULT_CAP_MB
    except ValueError:
        log.warning("%s=%r is not a number of megabytes; using %d", CAP_ENV_VAR, text,
                    DEFAULT_CAP_MB)
        megabytes = DEFAULT_CAP_MB
    return max(1, int(megabytes * 1024 * 1024))


# one encoder for every line (json.dumps with options builds a new one per call)
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def day_name(ts_ms: int) -> str:
    """The file of the UTC day of ``ts_ms``: "2026-12-05.jsonl"."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ms / 1000)) + SUFFIX


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


# what the loop queues: (kind, ts, item, action); the thread makes the records
_Queued = tuple[str, int, Any, str | None]


class Journal:
    """The writer. ``record(dict)`` and the ``on_*`` subscribers queue; a daemon thread writes.

    Safe to call from the event loop at flood rates: a queue append, nothing more (the dicts
    and the JSON are made on the writer thread). ``close()`` writes what is queued, fsyncs and
    stops the thread; after it, records are dropped.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        cap: int | None = None,
        clock: Callable[[], int] = _wall_ms,
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.directory = directory if directory is not None else journal_dir()
        self.cap = cap if cap is not None else cap_bytes()
        self.clock = clock
        self.interval = interval
        self.error: str | None = None  # the last write failure, said once in the log
        self._queue: deque[_Queued] = deque()
        self._seen: dict[Any, records.OrderState] = {}
        self._order_action: dict[tuple[str, str, str], str] = {}
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.Lock()  # one writer at a time: the thread or close()
        self._file: Any = None
        self._file_name = ""
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()

    # -- what the loop calls ------------------------------------------------------------------
    def record(self, record: dict[str, Any]) -> None:
        """Queue a ready record (it must have ``ts`` and ``kind``). A ``request`` also marks its
        orders as aimed at by its action, so the venue's notices about them carry the action."""
        if self._closed:
            return
        if record.get("kind") == "request":
            action = record["action"]
            venue, account = record["venue"], record["account"]
            for order_id in record.get("orders", ()):
                self._order_action[(venue, account, order_id)] = action
            while len(self._order_action) > _ACTIONS_KEPT:
                del self._order_action[next(iter(self._order_action))]
        self._queue.append(("record", 0, record, None))

    def on_notice(self, notice: Notice, action: str | None = None) -> None:
        """Queue a notice, with the action it belongs to (given, or found by its orders)."""
        if self._closed or notice.transient:
            return
        if action is None and notice.order_ids:
            action = self._order_action.get(
                (notice.venue, notice.account, notice.order_ids[0])
            )
        self._queue.append(("notice", self.clock(), notice, action))

    def on_state(self, state: AccountState) -> None:
        """Queue an account state change."""
        if not self._closed:
            self._queue.append(("state", self.clock(), state, None))

    def on_close(self, closed: ClosedOrder) -> None:
        """Queue a row's close."""
        if not self._closed:
            self._queue.append(("close", self.clock(), closed, None))

    def on_resync(self, diff: ResyncDiff) -> None:
        """Queue a fresh list's audit."""
        if not self._closed:
            self._queue.append(("audit", self.clock(), diff, None))

    def on_diff(self, diff: StoreDiff) -> None:
        """Queue the store's batch of changes (first sightings and changes of orders)."""
        if not self._closed and (diff.added or diff.updated):
            self._queue.append(("order", self.clock(), diff, None))

    # -- the writer ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Write what is queued now (the thread does this every ``interval``)."""
        with self._lock:
            self._write_queued()

    def close(self) -> None:
        """Write what is queued, fsync, stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        with self._lock:
            self._write_queued()
            if self._file is not None:
                try:
                    self._file.flush()
                    os.fsync(self._file.fileno())
                except OSError as exc:
                    self._failed(exc)
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            if self._closed:
                return
            try:
                self.flush()
            except Exception:
                log.exception("the journal could not be written")

    def _write_queued(self) -> None:
        queue = self._queue
        if not queue:
            return
        lines: dict[str, list[str]] = {}
        encode = _ENCODE
        day_start, day_end, name = 0, 0, ""  # the day of the last record: most share it
        while queue:
            kind, ts, item, action = queue.popleft()
            for record in self._records(kind, ts, item, action):
                when = record["ts"]
                if not day_start <= when < day_end:
                    name = day_name(when)
                    day_start = when - when % 86_400_000
                    day_end = day_start + 86_400_000
                lines.setdefault(name, []).append(encode(record))
        for name, day_lines in lines.items():
            self._append(name, "\n".join(day_lines) + "\n")

    def _records(self, kind: str, ts: int, item: Any, action: str | None) -> list[dict[str, Any]]:
        if kind == "record":
            return [item]
        if kind == "notice":
            return [records.notice_record(ts, item, action)]
        if kind == "state":
            return [records.state_record(ts, item)]
        if kind == "close":
            self._seen.pop(item.key, None)
            return [records.close_record(ts, item)]
        if kind == "audit":
            return [records.audit_record(ts, item)]
        return records.order_records(ts, item.added, item.updated, self._seen)

    def _append(self, name: str, text: str) -> None:
        try:
            if self._file is None or self._file_name != name:
                if self._file is not None:
                    self._file.close()
                self.directory.mkdir(parents=True, exist_ok=True)
                self._file = open(self.directory / name, "a", encoding="utf-8")  # noqa: SIM115
                self._file_name = name
                self._enforce_cap()
            self._file.write(text)
            self._file.flush()  # to the OS: a crash of the process loses nothing written
        except OSError as exc:
            self._failed(exc)
            return
        if self._file.tell() > self.cap // 8:  # checked often enough, not on every write
            self._enforce_cap()

    def _enforce_cap(self) -> None:
        """Drop the oldest day files until the journal fits its cap (today's always stays)."""
        try:
            days = sorted(p for p in self.directory.glob("*" + SUFFIX) if p.is_file())
            sizes = {p: p.stat().st_size for p in days}
        except OSError as exc:
            self._failed(exc)
            return
        total = sum(sizes.values())
        for path in days:
            if total <= self.cap or path.name == self._file_name:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= sizes[path]
                log.info("journal over its cap: dropped %s", path.name)

    def _failed(self, exc: OSError) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self.error:
            log.warning("the journal could not be written: %s", text)
        self.error = text


def attach(journal: Journal, engine: Any) -> Callable[[], None]:
    """Record everything ``engine`` (a ``blotter.engine.Engine``) sees into ``journal``: its
    cancel actions, notices, states, closes, audits and order changes. Returns the way to
    stop."""
    from blotter.engine import current_action

    def on_notice(notice: Notice) -> None:
        journal.on_notice(notice, current_action())

    engine.journal = journal
    stops = [engine.notices.subscribe(on_notice), engine.states.subscribe(journal.on_state)]
    engine.store.add_close_listener(journal.on_close)
    engine.store.add_resync_listener(journal.on_resync)
    engine.store.add_diff_listener(journal.on_diff)

    def detach() -> None:
        for stop in stops:
            stop()
        engine.store.remove_close_listener(journal.on_close)
        engine.store.remove_resync_listener(journal.on_resync)
        engine.store.remove_diff_listener(journal.on_diff)
        if getattr(engine, "journal", None) is journal:
            engine.journal = None

    return detach
