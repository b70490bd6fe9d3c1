"""Reading the journal back: the records of the day files in time order, filtered, and each
in one line a trader can read (``blotter journal``; the Notice Log's earlier runs).

Lines that do not parse (a torn last line after a crash) are skipped with a warning in the
log; nothing here writes.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from blotter.core.notices import Level, Notice
from blotter.core.times import iso_utc_ms
from blotter.journal import SUFFIX

log = logging.getLogger(__name__)

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now_ms: int) -> int:
    """``--since`` as epoch ms: "10m", "2h", "3d" ago (s, m, h, d, w), or an ISO 8601 time
    ("2026-12-05T13:00", "2026-12-05"; UTC unless it names its zone). ``ValueError``
    otherwise."""
    match = _AGO.match(text)
    if match:
        return now_ms - int(float(match.group(1)) * _UNIT_S[match.group(2).lower()] * 1000)
    try:
        when = datetime.fromisoformat(text.strip())  # 3.11 reads a trailing Z itself
    except ValueError:
        raise ValueError(
            f"--since takes an age such as 10m, 2h, 3d or a UTC time such as "
            f"2026-12-05T13:00, not {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _day_files(directory: Path, since: int | None) -> list[Path]:
    try:
        files = sorted(p for p in directory.glob("*" + SUFFIX) if p.is_file())
    except OSError:
        return []
    if since is None:
        return files
    first = time.strftime("%Y-%m-%d", time.gmtime(since / 1000)) + SUFFIX
    return [p for p in files if p.name >= first]


def _lines(path: Path, needles: Collection[str] = ()) -> Iterator[dict[str, Any]]:
    """The records of one day file; with ``needles``, only lines holding one of them are
    parsed (a cheap first sieve: most lines of a busy day are order changes)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                if needles and not any(n in line for n in needles):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    log.warning("journal %s line %d is not whole (skipped)", path.name, number)
                    continue
                if isinstance(record, dict) and isinstance(record.get("ts"), int):
                    yield record
                else:
                    log.warning("journal %s line %d is not a record (skipped)", path.name, number)
    except OSError as exc:
        log.warning("cannot read the journal file %s: %s", path, exc)


def _is_of(record: dict[str, Any], order: str) -> bool:
    if record.get("order") == order:
        return True
    orders = record.get("orders")
    return isinstance(orders, list) and order in orders


def _of_account(record: dict[str, Any], account: str) -> bool:
    name = record.get("account")
    if isinstance(name, str) and (name == account or name.startswith(account + "/")):
        return True
    accounts = record.get("accounts")
    return isinstance(accounts, list) and account in accounts


def read_journal(
    directory: Path,
    since: int | None = None,
    account: str | None = None,
    order: str | None = None,
    kinds: Collection[str] = (),
) -> Iterator[dict[str, Any]]:
    """The journal's records (dicts as written, see ``blotter.journal``), oldest first, that
    are at or after ``since`` (epoch ms), of ``account`` (its name, or a B2TRADER login's
    trading accounts), about ``order`` (an order id: its first sighting, changes, requests,
    outcomes, notices and close, plus the actions that aimed at it), and of one of ``kinds``
    (all when empty); with ``order``, the replies to the requests that named it too.
    Unreadable lines are skipped with a warning; a missing directory
    yields nothing. Records are in file order, which is the order they were written."""
    actions: dict[str, dict[str, Any]] = {}  # --order: the action records, shown when aimed
    shown: set[str] = set()
    asked: set[tuple[Any, Any]] = set()  # --order: (action, account) of requests naming it
    # kinds are written as JSON strings: a line without one of them cannot be of them (an
    # order's story also needs the action records, so it reads every line)
    needles = tuple(f'"{k}"' for k in kinds) if kinds and order is None else ()
    for path in _day_files(directory, since):
        for record in _lines(path, needles):
            if since is not None and record["ts"] < since:
                continue
            if account is not None and not _of_account(record, account):
                continue
            if order is not None:
                kind = record.get("kind")
                if kind == "action":
                    actions[str(record.get("action"))] = record
                    continue
                if kind == "reply":  # the venue's answer to a request that named the order
                    if (record.get("action"), record.get("account")) not in asked:
                        continue
                elif not _is_of(record, order):
                    continue
                if kind == "request":
                    asked.add((record.get("action"), record.get("account")))
                action = record.get("action")
                if isinstance(action, str) and action in actions and action not in shown:
                    shown.add(action)
                    if not kinds or "action" in kinds:
                        yield actions[action]
            if kinds and record.get("kind") not in kinds:
                continue
            yield record


