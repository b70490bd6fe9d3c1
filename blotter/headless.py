"""The headless runner behind ``blotter orders`` and ``blotter cancel`` (design.md §6).

The same engine and venue clients as the window, on a plain asyncio loop, connected only for as
long as the command runs: start the clients, wait (bounded) until every account is live, read
the store or cancel through ``Engine.cancel``, and stop the clients again whatever happened.

Nothing here prints: the command line (``blotter.cli``) turns what comes back into text and exit
codes. Expected trouble is a ``CommandError`` carrying its exit code and a readable message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Self

from blotter.accounts import account_key, make_client
from blotter.config import AccountConfig, Config
from blotter.core.cancel import (
    CancelPlan,
    CancelResult,
    CancelScope,
    OrderOutcome,
    Outcome,
    category_title,
    instrument_text,
)
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Order, Side
from blotter.core.store import OrderStore
from blotter.core.times import iso_utc_ms
from blotter.engine import Engine

log = logging.getLogger("blotter.headless")

EXIT_OK: Final = 0  # everything asked for is confirmed by the venue
EXIT_NOT_CANCELLED: Final = 1  # some orders not cancelled (each reported)
EXIT_USAGE: Final = 2  # usage or configuration error
EXIT_CONNECTION: Final = 3  # authentication or connection failure
EXIT_INTERRUPTED: Final = 130  # Ctrl+C

ORDERS_TIMEOUT: Final = 20.0  # s, `blotter orders`: connect and load
CANCEL_TIMEOUT: Final = 30.0  # s, `blotter cancel`: connect, cancel and confirm
STOP_TIMEOUT: Final = 5.0  # s, closing the clients
# A client's own wait for a confirmation is kept this much inside the command's deadline, so it
# reports "timed out" itself (and re-queries where it does) before the deadline cuts it off.
CONFIRM_MARGIN: Final = 2.0

_RETRYING = re.compile(r";\s*retrying in [\d.]+ s$")


class CommandError(Exception):
    """Expected trouble: ``str()`` is the message for the trader, ``code`` the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------
# which accounts


@dataclass(frozen=True, slots=True)
class Target:
    """A configured account to connect, with its secrets (never shown in a repr)."""

    account: AccountConfig
    credentials: Mapping[str, str] = field(repr=False)

    @property
    def key(self) -> AccountKey:
        return account_key(self.account)


@dataclass(frozen=True, slots=True)
class Pick:
    """An account as named on the command line: a configured account (for a B2TRADER login:
    every trading account it shows), or one trading account ``<login>/<trading account>``."""

    account: AccountConfig
    trading: str | None = None

    @property
    def label(self) -> str:
        return self.account.name if self.trading is None else f"{self.account.name}/{self.trading}"


def pick_accounts(names: Sequence[str], config: Config) -> list[Pick]:
    """The accounts ``names`` select (all configured ones when empty), in the order given.

    ``ConfigError`` (listing the known names) for an unknown name; ``CommandError`` for a
    ``login/trading`` name whose login is not a B2TRADER account.
    """
    if not names:
        return [Pick(account) for account in config]
    picks: list[Pick] = []
    for name in names:
        login, sep, trading = name.partition("/")
        account = config.get(login.strip())
        if not sep:
            picks.append(Pick(account))
            continue
        trading = trading.strip()
        if account.venue != "b2trader":
            raise CommandError(
                f"{name!r}: only a B2TRADER login has trading accounts (\"<login>/<trading "
                f"account>\"); {account.name} is a {account.venue} account"
            )
        if not trading:
            raise CommandError(f"{name!r}: the trading account after \"/\" is missing")
        picks.append(Pick(account, trading))
    # a whole login covers its trading accounts; and each pick once
    whole = {p.account.name for p in picks if p.trading is None}
    unique: dict[tuple[str, str | None], Pick] = {}
    for pick in picks:
        if pick.trading is not None and pick.account.name in whole:
            continue
        unique.setdefault((pick.account.name, None if pick.trading is None
                           else pick.trading.casefold()), pick)
    return list(unique.values())


