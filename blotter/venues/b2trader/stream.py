"""The B2TRADER account hub, sans-I/O: frames in, events out.

One hub connection of a login carries one ``OpenOrders`` stream per trading account (§3.6). Frames
go through the SignalR ``Decoder`` (``signalr.py``) into hub messages; each ``StreamItem`` is its
trading account's open orders, read by that account's ``OpenOrdersParser``, which reuses the
``Order`` of every order that did not change since the account's last list (the hot path: every
item re-sends the whole open set, §3.7).

``StreamParser`` keeps what the connection knows: which invocation is which trading account's
stream, which accounts still wait for their first complete list, and the newest complete list of
an account not read yet (when several arrive back to back, only the newest needs reading: the
client reads it when its loop is free). It touches no socket and reads no clock, and raises only
``MalformedFrame`` for bad input. Protocol notes: ``/work/shared/venues/b2trader.md`` §3.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import orjson

from blotter.core.order import AccountKey, Order
from blotter.core.venue import PARSE_ERRORS, MalformedFrame, guarded
from blotter.venues.b2trader import signalr
from blotter.venues.b2trader.orders import (
    InexactNumber,
    check_account,
    loads_exact,
    parse_order,
    reusable,
    short,
)
from blotter.venues.b2trader.requests import open_orders_subscription
from blotter.venues.b2trader.signalr import (
    MAX_PARTIAL_RECORD,
    Close,
    Completion,
    HandshakeResponse,
    StreamItem,
)

# A Close whose error names the token: the hub turned the JWT away (exchange the API token again).
_TOKEN_REFUSED: Final = re.compile(r"unauthori|token|expired", re.IGNORECASE)

# -- one trading account's order list (§3.6) ---------------------------------------------------
def _order_items(payload: Any) -> list[Any]:
    if type(payload) is dict and type(payload.get("item")) is list:
        payload = payload["item"]  # the OpenPositions wrapping (P-12), tolerated here too
    if type(payload) is not list:
        raise MalformedFrame("OpenOrders item is not an array of orders")
    return payload


def _order_list(payload: Any, account: AccountKey) -> tuple[Order, ...]:
    return tuple(parse_order(o, account, in_open_list=True) for o in _order_items(payload))


def _exact_payload(payload: StreamItem | Any) -> Any:
    """The orders again, after a money field came as a JSON number read into a float (P-6):
    re-read from the record with exact decimals, or without one from the floats' reprs."""
    if not isinstance(payload, StreamItem):
        return _floats_to_decimals(payload)
    if not payload.record:
        return _floats_to_decimals(payload.item)
    exact = loads_exact(payload.record)
    if type(exact) is not dict or "item" not in exact:
        raise MalformedFrame("StreamItem record does not hold an item")
    return exact["item"]


def _floats_to_decimals(value: Any) -> Any:
    # Without the record text the best left is the float's shortest repr: the digits sent,
    # for any number of up to 15 significant digits.
    if type(value) is float:
        if not math.isfinite(value):
            raise MalformedFrame("number is not finite")
        return Decimal(repr(value))
    if type(value) is list:
        return [_floats_to_decimals(v) for v in value]
    if type(value) is dict:
        return {k: _floats_to_decimals(v) for k, v in value.items()}
    return value


# The texts that may stand between two orders of a list (compact, as the hub writes, or as
# Python's json writes), and the braces around one order's text.
_BETWEEN: Final[dict[type, Any]] = {str: ("},{", "}, {"), bytes: (b"},{", b"}, {")}
_BRACES: Final[dict[type, Any]] = {str: ("{", "}"), bytes: (b"{", b"}")}
_TAIL: Final[dict[type, Any]] = {str: "}]}", bytes: b"}]}"}
_EMPTY_TAIL: Final[dict[type, Any]] = {str: "]}", bytes: b"]}"}