def past_notices(directory: Path, limit: int = 1000, since: int | None = None) -> list[Notice]:
    """The last ``limit`` notices in the journal (of earlier runs too), oldest first, as
    ``Notice``s (``ts_ms`` set; ``details`` and ``order_ids`` as they were). A notice's
    action id, when it had one, is not part of ``Notice``: read the records with
    ``read_journal(kinds=("notice",))`` for it."""
    found: list[Notice] = []
    for record in read_journal(directory, since=since, kinds=("notice",)):
        try:
            level = Level(record.get("level", "info"))
        except ValueError:
            level = Level.INFO
        found.append(Notice(
            str(record.get("venue", "")), str(record.get("account", "")), level,
            str(record.get("text", "")), status=record.get("status"),
            order_ids=tuple(record.get("orders", ())), ts_ms=record["ts"],
            details=tuple(record.get("details", ())), receipt=bool(record.get("receipt")),
        ))
        if len(found) > 2 * limit:
            del found[:-limit]
    return found[-limit:]


when_text = iso_utc_ms  # an epoch ms as ISO 8601 UTC with milliseconds


def _ids(values: Iterable[Any], limit: int = 8) -> str:
    ids = [str(v) for v in values]
    head = ", ".join(ids[:limit])
    return head + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def record_line(record: dict[str, Any]) -> str:
    """One record in one line: time, kind, where, and what it says."""
    kind = str(record.get("kind", "?"))
    where = str(record.get("account") or "")
    if record.get("venue") and record.get("venue") != "blotter":
        where = f"{record['venue']}:{where}"
    tag = f" [{record['action']}]" if record.get("action") else ""
    r = record
    if kind == "action":
        body = (f"{r.get('what')}: {r.get('count')} orders on {', '.join(r.get('accounts', ()))}"
                f" (from the {r.get('from')})")
    elif kind == "request":
        body = f"{r.get('operation') or r.get('scope')}: {_ids(r.get('orders', ())) or 'no ids'}"
    elif kind == "reply":
        code = f" {r['code']}" if r.get("code") is not None else ""
        body = f"{r.get('status')}{code}: {r.get('text') or '(no text)'}"
    elif kind == "outcome":
        text = f" ({r['text']})" if r.get("text") else ""
        body = f"order {r.get('order')} {r.get('outcome')}{text}"
    elif kind == "close":
        body = f"order {r.get('order')} {r.get('symbol')} {r.get('how') or r.get('reason')}"
    elif kind == "state":
        body = f"{r.get('state')}" + (f": {r['reason']}" if r.get("reason") else "")
    elif kind == "audit":
        body = f"checked: {r.get('summary') or 'the table equals the venue'}"
        if r.get("details"):
            body += f" ({r['details']})"
    elif kind == "notice":
        head = f"{r['status']}: " if r.get("status") else ""
        body = f"({r.get('level')}) {head}{r.get('text')}"
    elif kind == "order":
        fields = [f"{k}={v}" for k, v in r.items()
                  if k not in ("ts", "kind", "venue", "account", "order", "first")]
        verb = "first seen" if r.get("first") else "changed"
        body = f"order {r.get('order')} {verb}: {' '.join(fields)}"
    else:
        body = json.dumps({k: v for k, v in r.items() if k not in ("ts", "kind")})
    return f"{when_text(int(r.get('ts', 0)))} {kind:<7} {where}{tag} {body}".replace("\n", " ")