def logins(picks: Iterable[Pick]) -> list[AccountConfig]:
    """The configured accounts that connect to serve ``picks`` (each once, in order)."""
    seen: dict[str, AccountConfig] = {}
    for pick in picks:
        seen.setdefault(pick.account.name, pick.account)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# cancel requests


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """What ``blotter cancel`` was asked to cancel on one account (exactly one of ``ids``,
    ``client_id``, ``group``, ``symbol``, ``whole_account``); ``category`` picks the market of
    a symbol that spans several, ``side`` narrows a symbol or the whole account to one side."""

    ids: tuple[str, ...] = ()
    client_id: str | None = None
    client_id_date: str | None = None  # YYYY-MM-DD
    group: str | None = None
    symbol: str | None = None
    whole_account: bool = False
    category: str | None = None
    side: Side | None = None


@dataclass(frozen=True, slots=True)
class Missing:
    """Something named on the command line that is not an open order of the account."""

    account: str
    order_id: str | None
    text: str


@dataclass(slots=True)
class Selection:
    """A request resolved against the open orders: the scopes for ``Engine.cancel`` with the
    plans each makes (computed once, so what the trader confirmed is what is sent), what was
    named but is not open, and how many orders the plans are expected to cancel.

    ``everything``: the plans cancel everything the accounts have at the venue, shown or not,
    so they go out even when no open order is listed. ``open_here``: the instruments open on
    the accounts asked about, in words, for when nothing matched."""

    scopes: list[CancelScope]
    plans: list[list[CancelPlan]]
    missing: list[Missing]
    what: str
    everything: bool = False
    open_here: str = ""

    @property
    def count(self) -> int:
        return sum(len(plan.orders) for plans in self.plans for plan in plans)

    @property
    def matched_nothing(self) -> bool:
        """No open order matches, and nothing would go out for orders not shown."""
        return self.count == 0 and not self.missing and not self.everything


# ---------------------------------------------------------------------------------------------
# the session