def _order_texts(record: str | bytes) -> list[Any] | None:
    """The text of each order of a StreamItem record (``{"type":2,"invocationId":"…",
    "item":[{…},{…}]}``), without the braces around each; None for any other shape. Cut where
    ``},{`` stands: a text cut inside a string or a nested array is not an object on its own,
    which ``OpenOrdersParser`` finds out before using it."""
    kind = type(record)
    if kind is not str and kind is not bytes:
        return None
    text: Any = record
    head = signalr.ITEM_HEADS[kind].match(text)
    if head is None:
        return None
    start = head.end()
    if len(text) == start + 2 and text.endswith(_EMPTY_TAIL[kind]):
        return []  # an empty list
    compact, spaced = _BETWEEN[kind]
    if (
        not text.endswith(_TAIL[kind]) or text[start : start + 1] != _BRACES[kind][0]
        or compact in text[:start] or spaced in text[:start]
    ):
        return None
    texts: list[Any] = text.split(compact)
    if len(texts) == 1 and spaced in text:
        texts = text.split(spaced)
    texts[0] = texts[0][start + 1 :]
    texts[-1] = texts[-1][:-3]
    return texts


@guarded
def parse_open_orders(payload: StreamItem | Any, account: AccountKey) -> tuple[Order, ...]:
    """An ``OpenOrders`` StreamItem (or its ``item``) → the trading account's open orders (§3.6).

    ``account`` is that trading account's key (``trading_account_key``). Per the notes'
    recommendation (§3.7, U-9) each item is the complete open set of the trading account: put
    the result in a ``Snapshot``. A stream reads faster through ``OpenOrdersParser``.
    """
    check_account(account)
    try:
        return _order_list(payload.item if isinstance(payload, StreamItem) else payload, account)
    except InexactNumber:
        return _order_list(_exact_payload(payload), account)


class OpenOrdersParser:
    """``parse_open_orders`` for one trading account's stream, reusing the unchanged orders.

    Every item re-sends the whole open set (§3.7), and mostly only an order or two changed
    since the last one. The parser remembers the orders of the last item and hands back the
    same ``Order`` for an order that did not change, with no field parsed and no object built:

    - from the record's text, as the hub sends it (compact): each order's text is compared
      with the last item's, in order; a text never seen is read on its own (it must be one
      JSON object) and parsed. Equal texts are equal orders, whatever their numbers look like;
      a record that is not cut cleanly into objects is read the next way.
    - from the decoded item: an order whose raw object is equal to the last one's (and whose
      fields read are strings or null: ``==`` takes 1.0 or True for 1) is reused.

    Orders missing from an item are forgotten. ``parse(payload)`` equals
    ``parse_open_orders(payload, account)`` for every JSON payload, and raises
    ``MalformedFrame`` where that raises (property tests hold both ways).
    """

    __slots__ = ("_account", "_built", "_known", "_texts")

    def __init__(self, account: AccountKey) -> None:
        check_account(account)
        self._account = account
        self._known: dict[str, tuple[dict[str, Any], Order]] = {}
        self._texts: list[Any] = []  # the last item's order texts (str or bytes)...
        self._built: list[Order] = []  # ...and the Order of each

    @property
    def account(self) -> AccountKey:
        return self._account

    def __len__(self) -> int:
        """How many orders are remembered (those of the last item parsed)."""
        return len(self._known) + len(self._built)

    def reset(self) -> None:
        """Forget the remembered orders (a new subscription; memory only, never correctness)."""
        self._known = {}
        self._texts = []
        self._built = []

    @guarded
    def parse(self, payload: StreamItem | Any) -> tuple[Order, ...]:
        """An ``OpenOrders`` StreamItem (or its ``item``) → the open orders, as a new tuple."""
        try:
            if isinstance(payload, StreamItem):
                if payload.record:
                    orders = self._parse_texts(payload.record)
                    if orders is not None:
                        return orders
                return self._parse(payload.item)
            return self._parse(payload)
        except InexactNumber:
            return self._parse(_exact_payload(payload))

    def _parse_texts(self, record: str | bytes) -> tuple[Order, ...] | None:
        """The orders of a StreamItem from its record's text, or None (nothing remembered by
        text then) when the record is not an array of orders that each read alone."""
        texts = _order_texts(record)
        if texts is None:
            self._texts, self._built = [], []
            return None
        last, built = self._texts, self._built
        n = len(last)
        j = 0  # where the last item's texts are expected to go on
        index: dict[Any, int] | None = None
        orders: list[Order] = []
        try:
            for text in texts:
                if j < n and text == last[j]:
                    order = built[j]
                    j += 1
                elif j + 1 < n and text == last[j + 1]:  # the order before it left
                    order = built[j + 1]
                    j += 2
                else:
                    if index is None:  # orders moved: find them anywhere in the last item
                        index = {t: i for i, t in enumerate(last)}
                    i = index.get(text)
                    if i is not None:
                        order = built[i]
                        j = i + 1
                    else:
                        order = self._read_text(text)
                        if j < n and built[j].order_id == order.order_id:
                            j += 1  # it changed where it stands
                orders.append(order)
        except (MalformedFrame, InexactNumber, *PARSE_ERRORS):
            self._texts, self._built = [], []
            return None  # the decoded item says what is wrong, as the stateless parser does
        self._texts, self._built = texts, orders
        if self._known:
            self._known = {}
        return tuple(orders)

    def _read_text(self, text: Any) -> Order:
        """One order's text (without its braces), read alone: it must be one JSON object."""
        opening, closing = _BRACES[type(text)]
        whole = opening + text + closing
        raw = orjson.loads(whole)
        if type(raw) is not dict:
            raise MalformedFrame("order is not an object")
        try:
            return parse_order(raw, self._account, in_open_list=True)
        except InexactNumber:  # P-6: the digits as sent
            return parse_order(loads_exact(whole), self._account, in_open_list=True)

    def _parse(self, payload: Any) -> tuple[Order, ...]:
        items = _order_items(payload)
        try:
            return self._parse_items(items)
        except RecursionError:
            # Comparing a deeply nested field the parser never reads: parse without reuse.
            self._known = {}
            return _order_list(items, self._account)

    def _parse_items(self, items: list[Any]) -> tuple[Order, ...]:
        account = self._account
        known = self._known.get
        kept: dict[str, tuple[dict[str, Any], Order]] = {}
        orders: list[Order] = []
        append = orders.append
        for raw in items:
            if type(raw) is dict:
                order_id: Any = raw.get("orderId")
                try:
                    entry = known(order_id)
                except TypeError:  # an unhashable orderId: parse_order says what is wrong
                    entry = None
                if entry is not None and entry[0] == raw:
                    kept[order_id] = entry
                    append(entry[1])
                    continue
            order = parse_order(raw, account, in_open_list=True)
            if reusable(raw):
                # A copy: equal to ``raw`` now, and safe from whoever holds ``raw`` changing it.
                kept[order.order_id] = (dict(raw), order)
            append(order)
        self._known = kept
        if self._built:
            self._texts, self._built = [], []
        return tuple(orders)


