"""The last known orders, kept across restarts.

The open orders and the recent closes are written to ``orders.json`` in the user state
directory (``BLOTTER_STATE_DIR`` overrides it; the demo keeps its own ``demo-orders.json``) a
moment after they change and when the window closes: atomically (``write_atomically``: a reader
sees the old file or the new, whole), never with a secret (orders hold none). At the next start they are shown at once, as
unverified "as of" the time they were saved, until each account's first fresh list replaces them
and says what changed meanwhile. A file that cannot be read is reported, set aside and ignored:
never fatal, never silently lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from blotter.config_text import write_atomically
from blotter.core.closes import ClosedOrder, CloseReason
from blotter.core.order import AccountKey, Flag, Order, OrderStatus, Side
from blotter.core.store import OrderStore

log = logging.getLogger(__name__)

STATE_ENV_VAR: Final = "BLOTTER_STATE_DIR"
FILE_NAME: Final = "orders.json"
DEMO_FILE_NAME: Final = "demo-orders.json"
FORMAT_VERSION: Final = 1
SAVE_DELAY: Final = 2.0  # seconds after a change before it is written (changes coalesce)
CLOSES_KEPT: Final = 500


def state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where blotter keeps what it must remember between runs."""
    override = environ.get(STATE_ENV_VAR)
    if override:
        return Path(override)
    from platformdirs import user_state_dir

    return Path(user_state_dir("blotter", appauthor=False))


def default_path(demo: bool = False, environ: Mapping[str, str] = os.environ) -> Path:
    """The file of the trader's accounts, or of the demo's."""
    return state_dir(environ) / (DEMO_FILE_NAME if demo else FILE_NAME)


class UnreadableState(Exception):
    """The saved orders could not be read; the text says where and why."""


@dataclass(frozen=True, slots=True)
class SavedOrders:
    """What a file held: when it was written (epoch ms), the open orders, the recent closes."""

    saved_ms: int
    orders: tuple[Order, ...]
    closed: tuple[ClosedOrder, ...]

    def accounts(self) -> set[AccountKey]:
        """The accounts with open orders in the file."""
        return {o.account_key for o in self.orders}


# -- to and from plain data --------------------------------------------------------------------
def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_data(order: Order) -> dict[str, Any]:
    """An order as plain JSON data (decimals as strings)."""
    return {
        "venue": order.venue, "account": order.account, "order_id": order.order_id,
        "symbol": order.symbol, "side": order.side.value, "order_type": order.order_type,
        "amount": _dec(order.amount), "remaining": _dec(order.remaining),
        "status": order.status.value, "status_text": order.status_text,
        "price": _dec(order.price), "avg_price": _dec(order.avg_price),
        "client_id": order.client_id, "client_id_date": order.client_id_date,
        "group_id": order.group_id, "flags": sorted(f.value for f in order.flags),
        "created_ms": order.created_ms, "updated_ms": order.updated_ms,
        "category": order.category, "instrument_id": order.instrument_id,
    }


def _text(data: Mapping[str, Any], name: str, optional: bool = False) -> str | None:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} is not text")
    return value


def _decimal(data: Mapping[str, Any], name: str, optional: bool = False) -> Decimal | None:
    text = _text(data, name, optional)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} is not finite")
    return value