class Session:
    """Store, buses, engine and one client per target, for one command."""

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        nonce_dir: str | Path | None = None,
        tuning: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = OrderStore()
        self.notices = NoticeBus()
        self.states = StateBus()
        self.notices.on_error = self.states.on_error = _log_subscriber_error
        self.engine = Engine(self.store, self.notices, self.states)
        self.targets = {t.key: t for t in targets}
        self.nonce_dir = nonce_dir
        self.tuning = dict(tuning or {})
        self.failed: dict[AccountKey, str] = {}  # sticky: an account that failed since start
        self._changed = asyncio.Event()
        self.notices.subscribe(self._on_notice)
        self.states.subscribe(self._on_state)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Build and start every client; a client refusing its account (a bad URL) is a
        configuration error."""
        for key, target in self.targets.items():
            try:
                client = make_client(
                    target.account, target.credentials, store=self.store,
                    notices=self.notices, states=self.states, nonce_dir=self.nonce_dir,
                    **self.tuning,
                )
            except ValueError as exc:
                raise CommandError(f"{key.account}: {exc}", EXIT_USAGE) from None
            self.engine.add_client(client)

    async def stop(self) -> None:
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self.engine.stop()
        except Exception:  # stopping must never replace the command's result
            log.warning("the clients did not stop cleanly", exc_info=True)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- waiting for live ------------------------------------------------------------------
    def _on_state(self, state: AccountState) -> None:
        log.debug("%s: %s %s", state.account_key, state.state.value, state.reason)
        key = state.account_key
        if state.state is VenueState.FAILED:
            self.failed[key] = _RETRYING.sub("", state.reason) or "failed"
        elif state.state is VenueState.LIVE:
            self.failed.pop(key, None)
        self._changed.set()

    def _on_notice(self, notice: Notice) -> None:
        level = logging.WARNING if notice.level is Level.ERROR else logging.INFO
        where = f"{notice.venue}:{notice.account}" if notice.account else notice.venue
        log.log(level, "%s: %s", where, notice.line())

    async def connect(self, timeout: float, *, fail_fast: bool = True) -> dict[AccountKey, str]:
        """Wait until every account is live; return the ones that are not, with why.

        ``fail_fast`` returns at the first account that fails (its venue's reason); otherwise
        the wait goes on until each account is live or failed, or ``timeout`` has passed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            current = {key: self.states.current.get(key) for key in self.targets}
            waiting = [k for k, s in current.items() if s is None or s.state is not VenueState.LIVE]
            failed = {k: self.failed[k] for k in waiting if k in self.failed}
            if failed and (fail_fast or len(failed) == len(waiting)):
                return failed
            if not waiting:
                return {}
            remaining = deadline - loop.time()
            if remaining <= 0:
                return {k: failed.get(k) or _not_live(current[k], timeout) for k in waiting}
            self._changed.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel (Ctrl+C)
            # that lands in the same turn as a state change, and the wait would go on
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    # -- reading ---------------------------------------------------------------------------
    def account_keys(self, pick: Pick) -> list[AccountKey]:
        """The accounts whose rows ``pick`` names, once connected: the account itself, or a
        B2TRADER login's trading accounts (all of them, or the one named)."""
        login = account_key(pick.account)
        client = self.engine.clients.get(login)
        keys = [k for k in client.accounts() if k != login] if client is not None else []
        if pick.trading is None:
            return keys or [login]
        wanted = f"{pick.account.name}/{pick.trading}".casefold()
        for key in keys:
            if key.account.casefold() == wanted:
                return [key]
        known = ", ".join(k.account.partition("/")[2] for k in keys) or "none"
        raise CommandError(
            f"{pick.account.name} has no trading account {pick.trading!r} "
            f"(its trading accounts: {known})",
            EXIT_USAGE,
        )

    def orders(self, picks: Sequence[Pick]) -> list[Order]:
        """The open orders of ``picks``, by account as configured, then oldest first."""
        rank = {name: n for n, name in enumerate(p.account.name for p in picks)}
        seen: set[AccountKey] = set()
        found: list[Order] = []
        for pick in picks:
            for key in self.account_keys(pick):
                if key not in seen:
                    seen.add(key)
                    found.extend(self.store.orders(key))

        def order_key(o: Order) -> tuple[int, str, int, str]:
            login = o.account.partition("/")[0]
            return (rank.get(login, len(rank)), o.account, o.created_ms or 0, o.order_id)

        return sorted(found, key=order_key)

    # -- cancelling ------------------------------------------------------------------------
    def select(self, pick: Pick, request: CancelRequest) -> Selection:
        """Resolve ``request`` on ``pick`` against the open orders just loaded."""
        keys = self.account_keys(pick)
        open_orders = [o for key in keys for o in self.store.orders(key)]
        scopes: list[CancelScope] = []
        missing: list[Missing] = []
        if request.ids:
            by_id = {o.order_id: o for o in open_orders}
            wanted = list(dict.fromkeys(request.ids))
            found = [by_id[i].key for i in wanted if i in by_id]
            missing = [
                Missing(pick.label, i, f"not among the open orders of {pick.label} at the venue")
                for i in wanted if i not in by_id
            ]
            if found:
                scopes.append(CancelScope.selected(found))
            what = (f"order {wanted[0]}" if len(wanted) == 1 else f"{len(wanted)} orders")
        elif request.client_id is not None:
            date = request.client_id_date
            matches = [
                o.key for o in open_orders
                if o.client_id == request.client_id
                and (date is None or o.client_id_date is None or o.client_id_date == date)
            ]
            named = f"client id {request.client_id}" + (f" of {date}" if date else "")
            if matches:
                scopes.append(CancelScope.selected(matches))
            else:
                missing.append(Missing(
                    pick.label, None, f"no open order with {named} on {pick.label} at the venue"
                ))
            what = f"the order with {named}"
        elif request.group is not None:
            scopes = [CancelScope.group(key, request.group) for key in keys]
            what = f"group {request.group}"
        elif request.symbol is not None:
            instrument = _instrument(request, open_orders, pick.label)
            if instrument is None:  # nothing to send: the name matches no open order
                what = _sided(request.side, instrument_text(request.symbol, request.category))
            else:
                symbol, category = instrument
                what = _sided(request.side, instrument_text(symbol, category))
                scopes = [
                    CancelScope.for_symbol(key, symbol, category, request.side) for key in keys
                ]
        elif request.whole_account:
            scopes = [CancelScope.for_account(key, request.side) for key in keys]
            what = _sided(request.side, "all orders")
        else:
            raise CommandError("nothing to cancel was named")
        plans = [self.engine.plan(scope) for scope in scopes]
        everything = request.whole_account and request.side is None
        return Selection(scopes, plans, missing, f"{what} on {pick.label}", everything,
                         open_instruments(open_orders))

    def select_everything(self, side: Side | None = None) -> Selection:
        """Everything (or one side of everything) on every connected account."""
        scope = CancelScope.everything(side)
        # every connected account gets a plan, those with no rows showing too: of that side
        plans = [p if p.side is side else replace(p, side=side) for p in self.engine.plan(scope)]
        return Selection([scope], [plans], [], scope.describe(), side is None,
                         open_instruments(self.store))

    def routes(self, selection: Selection) -> list[tuple[str, str]]:
        """How each account's plan will be sent (``VenueClient.cancel_route``), for the
        question before a cancel: (account, route), one per plan."""
        found: list[tuple[str, str]] = []
        for plans in selection.plans:
            for plan in plans:
                client = self.engine.client_for(plan.account)
                if client is not None:
                    found.append((plan.account.account, client.cancel_route(plan)))
        return found

    async def cancel(self, selection: Selection, timeout: float) -> list[CancelResult]:
        """``Engine.cancel`` of each of the selection's plans, side by side, all bounded by
        ``timeout``: a scope without an answer by then reports each of its orders as timed
        out."""
        scopes, planned = selection.scopes, selection.plans
        if not scopes:
            return []
        budget = max(0.5, timeout - CONFIRM_MARGIN) if timeout > 2 * CONFIRM_MARGIN else timeout / 2
        for client in self.engine.clients.values():
            client.cancel_timeout = min(client.cancel_timeout, budget)
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self.engine.cancel(scope, plans, origin="command line"))
                 for scope, plans in zip(scopes, planned, strict=True)]
        try:
            await asyncio.wait(tasks, timeout=max(timeout, 0.01))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        results: list[CancelResult] = []
        for task, plans in zip(tasks, planned, strict=True):
            error: str | None = None
            if task.cancelled():
                error = (f"no answer within {timeout:g} s (--timeout); "
                         "the orders may still be open")
                outcome = Outcome.TIMED_OUT
            elif task.exception() is not None:
                error = f"cancel failed: {task.exception()}"
                outcome = Outcome.REJECTED
            else:
                results.extend(task.result())
                continue
            for plan in plans:
                result = CancelResult(plan, error=error)
                for order in plan.orders:
                    result.outcomes[order.key] = OrderOutcome(order.key, outcome, error)
                results.append(result)
        return results