def read_partial(
    payload: StreamItem | Any, account: AccountKey
) -> tuple[tuple[Order, ...], tuple[str, ...]]:
    """An ``OpenOrders`` item read order by order: the orders that read, and why each of the
    others did not ("order 01JV…: side is not Buy/Sell: 'Long'"). For an item that
    ``parse_open_orders`` refuses: what it holds that can still be trusted. Raises
    ``MalformedFrame`` only when the item is not a list of orders at all."""
    check_account(account)
    try:
        exact = _exact_payload(payload)
    except MalformedFrame:  # the record text cannot be re-read: the decoded item is all there is
        exact = payload.item if isinstance(payload, StreamItem) else payload
    orders: list[Order] = []
    unreadable: list[str] = []
    for raw in _order_items(exact):
        try:
            orders.append(_read_one(raw, account))
        except MalformedFrame as exc:
            order_id = raw.get("orderId") if type(raw) is dict else None
            where = f"order {short(order_id)}" if type(order_id) is str else "an order"
            unreadable.append(f"{where}: {exc}")
    return tuple(orders), tuple(unreadable)


@guarded
def _read_one(raw: Any, account: AccountKey) -> Order:
    try:
        return parse_order(raw, account, in_open_list=True)
    except InexactNumber:
        return parse_order(_floats_to_decimals(raw), account, in_open_list=True)


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ListWaiting:
    """A complete order list of ``trading_id`` arrived and waits: read it with
    ``StreamParser.take_list`` (a newer one arriving first replaces it)."""

    trading_id: str