def _ms(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if type(value) is not int:
        raise ValueError(f"{name} is not a time")
    return value


def order_from(data: Any) -> Order:
    """The order plain data describes; ``ValueError`` or ``TypeError`` saying which field is
    wrong."""
    if not isinstance(data, dict):
        raise TypeError("an order is not an object")
    flags = data.get("flags") or []
    if not isinstance(flags, list):
        raise TypeError("flags is not a list")
    amount = _decimal(data, "amount")
    remaining = _decimal(data, "remaining")
    assert amount is not None and remaining is not None
    return Order(
        venue=str(_text(data, "venue")), account=str(_text(data, "account")),
        order_id=str(_text(data, "order_id")), symbol=str(_text(data, "symbol")),
        side=Side(data.get("side")), order_type=str(_text(data, "order_type")),
        amount=amount, remaining=remaining, status=OrderStatus(data.get("status")),
        status_text=str(_text(data, "status_text")),
        price=_decimal(data, "price", True), avg_price=_decimal(data, "avg_price", True),
        client_id=_text(data, "client_id", True), client_id_date=_text(data, "client_id_date", True),
        group_id=_text(data, "group_id", True), flags=frozenset(Flag(f) for f in flags),
        created_ms=_ms(data, "created_ms"), updated_ms=_ms(data, "updated_ms"),
        category=_text(data, "category", True),
        instrument_id=_text(data, "instrument_id", True),
    )


def closed_data(closed: ClosedOrder) -> dict[str, Any]:
    """A close as plain JSON data."""
    return {
        "order": order_data(closed.order), "reason": closed.reason.value,
        "detail": closed.detail, "closed_ms": closed.closed_ms,
    }


def closed_from(data: Any) -> ClosedOrder:
    """The close plain data describes; ``ValueError`` or ``TypeError`` saying what is wrong."""
    if not isinstance(data, dict):
        raise TypeError("a close is not an object")
    closed_ms = _ms(data, "closed_ms")
    return ClosedOrder(
        order_from(data.get("order")), CloseReason(data.get("reason")),
        str(_text(data, "detail")), closed_ms or 0,
    )


def dumps(saved_ms: int, orders: Iterable[Order], closed: Iterable[ClosedOrder]) -> str:
    """The file's text."""
    return json.dumps({
        "version": FORMAT_VERSION,
        "saved_ms": saved_ms,
        "orders": [order_data(o) for o in orders],
        "closed": [closed_data(c) for c in closed],
    }, separators=(",", ":"))


def loads(text: str) -> SavedOrders:
    """What the file's text holds; ``ValueError`` or ``TypeError`` (with the reason) when it
    is not a file of ours. One unreadable record makes the whole file unreadable: half a list would look like
    the truth."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError("not a saved-orders file of this version")
    saved_ms = data.get("saved_ms")
    if type(saved_ms) is not int:
        raise ValueError("no time of saving")
    orders, closed = data.get("orders"), data.get("closed", [])
    if not isinstance(orders, list) or not isinstance(closed, list):
        raise TypeError("orders or closes are not lists")
    return SavedOrders(
        saved_ms, tuple(order_from(o) for o in orders), tuple(closed_from(c) for c in closed)
    )


# -- the file ----------------------------------------------------------------------------------
def load(path: Path) -> SavedOrders | None:
    """The saved orders of ``path``; None when there is no file. A file that cannot be read is
    moved aside (``<name>.unreadable``) and ``UnreadableState`` says why."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableState(f"{path}: {exc}") from None
    try:
        return loads(text)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        aside = path.with_name(path.name + ".unreadable")
        try:
            os.replace(path, aside)
            kept = f"; kept as {aside.name}"
        except OSError:
            kept = ""
        raise UnreadableState(f"{path}: {exc}{kept}") from None


def _dump_and_write(
    path: Path, saved_ms: int, orders: list[Order], closed: list[ClosedOrder]
) -> None:
    write_atomically(path, dumps(saved_ms, orders, closed).encode("utf-8"))


def restore(
    store: OrderStore, saved: SavedOrders, keep: Callable[[AccountKey], bool]
) -> set[AccountKey]:
    """Show the saved open orders of the accounts ``keep`` accepts; returns the accounts
    restored. The caller marks them unverified as of ``saved.saved_ms``
    (``TrustBoard.restore``); the saved closes go to ``store.restore_closed`` separately
    (before a view reads them)."""
    by_account: dict[AccountKey, list[Order]] = {}
    for order in saved.orders:
        if keep(order.account_key):
            by_account.setdefault(order.account_key, []).append(order)
    for account, orders in by_account.items():
        store.apply_restored(account, orders)
    return set(by_account)


class OrderSaver:
    """Writes the store's open orders and recent closes a moment after they change, and on
    ``close()``. Serialising runs off the event loop's thread so a flood is not stalled."""

    def __init__(
        self, store: OrderStore, path: Path, clock: Callable[[], int],
        delay: float = SAVE_DELAY,
    ) -> None:
        self.store = store
        self.path = path
        self._clock = clock
        self._delay = delay
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._dirty = False
        self.saves = 0  # files written (for tests and the log)
        self.error: str | None = None  # the last write's failure, if it failed
        store.add_diff_listener(lambda diff: self.changed())
        store.add_close_listener(lambda closed: self.changed())

    def changed(self) -> None:
        """Something changed: write it after ``delay`` seconds (one write for many changes)."""
        self._dirty = True
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(self._delay, self._due)

    def _due(self) -> None:
        self._timer = None
        if self._writing is not None and not self._writing.done():
            self.changed()  # one write at a time: try again after this one
            return
        self._writing = asyncio.get_running_loop().create_task(self._write())

    def _payload(self) -> tuple[int, list[Order], list[ClosedOrder]]:
        closed = list(self.store.closed)[-CLOSES_KEPT:]
        return self._clock(), self.store.orders(), closed

    async def _write(self) -> None:
        self._dirty = False
        saved_ms, orders, closed = self._payload()  # plain lists of frozen records
        try:
            await asyncio.to_thread(_dump_and_write, self.path, saved_ms, orders, closed)
        except OSError as exc:
            self.error = f"{self.path}: {exc}"
            log.warning("could not save the last known orders: %s", self.error)
        else:
            self.saves += 1
            self.error = None

    async def close(self) -> None:
        """Write what is there now (at exit), after any write under way."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        await self._write()