def _instrument(
    request: CancelRequest, orders: Sequence[Order], label: str
) -> tuple[str, str | None] | None:
    """The instrument ``--symbol`` (with ``--category``, ``--side``) names among the open
    ``orders``: its symbol as shown and its market kind; None when it matches no open order.
    The name is the symbol as shown or the venue's own instrument id, in any case
    (``tbtcusd``, ``cfd.eur_chf``). A name that matches open orders on two instruments is a
    usage error (``CommandError``) listing them."""
    assert request.symbol is not None
    wanted = request.symbol.casefold()
    kind = request.category.casefold() if request.category is not None else None
    matched = [
        o for o in orders
        if (o.symbol.casefold() == wanted or (o.instrument_id or "").casefold() == wanted)
        and (kind is None or (o.category or "").casefold() == kind)
        and (request.side is None or o.side is request.side)
    ]
    found = list(dict.fromkeys((o.symbol, o.category) for o in matched))
    if len(found) > 1:
        kinds = " or ".join(f"--category {c}" for c in sorted(c for _, c in found if c))
        raise CommandError(
            f"{request.symbol!r} names {len(found)} instruments on {label}: "
            f"{open_instruments(matched)}; say which with {kinds}"
            + (" or the market id" if any(o.instrument_id for o in matched) else ""),
            EXIT_USAGE,
        )
    return found[0] if found else None