@dataclass(frozen=True, slots=True)
class OrderList:
    """A trading account's orders from its ``OpenOrders`` stream.

    ``complete``: the account's whole open set (put it in a ``Snapshot``); otherwise changes only
    (delta streams, §3.7: an order whose status is not open has closed). ``first``: the first
    list of a new subscription (the venue's truth of now, not how the stream went on).
    ``unreadable``: why some orders of the item could not be read; the list is then not
    complete whatever the stream's kind (what it lacks may be among those), and ``orders`` are
    the ones that read. ``due_first``: it came where a subscription's first list was due (the
    answer to a subscription could not be read whole: ask again).
    """

    trading_id: str
    account: AccountKey
    orders: tuple[Order, ...]
    complete: bool
    first: bool
    unreadable: tuple[str, ...] = ()
    invocation: str = ""  # the subscription it came on
    due_first: bool = False


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The hub ended the ``OpenOrders`` stream of ``trading_id`` (a Completion, with the hub's
    ``error`` or none); the account waits for a first list again once subscribed again.
    ``name`` is the trading account as the table names it (its id if it has no key)."""

    trading_id: str
    name: str
    error: str | None


@dataclass(frozen=True, slots=True)
class HubClosed:
    """The hub closes the connection (a Close message, §3.4)."""

    error: str | None
    allow_reconnect: bool

    @property
    def token_refused(self) -> bool:
        """The hub turned the JWT away: exchange the API token again before reconnecting."""
        return self.error is not None and _TOKEN_REFUSED.search(self.error) is not None

    @property
    def reason(self) -> str:
        return f"the account hub closed the connection: {self.error or 'no reason given'}"


StreamEvent = HandshakeResponse | ListWaiting | OrderList | StreamEnded | HubClosed


class UnreadableList(MalformedFrame):
    """A trading account's order list that is not what the protocol says: its rows may be out
    of date. ``str()`` is the reason."""

    def __init__(
        self, reason: str, trading_id: str, account: AccountKey, due_first: bool = False
    ) -> None:
        super().__init__(reason)
        self.trading_id = trading_id
        self.account = account
        self.due_first = due_first  # it came where a subscription's first list was due


# -- the connection ----------------------------------------------------------------------------
class StreamParser:
    """The account hub of one login, sans-I/O: ``feed`` frames, then ``next_event`` until None.

    ``account`` is the login's key; ``use_accounts`` gives the trading accounts (accountId →
    their own keys). ``start()`` begins a connection; ``subscribe``/``resubscribe``/
    ``unsubscribe`` return the records to send. ``delta``: the venue streams changes only after
    the first list (§3.7).

    Each subscription's first list is the venue's truth of the moment it was asked for
    (``OrderList.first``). A re-subscription (a check) asks for a new one without a gap: the
    old stream goes on counting until the new one's first list has been read, and is ignored
    from then on. Lists are handed out in the order they came, except that of several complete
    lists of one account in a row only the newest needs reading (``ListWaiting``) — never
    across a first list.

    ``next_event`` raises ``MalformedFrame`` for one bad record (``signalr.MalformedRecord``:
    skip it, call again; ``signalr.RecordTooLarge``: drop the connection) or one order list
    that is not a list at all (``UnreadableList``); the events of the other records are kept.
    A list with some unreadable orders is an ``OrderList`` that says so (``unreadable``).
    """

    def __init__(
        self, account: AccountKey, *, delta: bool = False, max_partial: int = MAX_PARTIAL_RECORD
    ) -> None:
        check_account(account)
        self.account = account
        self.delta = delta
        self._decoder = signalr.Decoder(max_partial)
        self._keys: dict[str, AccountKey] = {}  # trading account id → its key
        self._parsers: dict[str, OpenOrdersParser] = {}  # reuse the orders of the last list
        self._streams: dict[str, str] = {}  # invocation id → trading account id
        self._invocations = signalr.InvocationIds()
        self._unlisted: set[str] = set()  # invocations whose first list was not read yet
        self._retiring: set[str] = set()  # cancelled by a check: counting until it lists
        self._muted: set[str] = set()  # a delta stream whose first list could not be read
        self._waiting: dict[str, StreamItem] = {}  # complete lists not read yet
        self._ahead: deque[StreamItem] = deque()  # items to read before the next record
        # per trading account: orders a cancel reply said are closed, while lists that were
        # sent before that reply may still list them
        self._closed: dict[str, set[str]] = {}

    # -- trading accounts and subscriptions -------------------------------------------------------
    def use_accounts(self, keys: Mapping[str, AccountKey]) -> None:
        """The trading accounts (accountId → key) whose streams this connection carries."""
        self._keys = dict(keys)

    def start(self) -> None:
        """A new connection: expect the handshake answer, no streams yet, every trading account
        waiting for its first list."""
        self._decoder.reset()
        self._streams.clear()
        self._unlisted.clear()
        self._retiring.clear()
        self._muted.clear()
        self._waiting.clear()
        self._ahead.clear()
        self._closed.clear()  # a new connection's lists are the venue's truth of now
        self._invocations = signalr.InvocationIds()

    @property
    def handshake(self) -> HandshakeResponse | None:
        """The hub's handshake answer, once it came."""
        return self._decoder.handshake

    @property
    def all_listed(self) -> bool:
        """Every trading account has a stream whose first list has been read."""
        listed = {tid for inv, tid in self._streams.items() if inv not in self._unlisted}
        return all(tid in listed for tid in self._keys)

    def subscribed(self, trading_id: str) -> bool:
        return trading_id in self._streams.values()

    def subscribe(self, trading_id: str) -> str:
        """The record that (re)subscribes ``trading_id``'s ``OpenOrders`` stream; its first list
        replaces the account's rows."""
        invocation = self._invocations.next()
        self._streams[invocation] = trading_id
        self._unlisted.add(invocation)
        return open_orders_subscription(invocation, trading_id)

    def newest(self, trading_id: str) -> str | None:
        """The invocation id of ``trading_id``'s newest subscription, if any."""
        found = [inv for inv, tid in self._streams.items() if tid == trading_id]
        return max(found, key=invocation_number) if found else None

    def resubscribe(self, trading_id: str) -> list[str]:
        """The records that ask for a fresh complete list of ``trading_id`` (a check): a new
        subscription, then the end of the ones before it. Their items still count until the
        new first list has been read, so no change falls between the two."""
        old = [inv for inv, tid in self._streams.items() if tid == trading_id]
        records = [self.subscribe(trading_id)]
        for invocation in old:
            self._retiring.add(invocation)
            records.append(signalr.cancel_invocation(invocation))
        return records

    def unsubscribe(self, trading_id: str) -> list[str]:
        """The records that stop ``trading_id``'s streams (their items are ignored from now)."""
        records = []
        for invocation, tid in list(self._streams.items()):
            if tid == trading_id:
                self._forget(invocation)
                records.append(signalr.cancel_invocation(invocation))
        return records

    def _forget(self, invocation: str) -> None:
        self._streams.pop(invocation, None)
        self._unlisted.discard(invocation)
        self._retiring.discard(invocation)
        self._muted.discard(invocation)

    def closed(self, trading_id: str, order_id: str) -> None:
        """The venue answered a cancel of ``order_id`` with a final status: a list that still
        shows it open was sent before that answer, so it does not bring the row back. Forgotten
        once a list no longer shows it (or a change says it closed)."""
        self._closed.setdefault(trading_id, set()).add(order_id)

    def _without_closed(
        self, trading_id: str, orders: tuple[Order, ...], complete: bool
    ) -> tuple[Order, ...]:
        closed = self._closed.get(trading_id)
        if not closed:
            return orders
        if complete:  # what a complete list no longer shows needs no more remembering
            closed &= {o.order_id for o in orders if o.status.is_open}
        else:  # a change that says it closed is the stream catching up
            closed -= {o.order_id for o in orders if not o.status.is_open}
        if not closed:
            del self._closed[trading_id]
            return orders
        return tuple(o for o in orders if o.order_id not in closed or not o.status.is_open)

    # -- frames in, events out --------------------------------------------------------------------
    def feed(self, data: str | bytes | bytearray | memoryview) -> None:
        """Queue the records of one frame (raises only ``signalr.RecordTooLarge``)."""
        self._decoder.feed(data)

    def next_event(self) -> StreamEvent | None:
        """The next event, or ``None`` when no complete record is waiting (see the class)."""
        next_message = self._decoder.next_message
        ahead = self._ahead
        while True:
            message = ahead.popleft() if ahead else next_message()
            if message is None:
                return None
            if type(message) is StreamItem:
                event = self._on_item(message)
                if event is not None:
                    return event
            elif type(message) is Completion:
                invocation = message.invocation_id
                trading_id = self._streams.get(invocation)
                retiring = invocation in self._retiring
                self._forget(invocation)
                if trading_id is not None and not retiring:  # else a stream we cancelled
                    key = self._keys.get(trading_id)
                    name = key.account if key is not None else trading_id
                    return StreamEnded(trading_id, name, message.error)
            elif type(message) is Close:
                return HubClosed(message.error, message.allow_reconnect)
            elif type(message) is HandshakeResponse:
                return message
            # Ping only proves the hub alive; the other messages are not for a client

    def take_list(self, trading_id: str) -> OrderList | None:
        """The complete list of ``trading_id`` that waits (``ListWaiting``), read; ``None`` if
        none waits. Raises ``UnreadableList`` when it is not a list of orders at all."""
        item = self._waiting.pop(trading_id, None)
        if item is None or trading_id not in self._keys:
            return None
        return self._read_list(trading_id, item, complete=True)

    def _on_item(self, item: StreamItem) -> ListWaiting | OrderList | None:
        invocation = item.invocation_id
        trading_id = self._streams.get(invocation)
        if trading_id is None or invocation in self._muted:
            return None  # a stream we stopped
        if self.delta:
            # read at once: the changes that follow build on this item
            return self._read_list(trading_id, item, complete=invocation in self._unlisted)
        unlisted = self._unlisted
        if unlisted and any(self._streams.get(inv) == trading_id for inv in unlisted):
            # A first list is due: read each list as it comes, an older one that waits first.
            older = self._waiting.pop(trading_id, None)
            if older is not None:
                self._ahead.appendleft(item)
                item = older
            return self._read_list(trading_id, item, complete=True)
        already = trading_id in self._waiting
        self._waiting[trading_id] = item
        return None if already else ListWaiting(trading_id)

    def _read_list(self, trading_id: str, item: StreamItem, complete: bool) -> OrderList:
        invocation = item.invocation_id
        first = invocation in self._unlisted
        key = self._keys[trading_id]
        try:
            orders = self._parse(trading_id, item)
        except MalformedFrame as exc:
            if self.delta and first:
                self._muted.add(invocation)  # its changes would build on a list not read
            try:
                orders, unreadable = read_partial(item, key)
            except MalformedFrame:
                raise UnreadableList(str(exc), trading_id, key, first) from None
            if unreadable:
                orders = self._without_closed(trading_id, orders, False)
                return OrderList(
                    trading_id, key, orders, False, False, unreadable, invocation, first
                )
            self._muted.discard(invocation)  # read whole after all, order by order
        if first:
            self._unlisted.discard(invocation)
            for other in [i for i, tid in self._streams.items() if tid == trading_id]:
                if other != invocation and other in self._retiring and _older(other, invocation):
                    self._forget(other)  # the new list supersedes it; its end is no news
        orders = self._without_closed(trading_id, orders, complete)
        return OrderList(trading_id, key, orders, complete, first, (), invocation)

    def _parse(self, trading_id: str, item: StreamItem) -> tuple[Order, ...]:
        key = self._keys[trading_id]
        parser = self._parsers.get(trading_id)
        if parser is None or parser.account != key:
            parser = self._parsers[trading_id] = OpenOrdersParser(key)
        return parser.parse(item)


def invocation_number(invocation: str) -> int:
    """Where an invocation id comes in its connection's count ("0", "1", …; -1 for another)."""
    return int(invocation) if invocation.isdigit() else -1


def _older(invocation: str, than: str) -> bool:
    """Whether ``invocation`` was subscribed before ``than`` (ids count up per connection)."""
    return invocation_number(invocation) < invocation_number(than)