def market_text(order: Order) -> str:
    """An order's market for the orders table: its kind, and the venue's own instrument id
    where the symbol shown is another name ("Linear", "CFD cfd.eur_chf"); "" for neither."""
    return " ".join(filter(None, (category_title(order.category), order.instrument_id)))


def open_instruments(orders: Iterable[Order]) -> str:
    """The instruments of ``orders`` in words, with the venue's own id where the symbol shown
    is another name and how many orders each: "BTCUSDT Linear: 2, EUR/CHF CFD (cfd.eur_chf):
    1"; "" for none."""
    counts: dict[tuple[str, str | None, str | None], int] = {}
    for o in orders:
        key = (o.symbol, o.category, o.instrument_id)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(
        instrument_text(symbol, category) + (f" ({iid})" if iid else "") + f": {n}"
        for (symbol, category, iid), n in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1] or "")
        )
    )


def _sided(side: Side | None, what: str) -> str:
    if side is None:
        return what
    sides = "buys" if side is Side.BUY else "sells"
    return f"all {sides}" if what == "all orders" else f"{sides} of {what}"


def _not_live(state: AccountState | None, timeout: float) -> str:
    if state is None:
        return f"not connected after {timeout:g} s (no answer yet)"
    reason = _RETRYING.sub("", state.reason)
    detail = f"{state.state.value}: {reason}" if reason else f"still {state.state.value}"
    return f"not connected after {timeout:g} s ({detail})"


def _log_subscriber_error(exc: BaseException) -> None:
    log.error("a subscriber failed: %s", exc, exc_info=exc)


# ---------------------------------------------------------------------------------------------
# output helpers shared by the text and JSON forms


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal as plain digits (never exponent notation; zero as "0"), or None."""
    if value is None:
        return None
    return "0" if value == 0 else format(value, "f")


def iso_ms(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC: ``2026-11-21T12:04:16.123Z`` (None if
    unknown)."""
    return None if ms is None else iso_utc_ms(ms)


def order_record(order: Order) -> dict[str, str | None]:
    """One open order for ``blotter orders --json``."""
    return {
        "venue": order.venue,
        "account": order.account,
        "order_id": order.order_id,
        "symbol": order.symbol,
        "category": order.category,
        "instrument_id": order.instrument_id,
        "side": order.side.value,
        "type": order.order_type,
        "price": decimal_text(order.price),
        "amount": decimal_text(order.amount),
        "remaining": decimal_text(order.remaining),
        "filled": decimal_text(order.filled),
        "status": order.status.value,
        "status_text": order.status_text,
        "group_id": order.group_id,
        "client_id": order.client_id,
        "created": iso_ms(order.created_ms),
        "updated": iso_ms(order.updated_ms),
    }


__all__ = [
    "CANCEL_TIMEOUT",
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_CANCELLED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ORDERS_TIMEOUT",
    "CancelRequest",
    "CommandError",
    "Missing",
    "Pick",
    "Selection",
    "Session",
    "Target",
    "decimal_text",
    "iso_ms",
    "logins",
    "market_text",
    "open_instruments",
    "order_record",
    "pick_accounts",
]
